#!/usr/bin/env bash
# Fuzzes every parser of outside input (fuzz/*_fuzzer.cpp) with libFuzzer:
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET]   (default 20)
#
# Builds the fuzz targets into build-asan/ (or $KAGURA_ASAN_BUILD_DIR), the ASan+UBSan build
# that scripts/test_sanitizers.sh address shares (scripts/sanitizers/configure.sh), then runs
# each one for the given time, starting from its seed corpus in fuzz/corpus/<target>/. New
# inputs go to a temporary directory, never into the committed corpus. Fails on any crash, leak,
# UB or timeout, and leaves the input that caused it in build-asan/findings/<target>/
# (reproduce with: build-asan/fuzz/<target>_fuzzer FILE).
# KAGURA_FUZZ_TARGETS="sse_parser dotenv" runs only those.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
seconds="${1:-20}"
build_dir="${KAGURA_ASAN_BUILD_DIR:-$root/build-asan}"
if ! [[ "$seconds" =~ ^[1-9][0-9]*$ ]]; then
  echo "fuzz.sh: '$seconds' is not a number of seconds per target; e.g. scripts/fuzz.sh 20" >&2
  exit 2
fi
"$root/scripts/sanitizers/configure.sh" address "$build_dir"
cmake --build "$build_dir" --parallel "$(nproc)" --target kagura_fuzzers

targets=()
if [ -n "${KAGURA_FUZZ_TARGETS:-}" ]; then
  read -r -a targets <<<"$KAGURA_FUZZ_TARGETS"
else
  for source in "$root"/fuzz/*_fuzzer.cpp; do
    name="$(basename "$source" .cpp)"
    targets+=("${name%_fuzzer}")
  done
fi

export ASAN_OPTIONS="${ASAN_OPTIONS:-halt_on_error=1:detect_leaks=1:abort_on_error=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
failed=()
printf '%-20s %12s %10s %8s\n' target executions exec/s corpus
for target in "${targets[@]}"; do
  binary="$build_dir/fuzz/${target}_fuzzer"
  corpus="$root/fuzz/corpus/$target"
  if [ ! -x "$binary" ] || [ ! -d "$corpus" ]; then
    echo "fuzz.sh: no fuzz target '$target' (fuzz/${target}_fuzzer.cpp and fuzz/corpus/$target/)" >&2
    failed+=("$target")
    continue
  fi
  findings="$build_dir/findings/$target"
  mkdir -p "$work/$target" "$findings"
  options=(-max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
           -artifact_prefix="$findings/")
  [ -f "$root/fuzz/$target.dict" ] && options+=(-dict="$root/fuzz/$target.dict")
  log="$work/$target.log"
  status=0
  "$binary" "${options[@]}" "$work/$target" "$corpus" >"$log" 2>&1 || status=$?
  runs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)"
  rate="$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)"
  units="$(find "$work/$target" -type f | wc -l)"
  printf '%-20s %12s %10s %8s\n' "$target" "${runs:-?}" "${rate:-?}" "$units"
  if [ "$status" -ne 0 ]; then
    echo "fuzz.sh: $target failed (exit $status); the input is in $findings/. Its log:" >&2
    grep -v '^#[0-9]' "$log" | tail -60 >&2
    failed+=("$target")
  fi
done

if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz.sh: FAILED: ${failed[*]}" >&2
  exit 1
fi
echo "fuzz.sh: ${#targets[@]} targets, ${seconds}s each, no crash"
