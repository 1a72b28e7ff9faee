#!/bin/sh
# Runs inside the rig's dom0 (started by dom0/init, from the checkout's root):
# the rig's vitest files against the real hypervisor. /rig/out/request names
# the test files to run, one per line (names under test/xen-rig/tests/, checked
# against the files that exist); results go to /rig/out.
set -u
out=/rig/out
here=test/xen-rig
export XEN_RIG=1 RIG_OUT=$out NO_COLOR=1

xl info >"$out/xl-info.txt" 2>&1
node --version >"$out/node-version.txt" 2>&1

set --
while read -r name; do
  case "$name" in
    "" | *[!A-Za-z0-9._-]*) continue ;;
  esac
  if [ -f "$here/tests/$name" ]; then set -- "$@" "$here/tests/$name"; else echo "xen-rig-dom0: no test file $name"; fi
done <"$out/request"
[ $# -gt 0 ] || { echo "xen-rig-dom0: nothing to run"; exit 2; }

# On request (touch OUT/diag-request on the host) a snapshot of dom0's state
# lands in OUT/diag.txt: for a run that seems stuck.
(
  while sleep 10; do
    [ -f "$out/diag-request" ] || continue
    rm -f "$out/diag-request"
    {
      echo "==== $(cut -d' ' -f1 /proc/uptime) s"
      xl list
      ps -eLo pid,tid,stat,wchan:32,args
      for p in $(pgrep -f vitest/dist/workers); do ls -l "/proc/$p/fd"; done
      tail -n 20 /var/log/xen/*.log
    } >>"$out/diag.txt" 2>&1
  done
) &
diag=$!

echo "xen-rig-dom0: running $*"
node node_modules/vitest/vitest.mjs run --configLoader runner --config "$here/vitest.config.ts" \
  --reporter=verbose --reporter=json --outputFile.json="$out/vitest.json" "$@" 2>&1 | tee "$out/vitest.log"
# The pipeline's status is tee's: vitest's verdict is read from its JSON report.
status=1
if [ -f "$out/vitest.json" ]; then
  node -e 'const r=JSON.parse(require("fs").readFileSync(process.argv[1],"utf8"));process.exit(r.success&&r.numFailedTests===0?0:1)' "$out/vitest.json"
  status=$?
fi
kill "$diag" 2>/dev/null
cp /var/log/xen/console/*.log "$out/" 2>/dev/null
cp /var/log/xen/*.log "$out/" 2>/dev/null
# The tests clear Xen's log as they read it (rig.ts takeXenLog), keeping it here.
xl dmesg >>"$out/xen-dmesg.txt" 2>&1
exit "$status"
