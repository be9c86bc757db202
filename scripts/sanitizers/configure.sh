#!/usr/bin/env bash
# Configures a sanitized clang build of Kagura; scripts/test_sanitizers.sh and scripts/fuzz.sh
# both use it, so that they share one build directory and never rebuild it with other flags:
#
#   scripts/sanitizers/configure.sh address|thread BUILD_DIR
#
# address: ASan + UBSan with libFuzzer's coverage instrumentation (KAGURA_FUZZ), so that the
# same objects serve the test suite and the fuzz targets; thread: TSan. -O1 and line tables only
# (enough for symbolized reports) build much faster than -O2 -g. Benchmarks and examples are
# not tests and are left out.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
mode="${1:-}"
build_dir="${2:-}"
case "$mode" in
  address) instrumentation=(-DKAGURA_FUZZ=ON) ;;
  thread) instrumentation=(-DKAGURA_SANITIZE=thread) ;;
  *)
    echo "configure.sh: '$mode' is not a mode: use address or thread" >&2
    exit 2
    ;;
esac
if [ -z "$build_dir" ]; then
  echo "configure.sh: give the build directory, e.g. configure.sh $mode build-asan" >&2
  exit 2
fi
if ! command -v clang++ >/dev/null 2>&1; then
  echo "configure.sh: clang++ is missing: run scripts/install_deps.sh (it installs clang)" >&2
  exit 1
fi
cmake -S "$root" -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_COMPILER=clang++ "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -gline-tables-only -DNDEBUG" \
  "${instrumentation[@]}" -DKAGURA_BUILD_TESTS=ON -DKAGURA_BUILD_BENCHMARKS=OFF \
  -DKAGURA_BUILD_EXAMPLES=OFF >/dev/null
