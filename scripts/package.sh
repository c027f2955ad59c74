#!/usr/bin/env bash
# Builds Cairn's packages from this tree, in release, into dist/:
#   cairn_VERSION_amd64.deb          the app (cairn-desktop) and the CLI (cairn)
#   cairn-VERSION-1.x86_64.rpm       the same, for rpm-based systems
#   cairn-server_VERSION_amd64.deb   the service, with its systemd unit
# The version is the workspace's, in Cargo.toml. CAIRN_PACKAGE_VERSION
# overrides it for the packages only (the upgrade test builds a higher one
# from the same tree); CAIRN_PACKAGE_OUT picks another output directory.
# Needs what `scripts/setup.sh run` installs; installs cargo-deb and the
# Tauri CLI (packaging/package.json) itself when they are missing.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/cairn/target}"
out="${CAIRN_PACKAGE_OUT:-$root/dist}"
started=$SECONDS

workspace_version=$(sed -n '/^\[workspace\.package\]/,/^\[/s/^version = "\(.*\)"/\1/p' Cargo.toml)
version="${CAIRN_PACKAGE_VERSION:-$workspace_version}"
[ -n "$version" ] || { echo "package: no version in Cargo.toml [workspace.package]" >&2; exit 1; }

# Tools: dpkg-shlibdeps (dpkg-dev) computes the app's dependencies;
# cargo-deb builds the service's package; the Tauri CLI the app's.
if ! command -v dpkg-shlibdeps >/dev/null; then
  echo "package: dpkg-shlibdeps (dpkg-dev) is required: apt-get install dpkg-dev" >&2
  exit 1
fi
if [ "$(cargo deb --version 2>/dev/null)" != "cargo-deb 3.8.0" ]; then
  echo "package: installing cargo-deb"
  cargo install cargo-deb --locked --version 3.8.0
fi
npm_install() {
  local dir="$1"
  if [ ! -f "$dir/node_modules/.package-lock.json" ] \
     || [ "$dir/package-lock.json" -nt "$dir/node_modules/.package-lock.json" ]; then
    echo "package: npm ci in $dir"
    npm ci --prefix "$dir" --no-audit --no-fund --loglevel=error
  fi
}
npm_install packaging

# The app embeds the built UI; build it unless ui/dist is newer than every
# source (rebuilding an unchanged UI would still recompile the app).
if [ ! -f ui/dist/index.html ] \
   || [ -n "$(find ui/src ui/index.html ui/package-lock.json ui/vite.config.ts -newer ui/dist/index.html -print -quit)" ]; then
  npm_install ui
  echo "package: building the UI"
  npm run --prefix ui --silent build
fi

echo "package: building cairn-desktop, cairn and cairn-server (release)"
cargo build --release -p cairn-desktop -p cairn-cli -p cairn-server
release="$CARGO_TARGET_DIR/release"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The app's dependencies, computed from the libraries both binaries link
# (libwebkit2gtk-4.1-0, libgtk-3-0, libdbus-1-3, ...) with the versions
# their symbols need.
mkdir -p "$work/shlibs/debian"
printf 'Source: cairn\n\nPackage: cairn\nArchitecture: any\n' >"$work/shlibs/debian/control"
depends=$(cd "$work/shlibs" && dpkg-shlibdeps -O "-e$release/cairn-desktop" "-e$release/cairn" 2>/dev/null \
  | sed -n 's/^shlibs:Depends=//p')
case "$depends" in
  *libwebkit2gtk-4.1-0*) ;;
  *) echo "package: computed dependencies lack libwebkit2gtk-4.1-0: '$depends'" >&2; exit 1 ;;
esac

# Debian wants a changelog in every package's doc directory.
changelog() {
  local package="$1" file="$2" when
  when=$(git -C "$root" log -1 --format=%ct 2>/dev/null || date +%s)
  printf '%s (%s) unstable; urgency=medium\n\n  * Built from the Cairn tree at %s.\n\n -- %s  %s\n' \
    "$package" "$version" "$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)" \
    "Cairn maintainers <maintainers@cairn.invalid>" "$(date -R -d "@$when")" \
    | gzip -9n >"$file"
}
changelog cairn "$work/cairn.changelog.gz"
# cargo-deb takes it from target/release/ (see crates/cairn-server/Cargo.toml).
changelog cairn-server "$release/cairn-server.changelog.gz"

# What the checked-in tauri.conf.json leaves to this build: the version (if
# overridden), the computed dependencies, the CLI and the changelog.
node - "$work/tauri.package.json" "$version" "$depends" "$release/cairn" "$work/cairn.changelog.gz" <<'EOF'
const [path, version, depends, cli, changelog] = process.argv.slice(2);
const config = {
  version,
  bundle: {
    linux: {
      deb: {
        depends: depends.split(",").map((d) => d.trim()).filter(Boolean),
        files: {
          "/usr/bin/cairn": cli,
          "/usr/share/doc/cairn/changelog.gz": changelog,
        },
      },
      rpm: { files: { "/usr/bin/cairn": cli } },
    },
  },
};
require("fs").writeFileSync(path, JSON.stringify(config, null, 2));
EOF

bundle_dir="$release/bundle"
rm -rf "$bundle_dir/deb" "$bundle_dir/rpm"
echo "package: bundling the app (deb, rpm)"
# --no-binary-patching: the bundler would otherwise rewrite the release
# binary in place (for Tauri's updater, which Cairn does not use).
npm exec --prefix packaging -- tauri bundle --ci --bundles deb,rpm --no-binary-patching \
  --config "$work/tauri.package.json"

mkdir -p "$out"
deb=$(find "$bundle_dir/deb" -maxdepth 1 -name '*.deb' -print -quit)
[ -n "$deb" ] || { echo "package: the bundler made no .deb" >&2; exit 1; }
# Debian's file name: package_version_architecture.deb.
deb_name="$(dpkg-deb -f "$deb" Package)_$(dpkg-deb -f "$deb" Version)_$(dpkg-deb -f "$deb" Architecture).deb"
# The bundler ships the binaries as linked; Debian ships them stripped
# (with dh_strip's flags), with md5sums and Installed-Size to match.
dpkg-deb -R "$deb" "$work/app"
strip --strip-unneeded --remove-section=.comment --remove-section=.note \
  "$work/app/usr/bin/cairn-desktop" "$work/app/usr/bin/cairn"
(cd "$work/app" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | sort -z | xargs -0 md5sum >DEBIAN/md5sums)
sed -i "s/^Installed-Size: .*/Installed-Size: $(du -sk --exclude=DEBIAN "$work/app" | cut -f1)/" "$work/app/DEBIAN/control"
dpkg-deb --root-owner-group -Zxz --build "$work/app" "$out/$deb_name" >/dev/null
rpm=$(find "$bundle_dir/rpm" -maxdepth 1 -name '*.rpm' -print -quit)
[ -n "$rpm" ] || { echo "package: the bundler made no .rpm" >&2; exit 1; }
cp "$rpm" "$out/"

echo "package: packaging the service"
(cd crates/cairn-server && cargo deb --no-build --deb-version "$version" \
  --output "$out/cairn-server_${version}_amd64.deb")

echo "package: done in $((SECONDS - started)) s"
for f in "$out/$deb_name" "$out/$(basename "$rpm")" "$out/cairn-server_${version}_amd64.deb"; do
  echo "  $(du -k "$f" | cut -f1) KiB  $f"
done
