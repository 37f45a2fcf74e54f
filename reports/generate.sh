#!/usr/bin/env bash
# Regenerates every sample report in reports/ from real runs (see reports/README.md):
#   builtin/            pop3test's own reference server (`run --builtin`, `audit --builtin`)
#   dovecot-required/   Dovecot 2.3, TLS required before any login (tests/servers/dovecot.sh)
#   dovecot-cleartext/  Dovecot 2.3, cleartext logins allowed
#   matrix.{html,md}    the three suite runs side by side
#   report-screenshot.png   Chromium's rendering of dovecot-cleartext/run.html
# Needs root (Dovecot is started and stopped here), a Rust toolchain, and chromium for the
# screenshot (skipped with a warning when it is missing). About a minute.
#
#   bash reports/generate.sh
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
out=$root/reports

log() { printf '== %s\n' "$*" >&2; }
warn() { printf 'generate.sh: warning: %s\n' "$*" >&2; }
die() { printf 'generate.sh: error: %s\n' "$*" >&2; exit 1; }

[[ $(id -u) == 0 ]] || die "must run as root: it starts Dovecot (tests/servers/dovecot.sh)"

log "cargo build"
cargo build --quiet
bin=$root/target/debug/pop3test
export POP3TEST_BIN=$bin # dovecot.sh seeds the maildrops with `$bin serve --export-maildir`

# Always leave Dovecot stopped, also after an error.
trap 'bash "$root/tests/servers/dovecot.sh" stop >/dev/null 2>&1 || true' EXIT
log "starting Dovecot (both profiles)"
bash tests/servers/dovecot.sh start >/dev/null
eval "$(bash tests/servers/dovecot.sh env)"

# pop3test exits 4 on conformance failures and 5 on security findings: expected here, the
# samples show them. 3 (the tester could not do its job somewhere) is kept too, with a warning,
# since the report says where. Anything else, or no JSON report, stops the script.
pt() { # json-file args...
  local json=$1 rc=0
  shift
  NO_COLOR=1 "$bin" "$@" --color never -q >/dev/null || rc=$?
  case $rc in
    0 | 4 | 5) ;;
    3) warn "exit 3 (tester errors) from: pop3test $* -- see the errors in $json" ;;
    *) die "exit $rc from: pop3test $*" ;;
  esac
  [[ -s $json ]] || die "no report written: $json"
}

# The run's Markdown, HTML and JSON, the audit's JSON, HTML and SARIF.
reports() { # dir kind
  local d=$1 kind=$2
  case $kind in
    run) echo --report "json=$d/run.json" --report "markdown=$d/run.md" --report "html=$d/run.html" ;;
    audit) echo --report "json=$d/audit.json" --report "html=$d/audit.html" --report "sarif=$d/audit.sarif" ;;
  esac
}

rm -rf "$out/builtin" "$out/dovecot-required" "$out/dovecot-cleartext"
mkdir -p "$out/builtin" "$out/dovecot-required" "$out/dovecot-cleartext"

log "built-in reference server"
# shellcheck disable=SC2046 # word splitting of $(reports ...) is intended (no spaces in paths)
pt "$out/builtin/run.json" run --builtin $(reports "$out/builtin" run)
# shellcheck disable=SC2046
pt "$out/builtin/audit.json" audit --builtin $(reports "$out/builtin" audit)

# dovecot PROFILE PLAIN-URL TLS-URL RESEED-CMD [extra run flags...]
dovecot() {
  local p=$1 plain=$2 tls=$3 reseed=$4 d=$out/dovecot-$1
  shift 4
  log "Dovecot, $p profile: $plain"
  # shellcheck disable=SC2046
  pt "$d/run.json" run "$plain" --tls-target "$tls" --ca-file "$POP3TEST_DOVECOT_CA" \
    --user "$POP3TEST_DOVECOT_USER" --password-env POP3TEST_DOVECOT_PASSWORD \
    --destructive --reseed "$reseed" "$@" $(reports "$d" run)
  # shellcheck disable=SC2046
  pt "$d/audit.json" audit "$plain" --tls-port "${tls##*:}" --ca-file "$POP3TEST_DOVECOT_CA" \
    --user "$POP3TEST_DOVECOT_USER" --password-env POP3TEST_DOVECOT_PASSWORD \
    $(reports "$d" audit)
}
dovecot required "$POP3TEST_DOVECOT_REQUIRED" "$POP3TEST_DOVECOT_REQUIRED_TLS" \
  "$POP3TEST_DOVECOT_RESEED_REQUIRED"
dovecot cleartext "$POP3TEST_DOVECOT_CLEARTEXT" "$POP3TEST_DOVECOT_CLEARTEXT_TLS" \
  "$POP3TEST_DOVECOT_RESEED_CLEARTEXT"

log "matrix of the three runs"
NO_COLOR=1 "$bin" report matrix "$out/builtin/run.json" "$out/dovecot-required/run.json" \
  "$out/dovecot-cleartext/run.json" --html "$out/matrix.html" --markdown "$out/matrix.md" --color never -q

log "stopping Dovecot"
bash tests/servers/dovecot.sh stop >/dev/null
trap - EXIT

# Nothing secret may have reached a report (transcripts are redacted when recorded).
secrets=("$POP3TEST_DOVECOT_PASSWORD" "$(printf '%s' "$POP3TEST_DOVECOT_PASSWORD" | base64)"
  "$(printf '\0%s\0%s' "$POP3TEST_DOVECOT_USER" "$POP3TEST_DOVECOT_PASSWORD" | base64)")
for s in "${secrets[@]}"; do
  rc=0
  grep -rlF --exclude=generate.sh --exclude=README.md -- "$s" "$out" || rc=$?
  case $rc in
    1) ;; # not found
    0) die "the files above contain a secret" ;;
    *) die "grep failed while looking for secrets" ;;
  esac
done

shot=$out/report-screenshot.png
page=$out/dovecot-cleartext/run.html
browser=$(command -v chromium || command -v chromium-browser || true)
if [[ -n $browser ]]; then
  log "screenshot of $page"
  profile=$(mktemp -d)
  timeout 120 "$browser" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --user-data-dir="$profile" --window-size=1280,2000 --screenshot="$shot" "file://$page" \
    >/dev/null 2>&1 || warn "chromium failed; $shot not updated"
  rm -rf "$profile"
else
  warn "chromium not installed; $shot not updated"
fi

log "done: $(find "$out" -type f ! -name generate.sh ! -name README.md | wc -l) files in $out"
