#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Starts the real GUI under X in light and dark style, screenshots the whole
# screen as a camera would see it, and has companion-phone decode the code.
# The decoded key must be the one the window says it shows.
set -eu

# Always a private X server, so a desktop session is never disturbed.
if [ -z "${COMPANION_IN_XVFB:-}" ]; then
  export COMPANION_IN_XVFB=1
  command -v xvfb-run >/dev/null || { echo "# xvfb-run is not installed"; exit 77; }
  exec xvfb-run -a -s "-screen 0 1280x900x24" bash "$0" "$@"
fi
command -v import >/dev/null || { echo "# ImageMagick's import is not installed"; exit 77; }

export GDK_BACKEND=x11 GSK_RENDERER=cairo GTK_A11Y=test NO_AT_BRIDGE=1
work=$(mktemp -d)
pid=
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

port=47381
for scheme in default prefer-light prefer-dark; do
  port=$((port + 1))
  G_MESSAGES_DEBUG=companion-window ADW_DEBUG_COLOR_SCHEME=$scheme \
    "$COMPANION_APP" --state-dir "$work/state-$scheme" --listen "127.0.0.1:$port" \
    > "$work/app.log" 2>&1 &
  pid=$!

  decoded=
  for _ in $(seq 1 60); do
    sleep 0.5
    kill -0 "$pid" 2>/dev/null || { cat "$work/app.log"; echo "companion exited early ($scheme)"; exit 1; }
    import -window root "$work/shot.png" 2>/dev/null || continue
    if "$COMPANION_PHONE" scan "$work/shot.png" --json --state-dir "$work/phone" > "$work/scan.json" 2>/dev/null; then
      decoded=1
      break
    fi
  done
  kill "$pid"
  wait "$pid" || true
  pid=

  if [ -z "$decoded" ]; then
    cat "$work/app.log"
    echo "No pairing code could be decoded from a screenshot of the window ($scheme)"
    exit 1
  fi

  shown=$(sed -n 's/.*Showing the pairing code of desktop key \([0-9a-f-]*\).*/\1/p' "$work/app.log" | tail -n 1)
  scanned=$(sed -n 's/.*"key_fingerprint":"\([0-9a-f-]*\)".*/\1/p' "$work/scan.json")
  address=$(sed -n 's/.*"addresses":\["\([^"]*\)".*/\1/p' "$work/scan.json")
  echo "# $scheme: window shows $shown, phone decoded $scanned at $address"
  [ -n "$shown" ] && [ "$shown" = "$scanned" ] || { echo "The decoded key is not the one shown"; exit 1; }
  [ "$address" = "127.0.0.1:$port" ] || { echo "The decoded address is $address, not 127.0.0.1:$port"; exit 1; }
  if grep -q CRITICAL "$work/app.log" || grep -q WARNING "$work/app.log"; then
    cat "$work/app.log"; echo "The app logged a warning ($scheme)"; exit 1
  fi
done
echo "# every style decoded"
