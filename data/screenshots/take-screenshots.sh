#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Takes the screenshots that the metainfo and README show, from the real
# app: it runs under a private X server and session bus, a phone simulator
# with generated chats pairs by scanning the window's code, and the app's
# own D-Bus actions (app.open-chat, app.show-calls, app.search,
# app.preferences) bring up each view. Writes data/screenshots/*.png.
#
#   data/screenshots/take-screenshots.sh [BUILD_DIR]   (default: _build)
set -eu
cd "$(dirname "$0")/../.."
build=$(realpath "${1:-_build}")
out=$PWD/data/screenshots

# A private X server and session bus, so a desktop session is never touched.
if [ -z "${COMPANION_SCREENSHOT_SESSION:-}" ]; then
  export COMPANION_SCREENSHOT_SESSION=1
  for tool in xvfb-run dbus-run-session import xwininfo convert gdbus; do
    command -v $tool >/dev/null || { echo "$tool is not installed" >&2; exit 1; }
  done
  exec dbus-run-session -- xvfb-run -a -s "-screen 0 1280x900x24" bash "$0" "$build"
fi

app_id=$(sed -n 's/^#define APP_ID "\(.*\)"$/\1/p' "$build/config.h")
object_path=/$(echo "$app_id" | tr . /)
work=$(mktemp -d)
app_pid=
cleanup() {
  [ -n "$app_pid" ] && kill "$app_pid" 2>/dev/null || true
  exec 3>&- 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# Everything the app keeps goes to the work folder; settings stay in memory.
export HOME=$work/home XDG_DATA_HOME=$work/data XDG_CONFIG_HOME=$work/config XDG_CACHE_HOME=$work/cache
export XDG_STATE_HOME=$work/state
mkdir -p "$HOME" "$XDG_DATA_HOME" "$XDG_CONFIG_HOME" "$XDG_CACHE_HOME" "$XDG_STATE_HOME"
export GSETTINGS_BACKEND=memory GSETTINGS_SCHEMA_DIR=$build/data
export SECRET_BACKEND=file SECRET_FILE_TEST_PATH=$work/keyring SECRET_FILE_TEST_PASSWORD=screenshots
export GDK_BACKEND=x11 GSK_RENDERER=cairo NO_AT_BRIDGE=1 ADW_DISABLE_PORTAL=1 GTK_USE_PORTAL=0
export LC_ALL=C.UTF-8 LANGUAGE=en TZ=UTC

port=$((47500 + RANDOM % 400))
"$build/src/app/companion" --listen "127.0.0.1:$port" > "$work/app.log" 2>&1 &
app_pid=$!

window_id() {
  xwininfo -root -tree | sed -n "s/^ *\(0x[0-9a-f]*\) \"$1\".*/\1/p" | head -n 1
}

# Saves the top-level window titled TITLE as NAME.png: at most 1000 px wide,
# a 256-colour palette to keep it small.
shoot() {
  local title=$1 name=$2 id
  sleep 1.5
  id=$(window_id "$title")
  [ -n "$id" ] || { cat "$work/app.log"; echo "No window “$title”" >&2; exit 1; }
  import -window "$id" "$work/raw.png"
  convert "$work/raw.png" -resize '1000x1000>' -strip -colors 256 -define png:compression-level=9 "PNG8:$out/$name.png"
  echo "$name.png: $(identify -format '%wx%h' "$out/$name.png"), $(($(stat -c %s "$out/$name.png") / 1024)) KiB"
}

action() {
  gdbus call --session --dest "$app_id" --object-path "$object_path" \
    --method org.gtk.Actions.Activate "$1" "$2" '{}' > /dev/null
}

# Pairing: the phone scans a screenshot of the whole screen, as a camera would.
mkfifo "$work/phone-in"
exec 3<>"$work/phone-in"
paired=
for _ in $(seq 1 40); do
  sleep 0.5
  kill -0 "$app_pid" 2>/dev/null || { cat "$work/app.log"; echo "companion exited" >&2; exit 1; }
  import -window root "$work/screen.png" 2>/dev/null || continue
  rm -rf "$work/phone"
  "$build/src/phone/companion-phone" scan "$work/screen.png" --json --state-dir "$work/phone" \
    --name "Pixel 8" --generate chats=14,messages=600,media=12,calls=40,seed=11 \
    <&3 > "$work/phone.json" 2> "$work/phone.err" &
  phone_pid=$!
  for _ in $(seq 1 100); do
    grep -q '"event":"connected"' "$work/phone.json" 2>/dev/null && break
    kill -0 "$phone_pid" 2>/dev/null || break
    sleep 0.1
  done
  if grep -q '"event":"connected"' "$work/phone.json"; then
    paired=1
    break
  fi
  wait "$phone_pid" || true
done
[ -n "$paired" ] || { cat "$work/app.log" "$work/phone.err"; echo "The phone could not pair" >&2; exit 1; }

# Once the first sync is done, start the app again, as on any later day:
# the pairing's toast, which waits for a focused window, is gone, and the
# phone reconnects by itself.
sleep 5
kill "$app_pid"
wait "$app_pid" || true
"$build/src/app/companion" --listen "127.0.0.1:$port" > "$work/app.log" 2>&1 &
app_pid=$!
for _ in $(seq 1 100); do
  [ "$(grep -c '"event":"connected"' "$work/phone.json")" -ge 2 ] && break
  sleep 0.1
done
sleep 2
echo '{"type":"message-in","chat":"ch-1","text":"Are we still on for tonight? 🍕"}' >&3
echo '{"type":"call","from":"ct-2","kind":"video","missed":true}' >&3
sleep 1

action open-chat "[<'ch-1'>]"
shoot Companion chats
action show-calls "@av []"
shoot Companion calls
action search "[<'dinner'>]"
shoot Companion search
action preferences "@av []"
shoot Preferences preferences

echo '{"type": "quit"}' >&3
wait "$phone_pid" || true
