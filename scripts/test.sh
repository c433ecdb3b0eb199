#!/usr/bin/env bash
# Runs switchboard's whole test suite on a fresh Debian machine with Rust: installs what
# the tests need (idempotent), starts it on 127.0.0.1, runs the gates and every test.
#
#   bash scripts/test.sh            everything (what CI runs)
#   bash scripts/test.sh --quick    skip the formatting/lint gates
set -euo pipefail
cd "$(dirname "$0")/.."

quick=false
[ "${1:-}" = "--quick" ] && quick=true

step() { printf '\n==> %s\n' "$*"; }

step "toolchain"
if ! command -v cargo >/dev/null; then
  echo "cargo not found: install Rust (https://rustup.rs) and run this again" >&2
  exit 1
fi
for component in rustfmt clippy; do
  if ! rustup component list --installed 2>/dev/null | grep -q "^$component"; then
    rustup component add "$component"
  fi
done
if ! command -v gzip >/dev/null; then
  apt-get update -qq && apt-get install -y -qq gzip
fi
cargo --version

# The published Connect samples live beside the repository in shared/; a checkout
# elsewhere can point at them.
if [ -z "${SWITCHBOARD_SAMPLES:-}" ] && [ ! -d ../shared/connect/samples ]; then
  echo "Connect samples not found at ../shared/connect/samples: set SWITCHBOARD_SAMPLES" >&2
  exit 1
fi

if ! $quick; then
  step "cargo fmt --check"
  cargo fmt --all -- --check
  step "cargo clippy --all-targets --all-features -- -D warnings"
  cargo clippy --workspace --all-targets --all-features -- -D warnings
  step "fuzz targets build (running them needs nightly: see fuzz/README.md)"
  cargo check --quiet --manifest-path fuzz/Cargo.toml --bins
  # Licences, duplicate versions (warnings) and sources, as deny.toml says. The advisory
  # check needs the RustSec database from GitHub, which this machine cannot reach: see
  # deny.toml. Installed once (cargo install compiles it: about 5 minutes on 2 cores).
  step "dependency audit: cargo deny check licenses bans sources"
  if ! cargo deny --version >/dev/null 2>&1; then
    cargo install --locked cargo-deny
  fi
  cargo deny --offline check licenses bans sources
fi

# Integration tests run against real servers on 127.0.0.1 (see scripts/servers.sh for
# what is installed where and the SWITCHBOARD_TEST_* variables the tests read).
step "test servers: PostgreSQL, moto, kinesalite, dynalite"
# shellcheck source=scripts/servers.sh
source scripts/servers.sh
install_servers
trap stop_servers EXIT
start_servers
# A test whose server is missing fails rather than skips.
export SWITCHBOARD_REQUIRE_SERVERS=1

step "browser test tools: Chromium, playwright-core (into .tools/)"
bash scripts/browser-tools.sh
# The dashboard browser test fails, rather than skips, if a tool is missing.
export SWITCHBOARD_REQUIRE_BROWSER=1

step "cargo test --all-features"
cargo test --workspace --all-features --no-fail-fast
