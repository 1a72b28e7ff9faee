#!/usr/bin/env bash
# What xenfleet needs from the machine, in one place, and the set-up steps that
# `npm run setup`, `npm test` (its pretest) and .ci/run share. Plain bash: it
# runs on a fresh clone, before node_modules exists.
#
#   scripts/deps.sh debs GROUP|PACKAGE...  install the Debian packages that are missing (apt-get,
#                                          as root); not root: print the one command that does, exit 1
#   scripts/deps.sh list GROUP...          print the packages of the groups, one line
#   scripts/deps.sh modules                npm ci, when node_modules is missing or older than package-lock.json
#   scripts/deps.sh redis                  start a Redis at 127.0.0.1:6379 unless one answers there
set -euo pipefail
cd "$(dirname "$0")/.."

# ---- Debian packages, by what needs them ---------------------------------
# Compiling the native addon (node-gyp, at npm ci): a C++ toolchain, BLAKE3's
# C sources (compiled in), libxl's headers (the xen backend).
BUILD="g++ make python3 librust-blake3-dev libxen-dev"
# Running the embedded fleet (xenfleet demo, xenfleet up): a Redis.
RUN="redis-server"
# The tests (npm test): Xen's own stream verifier and converter and its stream
# specs (format conformance), a Redis, redis-sentinel (the failover chaos test)
# Chromium (the dashboard's browser tests drive it with playwright-core) and
# prometheus (promtool checks the metrics' names and format).
TEST="xen-utils-4.17 xen-doc redis-server redis-sentinel chromium prometheus"
# Benchmarks (bench/nightly): restic and borg, the baselines.
BENCH="restic borgbackup"
# The Xen rig (npm run test:xen): QEMU, Xen's hypervisor, and debootstrap and
# cpio to build its dom0.
RIG="qemu-system-x86 debootstrap cpio xen-hypervisor-4.17-amd64"

# GROUP -> packages; anything else is taken as a package name.
packages_of() {
  case "$1" in
    demo) echo "$BUILD $RUN" ;;
    test) echo "$BUILD $TEST" ;;
    bench) echo "$BENCH" ;;
    rig) echo "$RIG" ;;
    ci) echo "$BUILD $RUN $TEST $BENCH $RIG" ;;
    *) echo "$1" ;;
  esac
}

# The packages of the arguments, each once, in order.
packages() {
  local p seen=" " out=()
  for arg in "$@"; do
    for p in $(packages_of "$arg"); do
      [[ $seen == *" $p "* ]] && continue
      seen+="$p "
      out+=("$p")
    done
  done
  echo "${out[*]}"
}

say() { echo "xenfleet setup: $*" >&2; }

debs() {
  local wanted missing=() p
  read -r -a wanted <<<"$(packages "$@")"
  if ! command -v dpkg-query >/dev/null; then
    say "not a Debian system (no dpkg-query): make sure the equivalents of these are installed: ${wanted[*]}"
    return 0
  fi
  for p in "${wanted[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" -ne 0 ]; then
    say "missing Debian packages: ${missing[*]}; install them with:"
    echo "  sudo apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
  say "installing ${missing[*]} (apt-get)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get -o DPkg::Lock::Timeout=120 update -qq
  apt-get -o DPkg::Lock::Timeout=120 install -y -qq "${missing[@]}" >/dev/null
}

modules() {
  local major
  major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
  if [ "$major" -lt 20 ]; then
    say "xenfleet needs Node.js 20 or later; this is $(node --version 2>/dev/null || echo 'no node')"
    exit 1
  fi
  if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    say "installing node_modules (npm ci)"
    npm ci --no-audit --no-fund
  fi
}

# A Redis for the tests and the demo: daemonized, bound to 127.0.0.1, no
# persistence, its pid file and log in .xenfleet/ (as `xenfleet demo` does).
redis() {
  local dir=$PWD/.xenfleet
  redis_answers && return 0
  mkdir -p "$dir"
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
    --dir "$dir" --pidfile "$dir/redis.pid" --logfile "$dir/redis.log"
  for _ in $(seq 1 50); do
    if redis_answers; then
      say "no Redis answered at 127.0.0.1:6379: started redis-server (pid $(cat "$dir/redis.pid" 2>/dev/null || echo '?'), log $dir/redis.log)"
      return 0
    fi
    sleep 0.1
  done
  say "redis-server did not answer at 127.0.0.1:6379; see $dir/redis.log"
  exit 1
}
redis_answers() { redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; }

case "${1:-}" in
  debs)
    shift
    debs "$@"
    ;;
  list)
    shift
    packages "$@"
    ;;
  modules) modules ;;
  redis) redis ;;
  *)
    sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
    exit 2
    ;;
esac
