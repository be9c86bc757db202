#!/usr/bin/env bash
# Every test: installs what is needed, builds, runs the whole CTest suite, then the suite under
# ASan+UBSan, the fuzz targets, and the suite under ThreadSanitizer.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build_dir="${KAGURA_BUILD_DIR:-$root/build}"

"$root/scripts/install_deps.sh"
# Benchmarks and examples are built too (not run), so that CI catches a change that breaks them.
"$root/scripts/build.sh" -DKAGURA_BUILD_TESTS=ON -DKAGURA_BUILD_BENCHMARKS=ON \
  -DKAGURA_BUILD_EXAMPLES=ON

cd "$build_dir"
ctest --output-on-failure --parallel "$(nproc)" --timeout 300

# The suite again under ASan+UBSan, then every fuzz target for 10 s from its corpus, both from
# one clang build, then the suite under ThreadSanitizer (docs/reliability.md).
# KAGURA_CI_SANITIZERS=0 leaves all three out, for a quicker run.
if [ "${KAGURA_CI_SANITIZERS:-1}" != 0 ]; then
  "$root/scripts/test_sanitizers.sh" address
  "$root/scripts/fuzz.sh" 10
  "$root/scripts/test_sanitizers.sh" thread
fi
