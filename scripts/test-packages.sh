#!/usr/bin/env bash
# Builds Cairn's packages (scripts/package.sh), checks them, and lives
# through them as a user and a self-hoster would, on this machine:
#   the app:     install, start /usr/bin/cairn-desktop under Xvfb through
#                tauri-driver, write a note; a store from a newer Cairn is
#                refused; upgrade to a higher version built from the same
#                tree, find the note; remove, find the notes still on disk.
#   the service: install, `systemd-analyze verify` its unit, run
#                /usr/bin/cairn-server as its system user with the packaged
#                config pointed at a test S3 store, sync the installed CLI
#                through it; upgrade (config and registry kept); remove;
#                purge.
# Runs as root (it installs packages) and purges them at the end, so the
# machine is left as it was found. Run after `scripts/test.sh` has built
# the release app, or on its own (it builds what is missing).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/cairn/target}"
[ "$(id -u)" = 0 ] || { echo "test-packages: run as root (it installs packages)" >&2; exit 1; }

step() { echo "test-packages: $*"; }
fail() { echo "test-packages: FAILED: $*" >&2; exit 1; }
installed_version() { dpkg-query -W -f='${db:Status-Status} ${Version}' "$1" 2>/dev/null || true; }

# What the checks use: lintian, systemd-analyze (systemd), rpm (to read the
# .rpm), adduser (the service's postinst).
need=()
for p in lintian systemd rpm adduser; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
done
if [ "${#need[@]}" -gt 0 ]; then
  step "installing ${need[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}"
fi

work=$(mktemp -d)
chmod 755 "$work"
user_existed=no
getent passwd cairn-server >/dev/null && user_existed=yes
state_existed=no
[ -e /var/lib/cairn-server ] && state_existed=yes
pids=()
cleanup() {
  local status=$?
  for pid in "${pids[@]}"; do
    if kill -TERM "$pid" 2>/dev/null; then wait "$pid" 2>/dev/null || true; fi
  done
  # Leave the machine as found: no Cairn package, no user or state the
  # service package made.
  for p in cairn cairn-server; do
    if [ -n "$(installed_version "$p")" ] && [ "$(installed_version "$p")" != "not-installed " ]; then
      DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq "$p" >/dev/null || echo "test-packages: could not purge $p" >&2
    fi
  done
  if [ "$user_existed" = no ] && getent passwd cairn-server >/dev/null; then
    deluser --system --quiet cairn-server || echo "test-packages: could not remove user cairn-server" >&2
    getent group cairn-server >/dev/null && { delgroup --system --quiet cairn-server || true; }
  fi
  [ "$state_existed" = no ] && rm -rf /var/lib/cairn-server
  rm -rf "$work"
  exit "$status"
}
trap cleanup EXIT

for p in cairn cairn-server; do
  case "$(installed_version "$p")" in
    ""|"not-installed "*) ;;
    *) fail "$p is already installed ($(installed_version "$p")); remove it first" ;;
  esac
done

version=$(sed -n '/^\[workspace\.package\]/,/^\[/s/^version = "\(.*\)"/\1/p' Cargo.toml)
# A higher version, from the same tree: the next patch release.
next="${version%.*}.$(( ${version##*.} + 1 ))"
dpkg --compare-versions "$next" gt "$version" || fail "$next is not above $version"

step "building the packages ($version)"
started=$SECONDS
CAIRN_PACKAGE_OUT="$work/v1" scripts/package.sh
build_secs=$((SECONDS - started))
step "building the packages again as $next"
CAIRN_PACKAGE_OUT="$work/v2" CAIRN_PACKAGE_VERSION="$next" scripts/package.sh >/dev/null
app_deb="$work/v1/cairn_${version}_amd64.deb"
server_deb="$work/v1/cairn-server_${version}_amd64.deb"
for f in "$app_deb" "$server_deb" "$work/v2/cairn_${next}_amd64.deb" "$work/v2/cairn-server_${next}_amd64.deb"; do
  [ -f "$f" ] || fail "missing $f"
done

# ---- what the packages hold -------------------------------------------------
step "checking the app package"
dpkg-deb --info "$app_deb"
field() { dpkg-deb -f "$1" "$2"; }
[ "$(field "$app_deb" Package)" = cairn ] || fail "the app package is not named cairn"
[ "$(field "$app_deb" Version)" = "$version" ] || fail "the app package's version is not $version"
depends=$(field "$app_deb" Depends)
for dep in libwebkit2gtk-4.1-0 libgtk-3-0 libc6 libdbus-1-3; do
  grep -qw -- "$dep" <<<"$depends" || fail "the app package does not depend on $dep: $depends"
done
# Contents as absolute paths (the two builders write ./usr/... and usr/...).
contents() { dpkg-deb --contents "$1" | awk '{print $NF}' | sed -e 's|^\./|/|' -e 's|^\([^/]\)|/\1|' -e 's|\(.\)/$|\1|'; }
contents "$app_deb" >"$work/app.contents"
cat "$work/app.contents"
has() { grep -qxF -- "$2" "$work/$1.contents" || fail "$1 package lacks $2"; }
has app /usr/bin/cairn-desktop
has app /usr/bin/cairn
desktop_file=$(grep -x '/usr/share/applications/.*\.desktop' "$work/app.contents" || true)
[ -n "$desktop_file" ] || fail "no .desktop entry"
for size in 16x16 24x24 32x32 48x48 64x64 128x128 256x256 512x512; do
  has app "/usr/share/icons/hicolor/$size/apps/cairn-desktop.png"
done
has app /usr/share/doc/cairn/copyright
has app /usr/share/doc/cairn/changelog.gz
dpkg-deb -x "$app_deb" "$work/app-root"
cp "$work/app-root$desktop_file" "$work/cairn.desktop"
cat "$work/cairn.desktop"
grep -qx 'Exec=cairn-desktop' "$work/cairn.desktop" || fail "the .desktop entry does not start cairn-desktop"
grep -qx 'Icon=cairn-desktop' "$work/cairn.desktop" || fail "the .desktop entry names another icon"
grep -qx 'Categories=Office;' "$work/cairn.desktop" || fail "the .desktop entry is not in the Office menu"

step "checking the service package"
dpkg-deb --info "$server_deb"
[ "$(field "$server_deb" Package)" = cairn-server ] || fail "the service package is not named cairn-server"
grep -qw adduser <<<"$(field "$server_deb" Depends)" || fail "the service package does not depend on adduser"
contents "$server_deb" >"$work/server.contents"
cat "$work/server.contents"
has server /usr/bin/cairn-server
has server /etc/cairn/cairn-server.toml
unit=$(grep -x '/\(usr/\)\?lib/systemd/system/cairn-server\.service' "$work/server.contents" || true)
[ -n "$unit" ] || fail "no systemd unit in the service package"
dpkg-deb --ctrl-tarfile "$server_deb" | tar -xO ./conffiles >"$work/server.conffiles"
grep -qx /etc/cairn/cairn-server.toml "$work/server.conffiles" || fail "the config is not a conffile"
grep -qx /etc/cairn/cairn-server.env "$work/server.conffiles" || fail "the secrets file is not a conffile"

step "checking the .rpm"
rpm_file=$(find "$work/v1" -name '*.rpm' -print -quit)
rpm -qlp "$rpm_file" >"$work/rpm.contents"
grep -qx /usr/bin/cairn-desktop "$work/rpm.contents" || fail "the .rpm lacks cairn-desktop"
grep -qx /usr/bin/cairn "$work/rpm.contents" || fail "the .rpm lacks cairn"

# Errors fail the test; warnings and informational tags are printed (see
# README, "Installing", for the ones left and why).
step "lintian"
lintian --fail-on error --tag-display-limit 0 "$app_deb" "$server_deb"

# ---- the app: install, write, refuse a newer store ----------------------------
step "installing $app_deb"
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$app_deb"
[ -x /usr/bin/cairn-desktop ] && [ -x /usr/bin/cairn ] || fail "the binaries are not installed"
home="$work/home"
mkdir -p "$home"
# The package test reuses what test.sh compiled (the ignored tests are
# built with the rest of the scenarios).
app_test() {
  CAIRN_DESKTOP_BIN=/usr/bin/cairn-desktop CAIRN_PACKAGE_HOME="$home" \
    cargo test -q -p cairn-scenarios --test package_app -- --ignored --exact "$1"
}
step "the installed app writes a note"
app_test installed_app_creates_a_note
step "the installed app refuses a store from a newer Cairn"
app_test installed_app_refuses_a_store_from_a_newer_version

# ---- the service: install, verify, serve ------------------------------------
step "installing $server_deb"
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$server_deb"
step "systemd-analyze verify $unit"
systemd-analyze verify "$unit"
systemd-analyze security --offline=yes --no-pager "$unit" | tail -1
[ "$(getent passwd cairn-server | cut -d: -f7)" = /usr/sbin/nologin ] || fail "cairn-server is not a system user without a shell"
uid=$(id -u cairn-server)
[ "$uid" -lt 1000 ] || fail "cairn-server has a regular user's uid ($uid)"
[ "$(stat -c '%U %a' /var/lib/cairn-server)" = "cairn-server 700" ] || fail "/var/lib/cairn-server is not the service's own"
[ "$(stat -c '%U %a' /etc/cairn/cairn-server.env)" = "root 600" ] || fail "the secrets file is readable by others"

# The test S3 store: the embedded one of `cairn-server dev`, run from the
# installed binary in a directory of its own.
step "starting a test S3 store"
mkdir -p "$work/s3"
/usr/bin/cairn-server dev --data "$work/s3" --listen 127.0.0.1:0 >"$work/s3.log" 2>&1 &
pids+=($!)
wait_for_line() { # file, pattern: waits for the server to print it
  local waited=0
  until grep -q "$2" "$1"; do
    kill -0 "${pids[-1]}" 2>/dev/null || { cat "$1" >&2; fail "the server exited; log above"; }
    [ "$waited" -lt 600 ] || { cat "$1" >&2; fail "nothing matched '$2'"; }
    sleep 0.1
    waited=$((waited + 1))
  done
}
wait_for_line "$work/s3.log" 'listening on http'
s3_endpoint=$(grep -o 'embedded S3 store at http://[0-9.:]*' "$work/s3.log" | grep -o 'http.*')
# The secrets go where an operator puts them: the packaged env file.
{
  cat /etc/cairn/cairn-server.env
  echo "CAIRN_S3_ENDPOINT=$s3_endpoint"
  echo "CAIRN_S3_ACCESS_KEY_ID=$(jq -r .access_key_id "$work/s3/s3-credentials.json")"
  echo "CAIRN_S3_SECRET_ACCESS_KEY=$(jq -r .secret_access_key "$work/s3/s3-credentials.json")"
  echo "CAIRN_LISTEN=127.0.0.1:0"
} >"$work/env" && cat "$work/env" >/etc/cairn/cairn-server.env

# As the unit runs it: its user, its config, its environment file, no new
# privileges (systemd itself is not running here).
serve() {
  : >"$work/serve.log"
  (set -a; . /etc/cairn/cairn-server.env; set +a
   exec setpriv --reuid=cairn-server --regid=cairn-server --init-groups --no-new-privs \
     /usr/bin/cairn-server serve --config /etc/cairn/cairn-server.toml) >"$work/serve.log" 2>&1 &
  pids+=($!)
  wait_for_line "$work/serve.log" 'cairn-server listening on http'
  url=$(grep -o 'listening on http://[0-9.:]*' "$work/serve.log" | grep -o 'http.*')
  [ "$(curl -fsS "$url/healthz")" = ok ] || fail "$url/healthz did not answer ok"
}
stop_serve() {
  local pid="${pids[-1]}"
  kill -TERM "$pid"
  wait "$pid" || fail "cairn-server serve did not stop cleanly on SIGTERM"
  unset 'pids[-1]'
}
step "serving as cairn-server with /etc/cairn/cairn-server.toml"
serve
[ "$(stat -c %U /var/lib/cairn-server/registry.sqlite3)" = cairn-server ] || fail "the registry is not in the state directory"
# The installed CLI signs up, writes and syncs through the service.
cli() {
  CAIRN_CREDENTIAL_STORE=file CAIRN_PASSPHRASE="correct horse battery staple" \
    /usr/bin/cairn --data-dir "$work/cli" "$@"
}
account_key=$(cli account create --server "$url" | tail -1)
cli login --server "$url" --account-key "$account_key" >/dev/null
cli new "Synced through the packaged service" >/dev/null
cli sync
stop_serve

# ---- upgrades -------------------------------------------------------------
step "upgrading the service to $next"
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$work/v2/cairn-server_${next}_amd64.deb"
[ "$(installed_version cairn-server)" = "installed $next" ] || fail "cairn-server is not at $next"
cmp -s "$work/env" /etc/cairn/cairn-server.env || fail "the upgrade replaced the edited /etc/cairn/cairn-server.env"
serve
# Same registry: the session from before the upgrade still syncs.
cli status
cli sync
stop_serve

step "upgrading the app to $next"
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$work/v2/cairn_${next}_amd64.deb"
[ "$(installed_version cairn)" = "installed $next" ] || fail "cairn is not at $next"
app_test upgraded_app_finds_the_note_and_keeps_writing

# ---- removal --------------------------------------------------------------
step "removing the app"
DEBIAN_FRONTEND=noninteractive apt-get remove -y -qq cairn
[ ! -e /usr/bin/cairn-desktop ] || fail "/usr/bin/cairn-desktop is still there"
data="$home/.local/share/cairn"
[ -f "$data/cairn.db" ] || fail "the notes went with the package: $data"
# The notes outlive the package: read them with the CLI of this tree.
cairn_bin="$CARGO_TARGET_DIR/release/cairn"
note_id=$("$cairn_bin" --data-dir "$data" list --json | jq -r '.[] | select(.title == "Packing list") | .id')
[ -n "$note_id" ] || fail "the note is not in $data after removal"
"$cairn_bin" --data-dir "$data" show "$note_id" | tee "$work/after-removal"
grep -q "written after the upgrade" "$work/after-removal" || fail "the edit made after the upgrade is lost"

step "removing the service, then purging it"
DEBIAN_FRONTEND=noninteractive apt-get remove -y -qq cairn-server
[ -f /var/lib/cairn-server/registry.sqlite3 ] || fail "removing the service deleted its registry"
[ -f /etc/cairn/cairn-server.toml ] || fail "removing the service deleted its config (purge does that)"
# The app had no conffiles: removing it left nothing to purge.
[ "$(installed_version cairn)" = "not-installed " ] || [ -z "$(installed_version cairn)" ] \
  || fail "the app left dpkg state behind: $(installed_version cairn)"
DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq cairn-server
[ ! -e /var/lib/cairn-server ] || fail "purging left /var/lib/cairn-server"
[ ! -e /etc/cairn ] || fail "purging left /etc/cairn"

step "ok; package build ${build_secs} s; sizes:"
du -k "$work"/v1/* | sed 's/^/  KiB /'
