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
cli_pid=
cleanup() {
  [ -n "$cli_pid" ] && kill "$cli_pid" 2>/dev/null && wait "$cli_pid" 2>/dev/null || true
  rm -rf "$demo"
}
trap cleanup EXIT

echo
echo "== Desktop: companion-cli pair --qr-png (the code it shows)"
_build/src/cli/companion-cli pair --state-dir "$demo/desktop" --listen 127.0.0.1:47390 \
  --qr-png "$demo/qr.png" > "$demo/cli.out" &
cli_pid=$!
for _ in $(seq 1 100); do
  [ -s "$demo/qr.png" ] && grep -q "Scan this code" "$demo/cli.out" && break
  sleep 0.1
done
cat "$demo/cli.out"

echo "== Phone: companion-phone scan (decoding that PNG with zbar)"
_build/src/phone/companion-phone scan "$demo/qr.png" --state-dir "$demo/phone"
echo
echo "The phone read the desktop's one-time key and addresses from the image."
