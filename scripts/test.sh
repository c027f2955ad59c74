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
# The service's own tests once more on a PostgreSQL registry (a throwaway
# cluster per test binary; the registry contract and the multi-instance
# tests use PostgreSQL in the run above already).
# Those that start the service through the test harness; the others
# exercise `dev` and its SQLite file.
grep -l 'Harness::start' crates/cairn-server/tests/*.rs \
  | xargs -n1 basename | sed 's/\.rs$//' | sed 's/^/--test /' \
  | xargs env CAIRN_TEST_REGISTRY=postgres cargo test --workspace --no-fail-fast
# The packages: built, checked, installed, upgraded and removed on this
# machine (as root; it purges what it installed).
scripts/test-packages.sh
