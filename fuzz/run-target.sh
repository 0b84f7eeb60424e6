#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Runs one libFuzzer target: EXE NAME FUZZ_DIR WORK_DIR [SECONDS]. New
# inputs go to WORK_DIR/NAME/corpus (never into the source tree), findings
# to WORK_DIR/NAME/findings; the seeds in FUZZ_DIR/corpus/NAME are read
# only. Prints one line "NAME: N executions in S s, N findings" and fails
# when libFuzzer found anything.
set -uo pipefail
exe=$1 name=$2 fuzz_dir=$3 work=$4/$2 seconds=${5:-${FUZZ_SECONDS:-10}}

mkdir -p "$work/corpus" "$work/findings"
args=(-max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=65536
      -artifact_prefix="$work/findings/" -print_final_stats=1)
[ -f "$fuzz_dir/dict/$name.dict" ] && args+=(-dict="$fuzz_dir/dict/$name.dict")
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$fuzz_dir/../tests/lsan.supp}
# Targets that need files (fixture, qr-image) make them under TMPDIR, one
# folder per target; in memory where possible, as SQLite syncs every store.
if [ -d /dev/shm ] && [ -w /dev/shm ]; then
  export TMPDIR=$(mktemp -d "/dev/shm/companion-fuzz-$name.XXXXXX")
  trap 'rm -rf "$TMPDIR"' EXIT
else
  export TMPDIR="$work/tmp"
  mkdir -p "$TMPDIR"
fi

"$exe" "${args[@]}" "$work/corpus" "$fuzz_dir/corpus/$name" >"$work/log" 2>&1
status=$?
runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/log" | tail -1)
time=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$work/log" | tail -1)
findings=$(find "$work/findings" -type f | wc -l)
echo "$name: ${runs:-0} executions in ${seconds} s (${time:-0}/s), $findings findings"
if [ $status -ne 0 ] || [ "$findings" -ne 0 ]; then
  tail -60 "$work/log"
  exit 1
fi
