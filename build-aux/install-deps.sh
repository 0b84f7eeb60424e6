#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Installs the Debian 12 packages that building, running and testing need,
# only those that are missing: quick when everything is there.
set -euo pipefail

packages=(
  meson ninja-build pkg-config gcc python3 gettext
  libglib2.0-dev libglib2.0-bin libgtk-4-dev libadwaita-1-dev libsoup-3.0-dev
  libjson-glib-dev libsodium-dev libsqlite3-dev libqrencode-dev libzbar-dev
  libpng-dev libsecret-1-dev
  desktop-file-utils appstream flatpak-builder
  xvfb xauth imagemagick fonts-cantarell adwaita-icon-theme dbus-daemon
)
# The fuzz pass (clang with libFuzzer); where these names do not exist the
# pass is skipped, nothing else.
optional=(clang libclang-rt-14-dev)

installed () {
  [ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null || true)" = installed ]
}
missing=()
for package in "${packages[@]}"; do
  installed "$package" || missing+=("$package")
done
missing_optional=()
for package in "${optional[@]}"; do
  installed "$package" || missing_optional+=("$package")
done
[ ${#missing[@]} -eq 0 ] && [ ${#missing_optional[@]} -eq 0 ] && exit 0

echo "Installing: ${missing[*]} ${missing_optional[*]}" >&2
if [ "$(id -u)" -eq 0 ]; then
  as_root=()
elif command -v sudo >/dev/null; then
  as_root=(sudo)
else
  echo "These packages are missing and there is no sudo to install them: ${missing[*]} ${missing_optional[*]}" >&2
  [ ${#missing[@]} -eq 0 ] && exit 0
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" apt-get update -q >&2
if [ ${#missing[@]} -gt 0 ]; then
  "${as_root[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
fi
if [ ${#missing_optional[@]} -gt 0 ]; then
  "${as_root[@]}" apt-get install -y -q --no-install-recommends "${missing_optional[@]}" >&2 ||
    echo "Could not install ${missing_optional[*]}: the fuzz pass will be skipped" >&2
fi
