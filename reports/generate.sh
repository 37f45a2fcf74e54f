#!/usr/bin/env bash
# Regenerates every sample report in reports/ from real runs (see reports/README.md):
#   builtin/            pop3test's own reference server (`run --builtin`, `audit --builtin`)
#   dovecot-required/   Dovecot 2.3, TLS required before any login (tests/servers/dovecot.sh)
#   dovecot-cleartext/  Dovecot 2.3, cleartext logins allowed
#   dovecot-default/ cyrus/ courier/ mailutils/ popa3d/ solid-pop3d/
#                       the six servers of tests/servers/all.sh as Debian ships them, seeded
#                       (`pop3test seed`), with the empty account and --destructive
#   matrix.{html,md}    every suite run side by side
#   report-screenshot.png   Chromium's rendering of dovecot-cleartext/run.html
# Needs root (Dovecot is started and stopped here), a Rust toolchain, and chromium for the
# screenshot (skipped with a warning when it is missing). About three minutes.
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

# Always leave the servers stopped, also after an error.
stop_all() {
  bash "$root/tests/servers/all.sh" stop >/dev/null 2>&1 || true
  bash "$root/tests/servers/dovecot.sh" stop >/dev/null 2>&1 || true
}
trap stop_all EXIT
log "starting Dovecot (both tuned profiles) and the six servers"
bash tests/servers/dovecot.sh start >/dev/null
eval "$(bash tests/servers/dovecot.sh env)"
bash tests/servers/all.sh start >/dev/null
eval "$(bash tests/servers/all.sh env)"

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

six=(dovecot-default cyrus courier mailutils popa3d solid-pop3d)
for d in builtin dovecot-required dovecot-cleartext "${six[@]}"; do
  rm -rf "${out:?}/$d"
  mkdir -p "$out/$d"
done

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

# server DIR ENV-NAME: the six servers, in parallel (they wait on login delays, not the CPU).
server() {
  local d=$out/$1 n=$2 url tls user ca
  g() { local v="POP3TEST_${n}_$1"; printf '%s' "${!v:-}"; }
  url=$(g URL) tls=$(g TLS_URL) user=$(g USER) ca=$(g CA)
  export PW EPW
  PW=$(g PASSWORD) EPW=$(g EMPTY_PASSWORD)
  local -a t=() port=()
  [[ -n $tls ]] && t=(--tls-target "$tls") && port=(--tls-port "${tls##*:}")
  log "$1: $url (seeded)"
  sh -c "$(g SEED)" >/dev/null
  # shellcheck disable=SC2046
  pt "$d/run.json" run "$url" "${t[@]}" --ca-file "$ca" --user "$user" --password-env PW \
    --empty-user "$(g EMPTY_USER)" --empty-password-env EPW --destructive --reseed "$(g RESEED)" \
    $(reports "$d" run)
  # shellcheck disable=SC2046
  pt "$d/audit.json" audit "$url" "${port[@]}" --ca-file "$ca" --user "$user" --password-env PW \
    $(reports "$d" audit)
}
names=(DOVECOT_DEFAULT CYRUS COURIER MAILUTILS POPA3D SOLID)
pids=()
for i in "${!six[@]}"; do
  server "${six[$i]}" "${names[$i]}" &
  pids+=($!)
done
for p in "${pids[@]}"; do wait "$p" || die "a server's run failed (see above)"; done

log "matrix of every run"
runs=()
for d in builtin dovecot-required dovecot-cleartext "${six[@]}"; do runs+=("$out/$d/run.json"); done
NO_COLOR=1 "$bin" report matrix "${runs[@]}" --html "$out/matrix.html" --markdown "$out/matrix.md" --color never -q

log "stopping the servers"
stop_all
trap - EXIT

# Nothing secret may have reached a report (transcripts are redacted when recorded).
secrets=("$POP3TEST_DOVECOT_PASSWORD" "$(printf '%s' "$POP3TEST_DOVECOT_PASSWORD" | base64)"
  "$(printf '\0%s\0%s' "$POP3TEST_DOVECOT_USER" "$POP3TEST_DOVECOT_PASSWORD" | base64)")
for n in "${names[@]}"; do
  for w in PASSWORD EMPTY_PASSWORD; do
    v="POP3TEST_${n}_$w"
    secrets+=("${!v}" "$(printf '%s' "${!v}" | base64)")
  done
done
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
