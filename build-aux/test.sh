#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Builds Companion twice (plain, and with AddressSanitizer and
# UndefinedBehaviorSanitizer), runs the whole suite in each, runs the fuzz
# regression pass where clang has libFuzzer (fuzz/run.sh), and ends with
# one line "N passed, N failed, N skipped" counted from meson's test logs.
# Exits non-zero if anything failed. `--plain` runs the plain build only.
set -uo pipefail
cd "$(dirname "$0")/.."

build-aux/install-deps.sh || exit 1

builds=("_build:" "_build-sanitize:-Db_sanitize=address,undefined -Dbuildtype=debug")
[ "${1:-}" = "--plain" ] && builds=("${builds[0]}")

status=0
logs=()
for entry in "${builds[@]}"; do
  dir=${entry%%:*}
  options=${entry#*:}
  echo "== $dir ${options:-(plain)}"
  if [ ! -f "$dir/build.ninja" ]; then
    # shellcheck disable=SC2086
    meson setup "$dir" $options >"$dir.setup.log" 2>&1 || { cat "$dir.setup.log"; status=1; continue; }
    rm -f "$dir.setup.log"
  fi
  ninja -C "$dir" >"$dir.ninja.log" 2>&1 || { cat "$dir.ninja.log"; status=1; continue; }
  if grep -q "warning:" "$dir.ninja.log"; then
    grep "warning:" "$dir.ninja.log"
    echo "The build printed warnings: they count as a failure" >&2
    status=1
  fi
  rm -f "$dir.ninja.log"
  rm -f "$dir/meson-logs/testlog.json"
  meson test -C "$dir" --print-errorlogs --num-processes 2 || status=1
  logs+=("$dir/meson-logs/testlog.json")
done

# The fuzz regression pass: a third build (clang with libFuzzer) whose
# `fuzz` suite replays every seed and finding in fuzz/corpus, then fuzzes
# each target for FUZZ_SECONDS (10). Only where clang has libFuzzer.
if [ "${1:-}" != "--plain" ] && command -v clang >/dev/null &&
   echo 'int LLVMFuzzerTestOneInput(const char *d, long n) { return 0; }' |
     clang -fsanitize=fuzzer -x c - -o /dev/null 2>/dev/null; then
  dir=_build-fuzz
  echo "== $dir (clang, libFuzzer)"
  if [ ! -f "$dir/build.ninja" ]; then
    CC=clang meson setup "$dir" -Dfuzzing=true -Dgui=false -Db_sanitize=address,undefined \
      -Db_lundef=false -Dc_args=-fsanitize=fuzzer-no-link >"$dir.setup.log" 2>&1 ||
      { cat "$dir.setup.log"; status=1; }
    rm -f "$dir.setup.log"
  fi
  # Only the targets: the rest of the tree is built and tested above.
  fuzz_targets=$(ninja -C "$dir" -t targets all 2>/dev/null | sed -n 's|^\(fuzz/fuzz-[a-z-]*\): .*|\1|p' | sort -u)
  if [ -f "$dir/build.ninja" ] && ninja -C "$dir" $fuzz_targets >"$dir.ninja.log" 2>&1; then
    rm -f "$dir.ninja.log" "$dir/meson-logs/testlog.json"
    meson test -C "$dir" --no-rebuild --suite fuzz --print-errorlogs --num-processes 2 || status=1
    logs+=("$dir/meson-logs/testlog.json")
  else
    [ -f "$dir.ninja.log" ] && cat "$dir.ninja.log"
    status=1
  fi
else
  echo "== fuzz pass skipped (no clang with libFuzzer)"
fi

# Count from meson's own logs (testlog.json holds the environment too: only
# the results are read, nothing else is printed).
python3 - "${logs[@]}" <<'PY' || status=1
import json, sys
passed = failed = skipped = 0
for path in sys.argv[1:]:
    try:
        lines = open(path, encoding='utf-8').read().splitlines()
    except OSError:
        failed += 1
        continue
    for line in lines:
        result = json.loads(line)['result']
        if result in ('OK', 'EXPECTEDFAIL'):
            passed += 1
        elif result == 'SKIP':
            skipped += 1
        else:
            failed += 1
print(f'{passed} passed, {failed} failed, {skipped} skipped')
sys.exit(1 if failed or passed == 0 else 0)
PY
exit $status
