#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Builds Companion twice (plain, and with AddressSanitizer and
# UndefinedBehaviorSanitizer), runs the whole suite in each, and ends with
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
