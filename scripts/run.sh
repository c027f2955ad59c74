#!/usr/bin/env bash
# Sets up a Debian machine (see setup.sh), starts `cairn-server dev` on
# loopback (embedded S3, account-key sign-in) and opens the Cairn app
# against it, with an account ready to sign in to.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/cairn/target}"
scripts/setup.sh run
cargo build --bins

state="${CAIRN_DEV_STATE:-$HOME/.local/share/cairn-dev}"
mkdir -p "$state"
server_log="$state/server.log"
"$CARGO_TARGET_DIR/debug/cairn-server" dev --data "$state/server" --listen 127.0.0.1:8787 >"$server_log" 2>&1 &
server_pid=$!
trap 'kill "$server_pid" 2>/dev/null || true' EXIT
url=""
for _ in $(seq 1 100); do
  url=$(grep -o 'listening on http://[0-9.:]*' "$server_log" | grep -o 'http.*' | head -1 || true)
  [ -n "$url" ] && break
  sleep 0.1
done
[ -n "$url" ] || { echo "cairn-server did not start; see $server_log" >&2; exit 1; }

# One account for this machine's dev setup, made once and kept.
if [ ! -s "$state/account-key" ]; then
  "$CARGO_TARGET_DIR/debug/cairn" --data-dir "$state/cli" account create --server "$url" | tail -1 >"$state/account-key"
fi
echo "Cairn service: $url"
echo "Account key:   $(cat "$state/account-key")  (also in $state/account-key)"
CAIRN_SERVER_URL="$url" CAIRN_ACCOUNT_KEY="$(cat "$state/account-key")" \
  "$CARGO_TARGET_DIR/debug/cairn-desktop"
