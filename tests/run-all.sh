#!/usr/bin/env bash
# The whole test suite, exactly as CI runs it (.ci/run calls this). Works on a fresh Debian 12
# machine with a Rust toolchain: installs what the tests need, starts the real servers (Dovecot)
# on 127.0.0.1, runs fmt, clippy and every test, and stops the servers again.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

log() { printf '\n== %s\n' "$*"; }

# --- system packages the tests use (each only when missing) ---------------------------------
need_apt=()
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
command -v openssl >/dev/null 2>&1 || need_apt+=(openssl)
command -v xmllint >/dev/null 2>&1 || need_apt+=(libxml2-utils)
command -v python3 >/dev/null 2>&1 || need_apt+=(python3 python3-pip)
if [ ${#need_apt[@]} -gt 0 ]; then
  log "installing ${need_apt[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi
# Python consumers of our reports that nobody here wrote (JUnit parser).
if ! python3 -c 'import junitparser' 2>/dev/null; then
  log "installing junitparser (PyPI)"
  python3 -m pip install -q -r tests/report/requirements.txt \
    || python3 -m pip install -q --break-system-packages -r tests/report/requirements.txt
fi

log "cargo fmt --check"
cargo fmt --all -- --check

log "cargo clippy --all-targets -- -D warnings"
cargo clippy --all-targets --quiet -- -D warnings

log "building the binary (seeds the real servers' maildrops)"
cargo build --quiet
export POP3TEST_BIN="$root/target/debug/pop3test"

# --- real servers --------------------------------------------------------------------------
if [ -x tests/servers/dovecot.sh ] || [ -f tests/servers/dovecot.sh ]; then
  log "starting Dovecot (TLS-required and cleartext profiles)"
  trap 'bash "$root/tests/servers/dovecot.sh" stop >/dev/null 2>&1 || true' EXIT
  bash tests/servers/dovecot.sh start
  eval "$(bash tests/servers/dovecot.sh env)"
  export POP3TEST_REQUIRE_DOVECOT=1
fi

log "cargo test"
cargo test --no-fail-fast
