#!/usr/bin/env bash
# Configures and builds Kagura into build/ (or $KAGURA_BUILD_DIR).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build_dir="${KAGURA_BUILD_DIR:-$root/build}"
build_type="${KAGURA_BUILD_TYPE:-RelWithDebInfo}"

cmake -S "$root" -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE="$build_type" "$@" >/dev/null
cmake --build "$build_dir" --parallel "$(nproc)"
