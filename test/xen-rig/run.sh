#!/bin/bash
# The Xen rig: boots Debian's Xen 4.17 hypervisor with a Debian dom0 inside
# QEMU (TCG, nested SVM+NPT for PVH guests) and runs the rig's tests against
# the real hypervisor there. `npm run test:xen` from the repository root.
#
#   test/xen-rig/run.sh [TEST_FILE...]    (default: every file in tests/)
#
# Environment:
#   XEN_RIG_CACHE    where the dom0 root is cached (default /var/cache/xenfleet-rig)
#   XEN_RIG_OUT      output directory (default: a new /tmp/xenfleet-rig.*)
#   XEN_RIG_TIMEOUT  hard limit on QEMU's run, seconds (default 3000)
#   XEN_RIG_REBUILD  1: rebuild the dom0 root even when cached
#
# Exit status: the tests' (0 all passed), 124 when QEMU hit the time limit,
# anything else when the rig itself failed. See README.md.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
project=$(cd "$here/../.." && pwd)
cache_root=${XEN_RIG_CACHE:-/var/cache/xenfleet-rig}
time_limit=${XEN_RIG_TIMEOUT:-3000}
started=$EPOCHREALTIME

say() { echo "xen-rig: $*" >&2; }
die() {
  say "$*"
  exit 3
}
elapsed() { awk -v a="$started" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }'; }

# Paths end up in QEMU option strings, where a comma is a separator.
safe_path() { [[ $1 =~ ^/[A-Za-z0-9._/+-]+$ ]] || die "unsupported characters in path: $1"; }
safe_path "$project"
safe_path "$cache_root"
[[ $time_limit =~ ^[0-9]+$ ]] || die "XEN_RIG_TIMEOUT must be a number of seconds"

# ---- test selection --------------------------------------------------------
tests=()
if [ $# -gt 0 ]; then
  for t in "$@"; do
    t=${t##*/}
    [[ $t =~ ^[A-Za-z0-9._-]+$ && -f $here/tests/$t ]] || die "no test file tests/$t"
    tests+=("$t")
  done
else
  for f in "$here"/tests/*.test.ts; do tests+=("${f##*/}"); done
fi

# ---- host packages ---------------------------------------------------------
missing=()
for p in qemu-system-x86 debootstrap cpio xen-hypervisor-4.17-amd64; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  [ "$(id -u)" = 0 ] || die "needs root to install ${missing[*]} (and to build the dom0 root)"
  say "installing ${missing[*]}"
  apt-get install -y --no-install-recommends "${missing[@]}" >&2
fi
[ "$(id -u)" = 0 ] || die "needs root (debootstrap, chroot)"

# ---- the project: the addon with libxl -------------------------------------
# The tests run the workspace packages from their TypeScript sources (as every
# package's tests do); only the addon must be built.
[ -f "$project/packages/native/build/Release/xenfleet_native.node" ] || die "native addon not built: run npm ci first"
(cd "$project" && node -e 'const a=require("./packages/native/build/Release/xenfleet_native.node");process.exit(a.libxlBuilt?0:1)') ||
  die "the native addon was built without libxl: install libxen-dev, then rebuild it (npx node-gyp rebuild in packages/native/)"

# ---- the dom0 root, cached by the versions that go into it ----------------
xen_version=$(dpkg-query -W -f='${Version}' xen-hypervisor-4.17-amd64)
candidate() { apt-cache policy "$1" | awk '/Candidate:/ { print $2 }'; }
key=$(
  {
    echo "xen $xen_version"
    echo "linux-image-amd64 $(candidate linux-image-amd64)"
    echo "busybox-static $(candidate busybox-static)"
    sha256sum /usr/bin/node "$here/build-root.sh" "$here/guest/init" | cut -d' ' -f1
  } | sha256sum | cut -c1-16
)
cache=$cache_root/$key
if [ "${XEN_RIG_REBUILD:-0}" = 1 ] || [ ! -f "$cache/dom0.cpio" ]; then
  say "building the dom0 root into $cache (once per package versions)"
  rm -rf "$cache"
  nice -n 10 "$here/build-root.sh" "$cache" "$xen_version"
  say "root built after $(elapsed) s"
fi
say "dom0 root: $cache ($(tr '\n' ';' <"$cache/versions"))"
if [ ! -f "$cache_root/xen-$xen_version" ]; then
  # QEMU loads the gunzipped hypervisor as a multiboot image.
  gunzip -c "/boot/xen-4.17-amd64.gz" >"$cache_root/xen-$xen_version.tmp"
  mv "$cache_root/xen-$xen_version.tmp" "$cache_root/xen-$xen_version"
fi

# ---- this run --------------------------------------------------------------
out=${XEN_RIG_OUT:-$(mktemp -d /tmp/xenfleet-rig.XXXXXX)}
mkdir -p "$out"
out=$(cd "$out" && pwd)
safe_path "$out"
rm -f "$out/status" "$out/vitest.json" "$out/xen-dmesg.txt" "$out/retries.jsonl"
printf '%s\n' "${tests[@]}" >"$out/request"

# The cached root plus this checkout's /init, as one initramfs (the kernel
# unpacks concatenated archives in order).
overlay=$(mktemp -d)
install -m 755 "$here/dom0/init" "$overlay/init"
initrd=$out/dom0-initrd.cpio
cp "$cache/dom0.cpio" "$initrd"
(cd "$overlay" && echo init | cpio -o -H newc --quiet) >>"$initrd"
rm -rf "$overlay"

xen_cmdline="console=com1 com1=115200,8n1 dom0_mem=2560M,max:2560M dom0_max_vcpus=1 noreboot"
dom0_cmdline="console=hvc0 earlyprintk=xen xenfleet.project=$project"

say "booting Xen in QEMU (limit ${time_limit} s; serial log $out/serial.log)"
qemu_started=$EPOCHREALTIME
set +e
timeout --kill-after=15 "$time_limit" nice -n 10 qemu-system-x86_64 \
  -accel tcg,thread=multi -cpu qemu64,+svm,+npt -smp 2 -m 6144 \
  -display none -monitor none -serial stdio -no-reboot \
  -kernel "$cache_root/xen-$xen_version" -append "$xen_cmdline" \
  -initrd "$cache/vmlinuz $dom0_cmdline,$initrd" \
  -virtfs "local,path=$project,mount_tag=project,security_model=none,readonly=on" \
  -virtfs "local,path=$out,mount_tag=rigout,security_model=none" \
  -netdev user,id=net0 -device virtio-net-pci,netdev=net0 \
  </dev/null 2>&1 |
  while IFS= read -r line; do
    printf '[%7s] %s\n' "$(awk -v a="$qemu_started" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')" "$line"
  done | tee "$out/serial.log"
qemu_status=${PIPESTATUS[0]}
set -e
rm -f "$initrd"
say "QEMU exited with $qemu_status after $(elapsed) s in all"

if [ "$qemu_status" = 124 ] || [ "$qemu_status" = 137 ]; then
  say "time limit reached"
  exit 124
fi
[ -f "$out/status" ] || die "dom0 wrote no status (see $out/serial.log)"
status=$(cat "$out/status")
[ -f "$out/timings.jsonl" ] && { say "timings:"; cat "$out/timings.jsonl" >&2; }
[ -f "$out/retries.jsonl" ] && { say "tests repeated after a guest triple fault:"; cat "$out/retries.jsonl" >&2; }
say "tests exited with $status; results in $out"
exit "$status"
