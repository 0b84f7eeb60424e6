#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Starts the real GUI under X in light and dark style, screenshots the whole
# screen as a camera would see it, and has companion-phone pair from that
# image: the decoded key must be the one the window shows, and both sides
# must show the same safety code and see the connection.
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

export SECRET_BACKEND=file SECRET_FILE_TEST_PATH="$work/keyring" SECRET_FILE_TEST_PASSWORD=test

port=47381
for scheme in default prefer-light prefer-dark; do
  port=$((port + 1))
  G_MESSAGES_DEBUG=companion-window ADW_DEBUG_COLOR_SCHEME=$scheme \
    "$COMPANION_APP" --state-dir "$work/state-$scheme" --listen "127.0.0.1:$port" \
    > "$work/app.log" 2>&1 &
  pid=$!

  # The phone pairs as soon as one screenshot decodes, then waits for "quit".
  rm -f "$work/phone-in" "$work/phone.json"
  mkfifo "$work/phone-in"
  exec 3<>"$work/phone-in"
  paired=
  # Up to a minute: on a loaded machine the first frames come late.
  for _ in $(seq 1 120); do
    sleep 0.5
    kill -0 "$pid" 2>/dev/null || { cat "$work/app.log"; echo "companion exited early ($scheme)"; exit 1; }
    import -window root "$work/shot.png" 2>/dev/null || continue
    "$COMPANION_PHONE" scan "$work/shot.png" --json --state-dir "$work/phone-$scheme" \
      --name "Screenshot Phone" <&3 > "$work/phone.json" 2>"$work/phone.err" &
    phone=$!
    for _ in $(seq 1 100); do
      grep -q '"event":"connected"' "$work/phone.json" 2>/dev/null && break
      kill -0 "$phone" 2>/dev/null || break
      sleep 0.1
    done
    if grep -q '"event":"connected"' "$work/phone.json"; then
      paired=1
      break
    fi
    wait "$phone" || true
  done
  [ -n "$paired" ] || { cat "$work/app.log" "$work/phone.err"; echo "The phone could not pair from a screenshot ($scheme)"; exit 1; }
  sleep 0.3
  echo '{"type": "quit"}' >&3
  wait "$phone"
  exec 3>&-
  kill "$pid"
  wait "$pid" || true
  pid=

  shown=$(sed -n 's/.*Showing the pairing code of desktop key \([0-9a-f-]*\).*/\1/p' "$work/app.log" | tail -n 1)
  scanned=$(sed -n 's/.*"key_fingerprint":"\([0-9a-f-]*\)".*/\1/p' "$work/phone.json")
  desk_code=$(sed -n 's/.*Paired with Screenshot Phone, safety code \([0-9]*\).*/\1/p' "$work/app.log")
  phone_code=$(sed -n 's/.*"event":"paired".*"safety_code":"\([0-9]*\)".*/\1/p' "$work/phone.json")
  echo "# $scheme: window showed $shown, phone decoded $scanned; safety codes $desk_code / $phone_code"
  [ -n "$shown" ] && [ "$shown" = "$scanned" ] || { echo "The decoded key is not the one shown"; exit 1; }
  [ ${#desk_code} -eq 6 ] && [ "$desk_code" = "$phone_code" ] || { echo "The safety codes differ"; exit 1; }
  grep -q "A phone is pairing" "$work/app.log" || { cat "$work/app.log"; echo "The window never showed the pairing under way"; exit 1; }
  grep -q "Connected to Screenshot Phone" "$work/app.log" || { cat "$work/app.log"; echo "The window never saw the phone connect"; exit 1; }
  if grep -q CRITICAL "$work/app.log" || grep -q WARNING "$work/app.log"; then
    cat "$work/app.log"; echo "The app logged a warning ($scheme)"; exit 1
  fi
done
echo "# every style decoded and paired"
