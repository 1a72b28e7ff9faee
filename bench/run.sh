#!/usr/bin/env bash
# Runs bench/NAME.ts from the sources of the workspace packages.
set -euo pipefail
name=${1:?usage: npm run bench -- NAME [ARGS...]}
shift
cd "$(dirname "$0")/.."
exec node --conditions=source --import tsx "bench/$name.ts" "$@"
