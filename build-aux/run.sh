#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Builds Companion and starts it. With no display, runs the headless demo:
# the desktop engine shows a pairing QR code as a PNG and the phone simulator
# decodes that image.
set -euo pipefail
cd "$(dirname "$0")/.."

build-aux/install-deps.sh
[ -f _build/build.ninja ] || meson setup _build >/dev/null
ninja -C _build >/dev/null

export GSETTINGS_SCHEMA_DIR="$PWD/_build/data"
if [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]; then
  exec _build/src/app/companion "$@"
fi

echo "No display: running the headless demo."
demo=$(mktemp -d)
# The demo's keys live in a throwaway keyring file, never in the user's.
export SECRET_BACKEND=file SECRET_FILE_TEST_PATH="$demo/keyring" SECRET_FILE_TEST_PASSWORD=demo
cli_pid=
phone_pid=
cleanup() {
  for pid in $phone_pid $cli_pid; do kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; done
  exec 3>&- 4>&- 2>/dev/null
  rm -rf "$demo"
}
trap cleanup EXIT

wait_for() { # FILE TEXT: wait up to 15 s for TEXT to appear in FILE
  for _ in $(seq 1 150); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
  echo "Gave up waiting for $2 in $1" >&2; cat "$1" >&2; exit 1
}

mkfifo "$demo/cli-in" "$demo/phone-in"
exec 3<>"$demo/cli-in" 4<>"$demo/phone-in"

echo
echo "== Desktop: companion-cli pair (its one-time code, also written as a PNG)"
_build/src/cli/companion-cli pair --state-dir "$demo/desktop" --listen 127.0.0.1:0 \
  --qr-png "$demo/qr.png" <&3 > "$demo/cli.out" 2>"$demo/cli.err" &
cli_pid=$!
wait_for "$demo/cli.out" "Scan this code"
cat "$demo/cli.out"

echo "== Phone: companion-phone scan (zbar reads the PNG, then the two pair and sync)"
_build/src/phone/companion-phone scan "$demo/qr.png" --state-dir "$demo/phone" \
  --name "Demo Phone" --generate chats=40,messages=5000,media=12,calls=80,seed=1 \
  <&4 > "$demo/phone.out" 2>"$demo/phone.err" &
phone_pid=$!
wait_for "$demo/phone.out" "Connected to"
wait_for "$demo/cli.out" "Mirrored up to change"
cat "$demo/phone.out"
echo
echo "== Desktop after pairing: the phone's data is mirrored"
sed -n '/Linked with/,$p' "$demo/cli.out"
echo
echo "== Live: a message arrives on the phone, and one is sent from the desktop"
chat=$(_build/src/phone/companion-phone export --state-dir "$demo/phone" \
  | grep -o '"chats":\[{[^}]*"id":"[^"]*"' | sed 's/.*"id":"//; s/"$//')
messages=$(sed -n 's/.*, \([0-9]*\) messages,.*/\1/p' "$demo/cli.out" | tail -n 1)
echo '{"type": "message-in", "chat": "'"$chat"'", "text": "Are you at your desk?"}' >&4
echo '{"type": "send", "chat": "'"$chat"'", "text": "Yes, answering from the keyboard."}' >&3
wait_for "$demo/cli.out" " $((messages + 2)) messages,"
tail -n 2 "$demo/cli.out"
_build/src/cli/companion-cli export --state-dir "$demo/desktop" > "$demo/desktop.json"
_build/src/phone/companion-phone export --state-dir "$demo/phone" > "$demo/phone.json"
if cmp -s "$demo/desktop.json" "$demo/phone.json"; then
  echo "companion-cli export and companion-phone export are identical ($(wc -c < "$demo/desktop.json") bytes)."
else
  echo "The exports differ!" >&2
  exit 1
fi

echo
echo "== Both restart: they find each other again with Noise KK, no code"
echo '{"type": "quit"}' >&4; wait "$phone_pid"; phone_pid=
echo '{"type": "quit"}' >&3; wait "$cli_pid"; cli_pid=
_build/src/cli/companion-cli run --state-dir "$demo/desktop" <&3 > "$demo/run.out" 2>"$demo/run.err" &
cli_pid=$!
_build/src/phone/companion-phone run --state-dir "$demo/phone" <&4 > "$demo/phone-run.out" 2>"$demo/phone-run.err" &
phone_pid=$!
wait_for "$demo/run.out" "is connected"
wait_for "$demo/phone-run.out" "Connected to"
cat "$demo/run.out" "$demo/phone-run.out"

echo
echo "== The desktop unlinks; the phone is told"
echo '{"type": "unlink"}' >&3
wait "$cli_pid"; cli_pid=
wait_for "$demo/phone-run.out" "Unlinked"
wait "$phone_pid"; phone_pid=
tail -n 1 "$demo/run.out"
tail -n 1 "$demo/phone-run.out"
echo
echo "Paired through a QR image, mirrored, reconnected and unlinked."
