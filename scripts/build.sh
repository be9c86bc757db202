#!/usr/bin/env bash
# Configures and builds Kagura into build/ (or $KAGURA_BUILD_DIR).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build_dir="${KAGURA_BUILD_DIR:-$root/build}"
build_type="${KAGURA_BUILD_TYPE:-Release}"

# Release is built with -O2 rather than CMake's -O3: GCC 12 at -O3 floods the build with
# -Wstringop-overflow and -Warray-bounds reports inside libstdc++'s std::string that are false.
# No debug information by default: it doubles the time to compile.
cmake -S "$root" -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE="$build_type" \
  "-DCMAKE_CXX_FLAGS_RELEASE=-O2 -DNDEBUG" "$@" >/dev/null
cmake --build "$build_dir" --parallel "$(nproc)"
