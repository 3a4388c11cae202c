#!/usr/bin/env bash
# Run one of the firmware's libFuzzer harnesses (firmware/fuzz/fuzz_<target>.c) for a while.
#
#   scripts/fuzz.sh --list               the targets, one per line
#   scripts/fuzz.sh TARGET SECONDS [libFuzzer options...]
#
# Builds the `fuzz` CMake preset first (clang, ASan + UBSan; incremental) into $TT_BUILD/fuzz
# (default build/fuzz). The committed seeds, firmware/fuzz/corpus/TARGET, are read but never
# written: new inputs go to $TT_BUILD/fuzz/corpus/TARGET, crashes to
# $TT_BUILD/fuzz/findings/TARGET/. Prints the executions, their rate and the findings of this
# run; exits 1 when there is a finding (copy its file into firmware/fuzz/corpus/TARGET/ as
# crash-<what> once fixed: it becomes a regression input), 2 on a usage error.
set -euo pipefail
cd "$(dirname "$0")/.."

targets() { for f in firmware/fuzz/fuzz_*.c; do f=${f##*/fuzz_}; [ "$f" = common.c ] || echo "${f%.c}"; done; }

if [ "${1:-}" = "--list" ]; then
  targets
  exit 0
fi
if [ $# -lt 2 ] || ! targets | grep -qx "$1" || ! [[ "$2" =~ ^[0-9]+$ ]]; then
  echo "usage: scripts/fuzz.sh --list | TARGET SECONDS [libFuzzer options...]  (targets: $(targets | tr '\n' ' '))" >&2
  exit 2
fi
target=$1
seconds=$2
shift 2

build=${TT_BUILD:-build}/fuzz
mkdir -p "$build"
if { [ -f "$build/CMakeCache.txt" ] || cmake --preset fuzz -B "$build" >"$build/configure.log" 2>&1; } &&
  cmake --build "$build" --target "fuzz_$target" -j2 >"$build/build.log" 2>&1; then :; else
  cat "$build/configure.log" "$build/build.log" 2>/dev/null | tail -30 >&2
  echo "fuzz $target: the build failed (needs clang and libFuzzer: apt-get install clang libclang-rt-14-dev)" >&2
  exit 2
fi

work=$build/corpus/$target
findings=$build/findings/$target
mkdir -p "$work" "$findings"
before=$(find "$findings" -type f | wc -l)
log=$build/fuzz-$target.log
# -timeout: one input running past 10 s is a finding (a hang on the device).
set +e
"$build/firmware/fuzz/fuzz_$target" "$work" "firmware/fuzz/corpus/$target" \
  -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
  -artifact_prefix="$findings/" "$@" >"$log" 2>&1
status=$?
set -e

stat() { sed -n "s/^stat::$1: *//p" "$log" | tail -1; }
after=$(find "$findings" -type f | wc -l)
new=$((after - before))
echo "fuzz $target: $(stat number_of_executed_units) executions in ${seconds} s ($(stat average_exec_per_sec) exec/s), $(stat new_units_added) new inputs, $new findings"
if [ "$status" -ne 0 ] || [ "$new" -ne 0 ]; then
  grep -E "ERROR|runtime error|invariant broken|SUMMARY|Test unit written" "$log" | head -20 >&2
  echo "fuzz $target: FAILED (exit $status); full log: $log; reproduce: $build/firmware/fuzz/fuzz_$target FILE" >&2
  exit 1
fi
