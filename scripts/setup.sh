#!/usr/bin/env bash
# Installs what Cairn needs on Debian and skips whatever is already there.
#   scripts/setup.sh run    build and run the app and the service
#   scripts/setup.sh test   also what the tests drive: Xvfb, WebKitWebDriver,
#                           tauri-driver, the loopback OAuth server, a D-Bus
#                           bus with GNOME Keyring (the Secret Service), and
#                           PostgreSQL (the tests start throwaway clusters)
set -euo pipefail
cd "$(dirname "$0")/.."
mode="${1:-run}"

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# libdbus-1-dev: sessions go into the Secret Service (the Linux keychain).
packages=(build-essential pkg-config libssl-dev libwebkit2gtk-4.1-dev librsvg2-dev libdbus-1-dev)
if [ "$mode" = test ]; then
  packages+=(xvfb webkit2gtk-driver dbus-daemon dbus-bin gnome-keyring libsecret-tools postgresql)
fi
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
fi

command -v node >/dev/null || { echo "setup: Node.js 20+ with npm is required" >&2; exit 1; }

# npm ci only when the lockfile changed since the last install.
npm_install() {
  local dir="$1"
  if [ ! -f "$dir/node_modules/.package-lock.json" ] \
     || [ "$dir/package-lock.json" -nt "$dir/node_modules/.package-lock.json" ]; then
    echo "setup: npm ci in $dir"
    npm ci --prefix "$dir" --no-audit --no-fund --loglevel=error
  fi
}
npm_install ui
echo "setup: building the UI"
npm run --prefix ui --silent build

if [ "$mode" = test ]; then
  npm_install tests/node
  if ! command -v tauri-driver >/dev/null; then
    echo "setup: installing tauri-driver"
    cargo install tauri-driver --locked --version 2.1.0
  fi
fi
