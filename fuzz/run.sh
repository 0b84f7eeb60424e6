#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Builds the libFuzzer targets (clang, AddressSanitizer, UndefinedBehavior-
# Sanitizer, in _build-fuzz) and runs TARGET, or all of them one after the
# other, for SECONDS each (default 60), starting from fuzz/corpus/TARGET.
#
#   fuzz/run.sh all 10           the regression pass CI runs
#   fuzz/run.sh record 1800      one target for half an hour
#
# New inputs are kept in _build-fuzz/fuzz/work/TARGET/corpus (merge the
# interesting ones into fuzz/corpus by hand), findings in .../findings;
# each target ends with one line "TARGET: N executions in S s, N findings".
# Exits non-zero when a target found anything.
set -uo pipefail
cd "$(dirname "$0")/.."

target=${1:-}
seconds=${2:-60}
build=${FUZZ_BUILD_DIR:-_build-fuzz}
if [ -z "$target" ]; then
  sed -n '3,14s/^# \{0,1\}//p' "$0"
  exit 2
fi

if [ ! -f "$build/build.ninja" ]; then
  CC=${CC:-clang} meson setup "$build" -Dfuzzing=true -Dgui=false \
    -Db_sanitize=address,undefined -Db_lundef=false \
    -Dc_args=-fsanitize=fuzzer-no-link >"$build.setup.log" 2>&1 || { cat "$build.setup.log"; exit 1; }
  rm -f "$build.setup.log"
fi
ninja -C "$build" >"$build.ninja.log" 2>&1 || { cat "$build.ninja.log"; exit 1; }
rm -f "$build.ninja.log"

if [ "$target" = all ]; then
  targets=$(ls fuzz/corpus)
else
  targets=$target
fi
status=0
for name in $targets; do
  fuzz/run-target.sh "$build/fuzz/fuzz-$name" "$name" "$PWD/fuzz" "$PWD/$build/fuzz/work" "$seconds" ||
    status=1
done
exit $status
