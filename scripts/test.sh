#!/usr/bin/env bash
# Sets up a Debian machine for the tests (see setup.sh) and runs every test:
# unit, property, CLI, service, sync scenarios and the app window end to end.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/cairn/target}"
scripts/setup.sh test
# Binaries first: the scenario and end-to-end tests run the real `cairn`,
# `cairn-server` and `cairn-desktop` executables.
cargo build --workspace --bins
# The app's responsiveness is measured on the release build, as shipped.
cargo build --release -p cairn-desktop
cargo test --workspace --no-fail-fast
# The packages: built, checked, installed, upgraded and removed on this
# machine (as root; it purges what it installed).
scripts/test-packages.sh
