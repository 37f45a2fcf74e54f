#!/usr/bin/env bash
# The whole test suite, exactly as CI runs it (.ci/run calls this). Works on a fresh Debian 12
# machine with a Rust toolchain, as root: installs what the tests need (in the background, while
# the tests compile), starts the seven real server instances on 127.0.0.1 (Dovecot's two tuned
# profiles and the six servers of tests/servers/all.sh), runs fmt, clippy and every test, and
# stops the servers again. CI's budget is 10 minutes on 2 cores; the tests that only wait on
# servers (login delays, timeouts) run beside the others, and clippy beside the tests.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
logs=$(mktemp -d /tmp/pop3test-ci.XXXXXX)

log() { printf '\n== %s (%ss)\n' "$*" "$SECONDS"; }

# --- what the tests need from Debian and PyPI, in the background ----------------------------
install_everything() {
  local need_apt=()
  command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
  command -v openssl >/dev/null 2>&1 || need_apt+=(openssl)
  command -v xmllint >/dev/null 2>&1 || need_apt+=(libxml2-utils)
  command -v python3 >/dev/null 2>&1 || need_apt+=(python3 python3-pip)
  # The POP3 clients that tests/audit_client.rs audits (poplib comes with python3).
  [ -x /usr/bin/curl ] || need_apt+=(curl)
  command -v mpop >/dev/null 2>&1 || need_apt+=(mpop)
  command -v fetchmail >/dev/null 2>&1 || need_apt+=(fetchmail)
  command -v getmail >/dev/null 2>&1 || need_apt+=(getmail6)
  if [ ${#need_apt[@]} -gt 0 ]; then
    echo "installing ${need_apt[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
  fi
  # Python consumers of our reports that nobody here wrote (JUnit parser).
  if ! python3 -c 'import junitparser' 2>/dev/null; then
    python3 -m pip install -q -r tests/report/requirements.txt ||
      python3 -m pip install -q --break-system-packages -r tests/report/requirements.txt
  fi
  # The real servers' packages: one apt-get for all of them (Dovecot included).
  bash tests/servers/all.sh install
}
log "installing packages and real servers (background, log: $logs/install.log)"
install_everything >"$logs/install.log" 2>&1 &
install_pid=$!

log "cargo fmt --check"
cargo fmt --all -- --check

# These tests mostly wait (on servers' delays and on timeouts they provoke): they are built
# first, started as soon as the servers are up, and run beside the build of everything else.
waiting=()
for t in real_servers dovecot_cli hostile_servers; do
  [ -f "tests/$t.rs" ] && waiting+=("$t")
done
log "building the binary and the tests that wait on servers (${waiting[*]})"
# shellcheck disable=SC2046 # one --test per name
cargo test --no-run $(printf -- '--test %s ' "${waiting[@]}") 2>"$logs/build.log" ||
  { cat "$logs/build.log"; exit 1; }
# Their executables, run directly below: a second `cargo` would wait for the build lock.
declare -A exe=()
for t in "${waiting[@]}"; do
  exe[$t]=$(sed -n "s|^ *Executable tests/$t\.rs (\(.*\))\$|\1|p" "$logs/build.log" | tail -n 1)
  [ -x "${exe[$t]}" ] || { cat "$logs/build.log"; echo "no executable for tests/$t.rs" >&2; exit 1; }
done
export POP3TEST_BIN="$root/target/debug/pop3test"

log "waiting for the installs"
if ! wait "$install_pid"; then
  cat "$logs/install.log"
  echo "installing the test dependencies failed" >&2
  exit 1
fi

# --- real servers ---------------------------------------------------------------------------
stop_servers() {
  bash "$root/tests/servers/all.sh" stop >/dev/null 2>&1 || true
  bash "$root/tests/servers/dovecot.sh" stop >/dev/null 2>&1 || true
}
trap stop_servers EXIT
log "starting Dovecot's tuned profiles (TLS-required, cleartext)"
bash tests/servers/dovecot.sh start
eval "$(bash tests/servers/dovecot.sh env)"
log "starting the six real servers (Dovecot default, Cyrus, Courier, Mailutils, popa3d, solid-pop3d)"
bash tests/servers/all.sh start
eval "$(bash tests/servers/all.sh env)"
export POP3TEST_REQUIRE_DOVECOT=1 POP3TEST_REQUIRE_SERVERS=1

# --- tests ------------------------------------------------------------------------------------
declare -A pids=()
for t in "${waiting[@]}"; do
  log "started: tests/$t.rs (background, log: $logs/$t.log)"
  "${exe[$t]}" >"$logs/$t.log" 2>&1 &
  pids[$t]=$!
done
others=()
for f in tests/*.rs; do
  t=$(basename "$f" .rs)
  [[ " ${waiting[*]} " == *" $t "* ]] || others+=(--test "$t")
done
# Compiling beside servers under test starves them on 2 cores (a Dovecot login process waiting
# for CPU looks like a server that hangs): the builds yield to the tests and the servers.
log "building everything else (niced)"
nice -n 15 cargo test --no-run --quiet --lib --bins "${others[@]}" 2>"$logs/build2.log" ||
  { cat "$logs/build2.log"; exit 1; }

# Clippy compiles every dependency again (check mode shares nothing with a build): in its own
# target directory, beside the tests.
log "cargo clippy --all-targets -- -D warnings (background, log: $logs/clippy.log)"
CARGO_TARGET_DIR="$root/target/clippy" nice -n 15 cargo clippy --all-targets --quiet -- -D warnings >"$logs/clippy.log" 2>&1 &
clippy_pid=$!

rc=0
log "cargo test (all but ${waiting[*]})"
cargo test --no-fail-fast --lib --bins "${others[@]}" || rc=1
log "cargo test --doc"
cargo test --doc --quiet || rc=1
for t in "${!pids[@]}"; do
  log "cargo test --test $t"
  if wait "${pids[$t]}"; then
    grep -E '^test result|^running' "$logs/$t.log" || true
  else
    cat "$logs/$t.log"
    rc=1
  fi
done
log "cargo clippy --all-targets -- -D warnings"
if wait "$clippy_pid"; then
  echo "clippy: clean"
else
  cat "$logs/clippy.log"
  rc=1
fi
log "done: exit $rc"
exit "$rc"
