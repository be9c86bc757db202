#!/usr/bin/env bash
# Every test: installs what is needed, builds, and runs the whole CTest suite.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build_dir="${KAGURA_BUILD_DIR:-$root/build}"

"$root/scripts/install_deps.sh"
"$root/scripts/build.sh"

cd "$build_dir"
ctest --output-on-failure --parallel "$(nproc)" --timeout 300

# The suite again under ASan+UBSan and under TSan, then every fuzz target for 10 s
# (docs/reliability.md), with KAGURA_CI_SANITIZERS=1. Off by default: the two sanitized builds
# and the fuzz build take longer on 2 cores than the 30 minutes the whole CI run is kept under.
if [ "${KAGURA_CI_SANITIZERS:-0}" != 0 ]; then
  "$root/scripts/test_sanitizers.sh" all
  "$root/scripts/fuzz.sh" 10
fi
