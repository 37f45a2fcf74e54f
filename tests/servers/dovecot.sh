#!/usr/bin/env bash
# Private Dovecot POP3 servers on loopback, for pop3test's tests and CI.
#
#   bash tests/servers/dovecot.sh start    install if needed, (re)start both profiles, seed mail,
#                                          wait for every port's greeting, print the endpoints
#   bash tests/servers/dovecot.sh stop     stop both instances (by PID, bounded wait)
#   bash tests/servers/dovecot.sh reseed   reset both profiles' maildrops to the seed state
#                                          (servers keep running; next login sees fresh mail)
#   bash tests/servers/dovecot.sh reseed PROFILE [USER...]
#                                          the same for one profile (and only those users),
#                                          from the seed made at start: what a test's --reseed
#                                          uses, so it cannot break sessions of other tests
#   bash tests/servers/dovecot.sh status   show what runs; exit 0 only if every port greets
#   bash tests/servers/dovecot.sh env      print `export ...` lines for the tests (eval them)
#
# The `default` profile (see below) has the interface of the other servers in tests/servers/:
#   bash tests/servers/dovecot.sh start default     (re)start it with the ORDINARY mailbox
#   bash tests/servers/dovecot.sh stop default      stop it (`stop` alone stops every profile)
#   bash tests/servers/dovecot.sh status default    exit 0 only if both its ports greet
#   bash tests/servers/dovecot.sh env default       POP3TEST_DOVECOT_DEFAULT_* export lines
#   bash tests/servers/dovecot.sh seed default      pop3test's standard maildrop (pop3test seed)
#   bash tests/servers/dovecot.sh unseed default    back to the ORDINARY 3-message mailbox
#   bash tests/servers/dovecot.sh reseed default    = seed --reset (before each destructive check)
# `start all`, `status all`, `env all` cover the three; `install` / `packages` serve all.sh.
#
# Two instances, each with its own config, base_dir, state_dir, log and pid file:
#   required   TLS required before any login, even over loopback:
#                pop3://127.0.0.2:11110 (plain + STLS), pop3s://127.0.0.2:11995 (implicit TLS)
#   cleartext  cleartext login allowed:
#                pop3://127.0.0.1:12110 (plain + STLS), pop3s://127.0.0.1:12995 (implicit TLS)
#
# Why 127.0.0.2 for `required`: Dovecot 2.3 treats a connection whose remote IP equals its
# local IP as "secured" (login-common: "localhost connections are always secured"), and no
# setting turns that off; with it, `ssl = required` and `disable_plaintext_auth = yes` both let
# USER/PASS through in cleartext. A client connecting to 127.0.0.2 gets source address 127.0.0.1
# from the kernel (route "local 127.0.0.0/8 ... src 127.0.0.1"), so the IPs differ and
# `ssl = required` is enforced. See tests/servers/DOVECOT-NOTES.md.
#
# A third instance, `default`: Dovecot's default policies and penalties (auth penalty on,
# auth_failure_delay, mail_max_userip_connections, bad-command limits), Debian-like TLS
# (`ssl = yes`, `disable_plaintext_auth = yes`, `auth_mechanisms = plain`), on
#                pop3://127.0.0.1:21110 (plain + STLS), pop3s://127.0.0.1:21995 (implicit TLS)
# One account with mail, pop3user/pop3-Passw0rd (an ORDINARY 3-message Maildir at start, not
# pop3test's maildrop), and pop3empty/empty-Passw0rd (empty). On 127.0.0.1 the rule above
# makes connections "secured", so USER/PASS works before STLS there, as it would on any
# Debian host's loopback. State under $POP3TEST_SERVERS_DIR/dovecot (default
# /tmp/pop3test-servers/dovecot), like the other servers in tests/servers/.
#
# Users (passwd-file, {PLAIN} scheme so APOP works): mrose/tanstaaf (seeded), empty/empty-pass,
# fuzz/fuzz-pass (seeded like mrose; for the fuzzer, so that reseeds of mrose during a destructive
# run never pull messages from under a fuzz session).
#
# Environment:
#   POP3TEST_DOVECOT_DIR    state dir (default /tmp/pop3test-dovecot); everything lives there
#   POP3TEST_BIN            pop3test binary used to seed mail via
#                           `$POP3TEST_BIN serve --export-maildir DIR`
#                           (default <repo>/target/debug/pop3test; built-in 3-message seed if
#                           it is missing or fails)
#   POP3TEST_DOVECOT_SYSUSER  unprivileged owner of the maildirs (default pop3test, created)
#   POP3TEST_DOVECOT_START_TIMEOUT  seconds to wait for the greetings (default 20)
#   POP3TEST_DOVECOT_REQUIRED_HOST  listen address of `required` (default 127.0.0.2; 127.x only)
#   POP3TEST_DOVECOT_CLEARTEXT_HOST listen address of `cleartext` (default 127.0.0.1; 127.x only)
#   POP3TEST_DOVECOT_AUTH_PENALTY   required and cleartext profiles only: 1 = keep Dovecot's
#                                   per-IP auth penalty; unset or anything else = penalty off
#                                   there (a commented deviation in their dovecot.conf says why).
#                                   The default profile always keeps the penalty.
#   POP3TEST_SERVERS_DIR            parent of the default profile's state dir
#                                   (default /tmp/pop3test-servers)
set -euo pipefail
umask 022

SCRIPT_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
SCRIPT_PATH=$SCRIPT_DIR/$(basename -- "${BASH_SOURCE[0]}")
REPO_ROOT=$(cd -- "$SCRIPT_DIR/../.." && pwd)

DIR=${POP3TEST_DOVECOT_DIR:-/tmp/pop3test-dovecot}
POP3TEST_BIN=${POP3TEST_BIN:-$REPO_ROOT/target/debug/pop3test}
SYSUSER=${POP3TEST_DOVECOT_SYSUSER:-pop3test}
START_TIMEOUT=${POP3TEST_DOVECOT_START_TIMEOUT:-20}
STOP_TIMEOUT=10
SEED_TIMEOUT=120

# The two profiles `start`, `reseed` and `status` mean without an argument.
PROFILES=(required cleartext)
ALL_PROFILES=(required cleartext default)
# Profiles a command acts on (start/stop/status); set by select_profiles.
SELECTED=("${PROFILES[@]}")
declare -A HOST=(
  [required]=${POP3TEST_DOVECOT_REQUIRED_HOST:-127.0.0.2}
  [cleartext]=${POP3TEST_DOVECOT_CLEARTEXT_HOST:-127.0.0.1}
  [default]=127.0.0.1
)
declare -A PORT=([required]=11110 [cleartext]=12110 [default]=21110)
declare -A TLS_PORT=([required]=11995 [cleartext]=12995 [default]=21995)
SERVERS_DIR=${POP3TEST_SERVERS_DIR:-/tmp/pop3test-servers}

# user:password pairs of the test accounts (test credentials, never real ones).
USERS=("mrose:tanstaaf" "empty:empty-pass" "fuzz:fuzz-pass")
# Users whose maildrop gets the seed messages (the others start empty).
SEEDED_USERS=(mrose fuzz)
# The default profile's accounts: pop3user gets the ORDINARY mailbox, pop3empty none.
DEFAULT_USERS=("pop3user:pop3-Passw0rd" "pop3empty:empty-Passw0rd")
DEFAULT_MAIL_USER=pop3user
# Fixed UIDVALIDITY written into dovecot-uidlist so UIDLs stay the same across reseeds.
UIDVALIDITY=1700000000

DOVECOT=/usr/sbin/dovecot
CERT=$DIR/certs/cert.pem
KEY=$DIR/certs/key.pem

log() { printf 'dovecot.sh: %s\n' "$*" >&2; }
warn() { printf 'dovecot.sh: warning: %s\n' "$*" >&2; }
die() { printf 'dovecot.sh: error: %s\n' "$*" >&2; exit 1; }

now_ms() {
  if [[ -n ${EPOCHREALTIME:-} ]]; then
    local t=${EPOCHREALTIME/[.,]/}
    echo $((10#$t / 1000))
  else
    date +%s%3N
  fi
}

check_dir() {
  case $DIR in
    /*) ;;
    *) DIR=$(pwd)/$DIR ;;
  esac
  DIR=${DIR%/}
  [[ -n $DIR && $DIR != / ]] || die "refusing state dir '$DIR'"
  # The path is written unquoted into dovecot.conf.
  [[ $DIR =~ ^[A-Za-z0-9_./+-]+$ ]] || die "state dir '$DIR' must match [A-Za-z0-9_./+-]+"
  CERT=$DIR/certs/cert.pem
  KEY=$DIR/certs/key.pem
  case $SERVERS_DIR in
    /*) ;;
    *) SERVERS_DIR=$(pwd)/$SERVERS_DIR ;;
  esac
  SERVERS_DIR=${SERVERS_DIR%/}
  [[ -n $SERVERS_DIR && $SERVERS_DIR != / ]] || die "refusing state dir '$SERVERS_DIR'"
  [[ $SERVERS_DIR =~ ^[A-Za-z0-9_./+-]+$ ]] || die "state dir '$SERVERS_DIR' must match [A-Za-z0-9_./+-]+"
}

need_root() { [[ $(id -u) == 0 ]] || die "'$1' must run as root (Dovecot drops privileges itself)"; }

pdir() {
  if [[ $1 == default ]]; then echo "$SERVERS_DIR/dovecot"; else echo "$DIR/$1"; fi
}
pidfile() { echo "$(pdir "$1")/run/master.pid"; }

lock() {
  mkdir -p "$DIR"
  exec 9>"$DIR/.lock"
  flock -w 120 9 || die "could not lock $DIR/.lock within 120 s"
}

# The default profile has its own lock (fd 7), so its reseeds never wait for the other two.
lock_default() {
  local d
  d=$(pdir default)
  mkdir -p "$d"
  exec 7>"$d/.lock"
  flock -w 120 7 || die "could not lock $d/.lock within 120 s"
}

# lock_selected: the locks of the profiles in SELECTED.
lock_selected() {
  local p legacy=0 dflt=0
  for p in "${SELECTED[@]}"; do
    if [[ $p == default ]]; then dflt=1; else legacy=1; fi
  done
  if ((legacy)); then lock; fi
  if ((dflt)); then lock_default; fi
}

# select_profiles [PROFILE|all]...: sets SELECTED (no argument: the given default list).
select_profiles() {
  local -a fallback=("${PROFILES[@]}")
  if [[ ${1:-} == --fallback-all ]]; then
    fallback=("${ALL_PROFILES[@]}")
    shift
  fi
  SELECTED=()
  local a p ok
  if (($# == 0)); then
    SELECTED=("${fallback[@]}")
    return
  fi
  for a in "$@"; do
    if [[ $a == all ]]; then
      SELECTED=("${ALL_PROFILES[@]}")
      return
    fi
    ok=0
    for p in "${ALL_PROFILES[@]}"; do [[ $a == "$p" ]] && ok=1; done
    ((ok)) || die "unknown profile '$a' (expected ${ALL_PROFILES[*]} or all)"
    SELECTED+=("$a")
  done
}

# ---------------------------------------------------------------- install

stop_system_dovecot() {
  # Debian's postinst may have started the system-wide instance (if nothing stopped it): it must
  # not keep ports or resources. Stop it by its own PID file, never by name.
  if command -v systemctl >/dev/null 2>&1 && [[ -d /run/systemd/system ]]; then
    systemctl stop dovecot.service dovecot.socket >/dev/null 2>&1 || true
  fi
  local pf=/run/dovecot/master.pid pid
  [[ -r $pf ]] || return 0
  pid=$(<"$pf")
  [[ $pid =~ ^[0-9]+$ ]] || return 0
  if kill -0 "$pid" 2>/dev/null && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q dovecot \
    && ! tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$DIR/"; then
    log "stopping the system dovecot (pid $pid) started by the package install"
    kill -TERM "$pid" 2>/dev/null || true
    wait_gone "$pid" "$STOP_TIMEOUT" || kill -KILL "$pid" 2>/dev/null || true
  fi
}

ensure_installed() {
  local need=()
  [[ -x $DOVECOT ]] || need+=(dovecot-core)
  [[ -x /usr/lib/dovecot/pop3-login && -x /usr/lib/dovecot/pop3 ]] || need+=(dovecot-pop3d)
  command -v openssl >/dev/null 2>&1 || need+=(openssl)
  ((${#need[@]})) || return 0

  need_root install
  command -v apt-get >/dev/null 2>&1 || die "missing ${need[*]} and no apt-get to install them"
  log "installing ${need[*]} (log: $DIR/install.log)"
  mkdir -p "$DIR"
  local policy=/usr/sbin/policy-rc.d created_policy=0 rc=0
  if [[ ! -e $policy ]]; then
    # Keep package scripts from starting the system daemon; removed again below (or on exit).
    printf '#!/bin/sh\nexit 101\n' >"$policy"
    chmod 755 "$policy"
    created_policy=1
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  {
    export DEBIAN_FRONTEND=noninteractive
    local opts=(-y -q -o DPkg::Lock::Timeout=120 -o Dpkg::Options::=--force-confdef
      -o Dpkg::Options::=--force-confold --no-install-recommends)
    timeout 900 apt-get install "${opts[@]}" "${need[@]}" >"$DIR/install.log" 2>&1 || {
      # A fresh machine may have no package lists yet.
      timeout 600 apt-get update -q >>"$DIR/install.log" 2>&1 &&
        timeout 900 apt-get install "${opts[@]}" "${need[@]}" >>"$DIR/install.log" 2>&1
    }
  } || rc=$?
  if ((created_policy)); then
    rm -f "$policy"
    trap - EXIT
  fi
  if ((rc != 0)); then
    tail -n 30 "$DIR/install.log" >&2 || true
    die "apt-get install ${need[*]} failed (exit $rc)"
  fi
  stop_system_dovecot
  [[ -x $DOVECOT && -x /usr/lib/dovecot/pop3-login ]] || die "dovecot still missing after install"
}

ensure_sysuser() {
  if ! id -u "$SYSUSER" >/dev/null 2>&1; then
    if command -v useradd >/dev/null 2>&1; then
      useradd --system --user-group --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin --comment "pop3test Dovecot maildirs" "$SYSUSER" ||
        id -u "$SYSUSER" >/dev/null 2>&1 || die "useradd $SYSUSER failed"
    else
      warn "no useradd; maildirs will belong to nobody"
      SYSUSER=nobody
    fi
  fi
  MAIL_UID=$(id -u "$SYSUSER")
  MAIL_GID=$(id -g "$SYSUSER")
  ((MAIL_UID != 0)) || die "mail user '$SYSUSER' must not be root"
}

# ---------------------------------------------------------------- certificate

ensure_cert() {
  local sans="DNS:localhost, IP:127.0.0.1, IP:127.0.0.2"
  local stamp=$DIR/certs/.sans
  if [[ -s $CERT && -s $KEY && -r $stamp && $(<"$stamp") == "$sans" ]] &&
    openssl x509 -in "$CERT" -noout -checkend 86400 >/dev/null 2>&1; then
    return 0
  fi
  mkdir -p "$DIR/certs"
  chmod 755 "$DIR/certs"
  cat >"$DIR/certs/openssl.cnf" <<EOF
[req]
distinguished_name = dn
prompt = no
x509_extensions = v3
[dn]
CN = localhost
[v3]
# Not a CA: rustls/webpki rejects an end-entity certificate that says CA:TRUE, and the file
# doubles as the trust anchor clients pass with --ca-file. No keyUsage: all uses allowed.
basicConstraints = critical, CA:FALSE
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
subjectAltName = $sans
EOF
  openssl req -x509 -new -newkey rsa:2048 -nodes -sha256 -days 3650 \
    -config "$DIR/certs/openssl.cnf" -keyout "$KEY.tmp" -out "$CERT.tmp" >/dev/null 2>&1 ||
    die "openssl could not make the certificate"
  chmod 600 "$KEY.tmp"
  chmod 644 "$CERT.tmp"
  mv -f "$KEY.tmp" "$KEY"
  mv -f "$CERT.tmp" "$CERT"
  printf '%s' "$sans" >"$stamp"
}

# ---------------------------------------------------------------- config

write_config() {
  local p=$1 d
  d=$(pdir "$p")
  mkdir -p "$d/run" "$d/state" "$d/log" "$d/home"
  [[ $p == default ]] || chmod 755 "$DIR"
  chmod 755 "$d" "$d/home"
  chmod 700 "$d/state"

  local users=$d/users line
  local -a accounts=("${USERS[@]}")
  [[ $p != default ]] || accounts=("${DEFAULT_USERS[@]}")
  : >"$users.tmp"
  for line in "${accounts[@]}"; do
    printf '%s:{PLAIN}%s\n' "${line%%:*}" "${line#*:}" >>"$users.tmp"
  done
  chown root:dovecot "$users.tmp" 2>/dev/null || true
  chmod 640 "$users.tmp"
  mv -f "$users.tmp" "$users"

  local ssl plaintext
  case $p in
    required) ssl=required plaintext=yes ;;
    default) ssl=yes plaintext=yes ;;
    *) ssl=yes plaintext=no ;;
  esac
  local dh=
  [[ -r /usr/share/dovecot/dh.pem ]] && dh="ssl_dh = </usr/share/dovecot/dh.pem"
  local ssl_comment
  if [[ $p == required ]]; then
    ssl_comment="# ssl = required: no authentication at all (USER/PASS, APOP, AUTH) before TLS. Dovecot
# counts a connection whose remote IP equals its local IP as secure whatever the settings, so
# this profile listens on 127.0.0.2 (clients connect from 127.0.0.1). disable_plaintext_auth
# alone (with ssl = yes) would still allow APOP before TLS."
  elif [[ $p == default ]]; then
    ssl_comment="# Debian's 10-ssl.conf (ssl = yes) and Dovecot's default disable_plaintext_auth = yes:
# no cleartext USER/PASS or AUTH PLAIN on an insecure connection. Note: this profile listens
# on 127.0.0.1 and Dovecot counts a connection whose remote IP equals its local IP as secure
# (\"localhost connections are always secured\"), so from 127.0.0.1 cleartext login IS accepted,
# exactly as on any Debian host's loopback. Not a setting we changed."
  else
    ssl_comment="# Permissive profile (deviation): USER/PASS and AUTH PLAIN/LOGIN allowed without TLS."
  fi
  local mechs_comment="# APOP needs the plaintext password ({PLAIN} scheme) and the APOP mechanism; with it the
# greeting carries the <timestamp>. PLAIN and LOGIN for AUTH (RFC 5034).
auth_mechanisms = plain login apop"
  if [[ $p == default ]]; then
    mechs_comment="# Debian's 10-auth.conf: PLAIN only (no APOP, no LOGIN). Accounts in a passwd-file instead
# of Debian's PAM passdb (private instance, no system users)."
    mechs_comment+=$'\nauth_mechanisms = plain'
  fi

  cat >"$d/dovecot.conf.tmp" <<EOF
# Generated by tests/servers/dovecot.sh ($p profile); rewritten on every start.
# Self-contained: nothing from /etc/dovecot is included. Settings not listed keep Dovecot's
# built-in defaults; every deviation is commented.
instance_name = pop3test-$p
base_dir = $d/run
state_dir = $d/state
log_path = $d/log/dovecot.log
# Log why logins fail (logging only, changes no behaviour).
auth_verbose = yes

protocols = pop3
listen = ${HOST[$p]}
# Must stay empty: trusted networks count as "secured" and would allow cleartext logins.
login_trusted_networks =

ssl = $ssl
ssl_cert = <$(cert_of "$p")
ssl_key = <$(key_of "$p")
$dh
$ssl_comment
disable_plaintext_auth = $plaintext

$mechs_comment
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u $users
}
userdb {
  driver = static
  args = uid=$MAIL_UID gid=$MAIL_GID home=$d/home/%u
}
mail_location = maildir:~/Maildir
# Stricter than the default: mail processes may run only as the test mail user.
first_valid_uid = $MAIL_UID
last_valid_uid = $MAIL_UID
first_valid_gid = $MAIL_GID
last_valid_gid = $MAIL_GID

$(penalty_config "$p")
service pop3-login {
  inet_listener pop3 {
    port = ${PORT[$p]}
  }
  inet_listener pop3s {
    port = ${TLS_PORT[$p]}
    ssl = yes
  }
}
EOF
  mv -f "$d/dovecot.conf.tmp" "$d/dovecot.conf"
}

penalty_config() {
  if [[ $1 == default ]]; then
    echo "# Auth penalty, auth_failure_delay, mail_max_userip_connections: Dovecot's defaults."
    return
  fi
  if [[ ${POP3TEST_DOVECOT_AUTH_PENALTY:-0} == 1 ]]; then
    echo "# Auth penalty left at Dovecot's default (POP3TEST_DOVECOT_AUTH_PENALTY=1)."
    return
  fi
  cat <<'EOF2'
# Deviation: the per-IP auth penalty is off (the documented way: the auth process cannot reach
# anvil's penalty socket). With it, failed logins from 127.0.0.1 -- all test traffic -- delay
# later logins from that IP, even correct ones (measured on the `default` profile, which keeps
# it: five different wrong passwords answered after 2, 6, 10, 17, 17 s; the next correct login
# took 15 s, the one after it none), so one wrong-password test slows or times out unrelated
# tests. auth_failure_delay (2 s before a failure reply) stays at its default.
# POP3TEST_DOVECOT_AUTH_PENALTY=1 restores the default.
service anvil {
  unix_listener anvil-auth-penalty {
    mode = 0
  }
}
EOF2
}

# ---------------------------------------------------------------- mail

builtin_seed() {
  local md=$1 i body name lf crlf lines
  mkdir -p "$md/cur" "$md/new" "$md/tmp"
  for i in 1 2 3; do
    body=$(printf 'Return-Path: <sender@example.org>\nFrom: Sender <sender@example.org>\nTo: Marshall Rose <mrose@example.org>\nSubject: built-in seed message %d\nDate: Mon, 02 Nov 2026 10:0%d:00 +0000\nMessage-ID: <pop3test-builtin-%d@example.org>\n\nThis is built-in seed message %d.\nThe pop3test binary was not available to export the full maildrop.\n' "$i" "$i" "$i" "$i")
    body+=$'\n'
    lf=$(printf '%s' "$body" | wc -c)
    lines=$(printf '%s' "$body" | wc -l)
    crlf=$((lf + lines))
    # Dovecot reads S= as the on-disk size and W= as the size with CRLF line ends.
    name="$((1700000000 + i - 1)).M${i}P1.pop3test,S=$lf,W=$crlf:2,"
    printf '%s' "$body" >"$md/cur/$name"
  done
}

# Dovecot trusts the Maildir file-name fields S=<size on disk> and W=<size with CRLF line ends>.
# A wrong S= makes it fail to open the whole mailbox ("Cached message size larger than
# expected" -> "-ERR [SYS/TEMP] Internal error" on the first command after login) and a wrong
# W= makes LIST disagree with RETR. Rewrite both from the actual bytes.
normalize_sizes() {
  local md=$1 f dir name base info size lfs crs vsize new fixed=0
  for f in "$md"/cur/* "$md"/new/*; do
    [[ -f $f ]] || continue
    dir=${f%/*}
    name=${f##*/}
    base=${name%%:*}
    info=
    [[ $name == *:* ]] && info=:${name#*:}
    size=$(stat -c %s -- "$f")
    lfs=$(tr -cd '\n' <"$f" | wc -c)
    # Line feeds already preceded by CR are sent as they are.
    crs=$(LC_ALL=C grep -c $'\r$' -- "$f" || true)
    # A final line without LF that ends in CR was counted by grep but is no CRLF.
    [[ $(tail -c 1 -- "$f" | od -An -tx1 | tr -d ' \n') == 0d ]] && crs=$((crs - 1))
    vsize=$((size + lfs - crs))
    base=$(sed -E 's/,[SW]=[0-9]+//g' <<<"$base")
    new="$base,S=$size,W=$vsize$info"
    if [[ $new != "$name" ]]; then
      mv -- "$f" "$dir/$new"
      fixed=$((fixed + 1))
    fi
  done
  if ((fixed)); then log "set S=/W= size fields in $fixed seed file name(s)"; fi
}

# Builds the seed Maildir once into $DIR/seed/Maildir.
make_seed() {
  local seed=$DIR/seed tmp=$DIR/seed.tmp out=$DIR/seed.log ok=0
  rm -rf "$tmp"
  mkdir -p "$tmp"
  if [[ -x $POP3TEST_BIN ]]; then
    if timeout "$SEED_TIMEOUT" "$POP3TEST_BIN" serve --export-maildir "$tmp/Maildir" \
      </dev/null >"$out" 2>&1; then
      if [[ -n $(find "$tmp/Maildir/cur" "$tmp/Maildir/new" -maxdepth 1 -type f 2>/dev/null | head -n 1) ]]; then
        ok=1
      else
        warn "'$POP3TEST_BIN serve --export-maildir' wrote no messages"
      fi
    else
      warn "'$POP3TEST_BIN serve --export-maildir' failed: $(tail -n 3 "$out" | tr '\n' ' ')"
    fi
  else
    warn "pop3test binary '$POP3TEST_BIN' not found (set POP3TEST_BIN)"
  fi
  if ((ok == 0)); then
    warn "seeding the small built-in maildrop (3 messages) instead of pop3test's default one"
    rm -rf "$tmp"
    mkdir -p "$tmp"
    builtin_seed "$tmp/Maildir"
    echo builtin >"$tmp/source"
  else
    echo "$POP3TEST_BIN" >"$tmp/source"
  fi
  mkdir -p "$tmp/Maildir/cur" "$tmp/Maildir/new" "$tmp/Maildir/tmp"
  normalize_sizes "$tmp/Maildir"
  rm -rf "$seed"
  mv "$tmp" "$seed"
}

# Writes dovecot-uidlist (format version 3) so the seeded messages get UIDs 1..n, in file-name
# order, under a fixed UIDVALIDITY: UIDLs (default format %08Xu%08Xv) stay the same across
# reseeds. Dovecot rebuilds a missing or bad uidlist by itself (with a new UIDVALIDITY).
write_uidlist() {
  local md=$1 n=0 f base
  local -a files=()
  while IFS= read -r f; do files+=("$f"); done < <(
    cd "$md" && find cur new -maxdepth 1 -type f -printf '%f\n' | LC_ALL=C sort
  )
  {
    printf '3 V%u N%u\n' "$UIDVALIDITY" "$((${#files[@]} + 1))"
    for f in "${files[@]}"; do
      n=$((n + 1))
      base=${f%%:*}
      printf '%u :%s\n' "$n" "$base"
    done
  } >"$md/dovecot-uidlist"
}

is_seeded_user() {
  local s
  for s in "${SEEDED_USERS[@]}"; do [[ $1 == "$s" ]] && return 0; done
  return 1
}

# seed_profile PROFILE [USER...]: replaces the maildrops of the given users (default: all).
seed_profile() {
  local p=$1 d home u md
  shift
  local -a users=("$@")
  if ((${#users[@]} == 0)); then
    for u in "${USERS[@]}"; do users+=("${u%%:*}"); done
  fi
  d=$(pdir "$p")
  home=$d/home
  mkdir -p "$home"
  for u in "${users[@]}"; do
    md=$home/$u/Maildir
    rm -rf "$home/$u.new"
    mkdir -p "$home/$u.new"
    if is_seeded_user "$u"; then
      cp -R "$DIR/seed/Maildir" "$home/$u.new/Maildir"
      # Messages go in cur/ (new/ is for unseen deliveries); keep whatever the exporter chose.
      write_uidlist "$home/$u.new/Maildir"
    else
      mkdir -p "$home/$u.new/Maildir/cur" "$home/$u.new/Maildir/new" "$home/$u.new/Maildir/tmp"
    fi
    chown -R "$MAIL_UID:$MAIL_GID" "$home/$u.new"
    chmod 700 "$home/$u.new"
    # Replace the whole home (indexes, dovecot.index.cache, dovecot-uidlist, ...) at once.
    rm -rf "$home/$u.old"
    if [[ -e $home/$u ]]; then mv "$home/$u" "$home/$u.old"; fi
    mv "$home/$u.new" "$home/$u"
    rm -rf "$home/$u.old"
  done
}

reseed_all() {
  make_seed
  local p
  for p in "${PROFILES[@]}"; do seed_profile "$p"; done
  log "seeded from $(<"$DIR/seed/source") ($(find "$DIR/seed/Maildir/cur" "$DIR/seed/Maildir/new" -type f | wc -l) messages for ${SEEDED_USERS[*]})"
}

# reseed_one PROFILE [USER...]: only that profile (and only those users), from the seed made at
# start (exported again only if it is missing). Quiet on success: it runs before every
# destructive check.
reseed_one() {
  local p=$1 u known ok
  shift
  [[ -n ${HOST[$p]:-} ]] || die "unknown profile '$p' (expected ${PROFILES[*]} or all)"
  for u in "$@"; do
    ok=0
    for known in "${USERS[@]}"; do [[ $u == "${known%%:*}" ]] && ok=1; done
    ((ok)) || die "unknown user '$u' (expected one of: ${USERS[*]%%:*})"
  done
  [[ -d $DIR/seed/Maildir ]] || make_seed
  seed_profile "$p" "$@"
}

# ---------------------------------------------------------------- the default profile's mail

default_state() { echo "$(pdir default)/mailbox-state"; }

# ordinary_default: pop3user gets the ORDINARY mailbox (three plain messages, not pop3test's
# maildrop; the same ones as the other servers in tests/servers/, from lib.sh), delivered into
# Maildir/new as an MDA would; pop3empty an empty Maildir. Each home is replaced as a whole
# (indexes, dovecot-uidlist and all), so the next login sees exactly that.
ordinary_default() {
  local d home tmp line u i t
  d=$(pdir default)
  home=$d/home
  mkdir -p "$home"
  tmp=$(mktemp -d "$d/.msgs.XXXXXX")
  SRV=dovecot bash -c 'source "$1"; write_ordinary_messages "$2"' _ "$SCRIPT_DIR/lib.sh" "$tmp" ||
    die "could not write the ordinary messages"
  for line in "${DEFAULT_USERS[@]}"; do
    u=${line%%:*}
    rm -rf "$home/$u.new"
    mkdir -p "$home/$u.new/Maildir/cur" "$home/$u.new/Maildir/new" "$home/$u.new/Maildir/tmp"
    if [[ $u == "$DEFAULT_MAIL_USER" ]]; then
      for i in 1 2 3; do
        t=$((1704160000 + i))
        cp "$tmp/$i.eml" "$home/$u.new/Maildir/tmp/$t.M${i}P1.ordinary"
        mv "$home/$u.new/Maildir/tmp/$t.M${i}P1.ordinary" "$home/$u.new/Maildir/new/$t.M${i}P1.ordinary"
      done
    fi
    chown -R "$MAIL_UID:$MAIL_GID" "$home/$u.new"
    chmod 700 "$home/$u.new"
    rm -rf "$home/$u.old"
    if [[ -e $home/$u ]]; then mv "$home/$u" "$home/$u.old"; fi
    mv "$home/$u.new" "$home/$u"
    rm -rf "$home/$u.old"
  done
  rm -rf "$tmp"
  echo ordinary >"$(default_state)"
}

# seed_default [--reset]: pop3test's standard maildrop into pop3user's Maildir with
# `pop3test seed` (idempotent by Message-ID). Without --reset it still resets when the Maildir
# holds the ORDINARY mailbox, so that `seed` always leaves exactly the standard messages.
# Dovecot re-reads the Maildir (and its dovecot-uidlist) at the next login; after a reset the
# indexes are rebuilt (below), so message N is the seed's N again.
seed_default() {
  local d md reset=()
  d=$(pdir default)
  md=$d/home/$DEFAULT_MAIL_USER/Maildir
  [[ ${1:-} == --reset || $(cat "$(default_state)" 2>/dev/null || echo ordinary) != standard ]] && reset=(--reset)
  [[ -x $POP3TEST_BIN ]] || die "pop3test binary '$POP3TEST_BIN' not found (build it or set POP3TEST_BIN)"
  if ! timeout "$SEED_TIMEOUT" "$POP3TEST_BIN" seed --user "$DEFAULT_MAIL_USER" --maildir "$md" \
    --owner "$MAIL_UID:$MAIL_GID" "${reset[@]}" </dev/null >"$d/log/seed.log" 2>&1; then
    tail -n 20 "$d/log/seed.log" >&2 || true
    die "'$POP3TEST_BIN seed --maildir $md' failed (log: $d/log/seed.log)"
  fi
  if ((${#reset[@]})); then
    # Dovecot's dovecot-uidlist still maps the file names of the earlier maildrop to their
    # UIDs: the reseeded messages that kept their names would keep their old UIDs and the
    # others get new ones at the end, so message numbers would no longer follow the seed order.
    # Start the indexes afresh: UIDs 1..n in file-name order under the fixed UIDVALIDITY, as
    # for the other profiles (and S=/W= checked, see normalize_sizes).
    normalize_sizes "$md"
    rm -f "$md"/dovecot.index* "$md"/dovecot-uidlist "$md"/dovecot-keywords
    write_uidlist "$md"
    chown "$MAIL_UID:$MAIL_GID" "$md/dovecot-uidlist"
  fi
  echo standard >"$(default_state)"
}

# The default profile uses the CA and certificate shared by the servers in tests/servers/
# (lib.sh: $POP3TEST_SERVERS_DIR/ca), the other two their own self-signed one.
ensure_default_cert() {
  SRV=dovecot POP3TEST_SERVERS_DIR=$SERVERS_DIR bash -c 'source "$1"; check_base; ensure_ca' _ "$SCRIPT_DIR/lib.sh" ||
    die "could not make the test CA under $SERVERS_DIR/ca"
}
ca_of() { if [[ $1 == default ]]; then echo "$SERVERS_DIR/ca/ca.pem"; else echo "$CERT"; fi; }
cert_of() { if [[ $1 == default ]]; then echo "$SERVERS_DIR/ca/server.pem"; else echo "$CERT"; fi; }
key_of() { if [[ $1 == default ]]; then echo "$SERVERS_DIR/ca/server.key"; else echo "$KEY"; fi; }

# ---------------------------------------------------------------- processes

wait_gone() { # pid timeout_s
  local pid=$1 deadline=$(($(now_ms) + $2 * 1000))
  while kill -0 "$pid" 2>/dev/null; do
    # A zombie of ours counts as gone.
    [[ $(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) == Z ]] && return 0
    (($(now_ms) < deadline)) || return 1
    sleep 0.1
  done
}

# PID of the profile's master process, if it runs.
master_pid() {
  local pf pid
  pf=$(pidfile "$1")
  [[ -r $pf ]] || return 1
  pid=$(<"$pf")
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  # Guard against a recycled PID: it must be our dovecot with our config.
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$(pdir "$1")/dovecot.conf" || return 1
  echo "$pid"
}

port_free() { # host port
  ! (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null
}

# Stops the given profiles: SIGTERM to every master first (Dovecot takes about a second to
# shut down), then a bounded wait for each, SIGKILL as a last resort.
stop_profiles() {
  local p pid
  local -A pids=()
  for p in "$@"; do
    if pid=$(master_pid "$p"); then
      kill -TERM "$pid" 2>/dev/null || true
      pids[$p]=$pid
    fi
  done
  for p in "$@"; do
    pid=${pids[$p]:-}
    if [[ -n $pid ]]; then
      if ! wait_gone "$pid" "$STOP_TIMEOUT"; then
        warn "$p: dovecot (pid $pid) did not stop within ${STOP_TIMEOUT}s; killing it"
        kill -KILL "$pid" 2>/dev/null || true
        wait_gone "$pid" 5 || die "$p: dovecot (pid $pid) survives SIGKILL"
      fi
      log "$p: stopped (pid $pid)"
    fi
    rm -f "$(pidfile "$p")"
  done
  # Login processes hold the listening sockets until they notice the master is gone.
  local port deadline=$(($(now_ms) + STOP_TIMEOUT * 1000))
  for p in "${!pids[@]}"; do
    for port in "${PORT[$p]}" "${TLS_PORT[$p]}"; do
      until port_free "${HOST[$p]}" "$port"; do
        (($(now_ms) < deadline)) || { warn "$p: ${HOST[$p]}:$port still accepts connections"; break; }
        sleep 0.1
      done
    done
  done
}

probe_plain() { # host port -> 0 if a +OK greeting arrives
  (
    exec 3<>"/dev/tcp/$1/$2" || exit 1
    IFS= read -r -t 2 line <&3 || exit 1
    exec 3>&-
    [[ $line == "+OK"* ]]
  ) 2>/dev/null
}

probe_tls() { # host port [ca] -> 0 if a +OK greeting arrives over verified TLS
  local out=$DIR/.probe-tls.$$ pid line='' i ca=${3:-$CERT}
  [[ -d $DIR ]] || out=$SERVERS_DIR/.probe-tls.$$
  # -quiet implies -ign_eof: s_client stays connected until it is killed.
  timeout 5 openssl s_client -connect "$1:$2" -servername localhost -CAfile "$ca" \
    -verify_return_error -quiet </dev/null >"$out" 2>/dev/null &
  pid=$!
  for ((i = 0; i < 40; i++)); do
    [[ -s $out ]] && grep -q $'\r' "$out" && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -TERM "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  IFS= read -r line <"$out" || true
  rm -f "$out"
  [[ $line == "+OK"* ]]
}

fail_start() { # profile message
  local d
  d=$(pdir "$1")
  printf 'dovecot.sh: error: %s\n--- last lines of %s ---\n' "$2" "$d/log/dovecot.log" >&2
  tail -n 30 "$d/log/dovecot.log" >&2 2>/dev/null || true
  if [[ -s $d/log/stderr.log ]]; then
    printf -- '--- %s ---\n' "$d/log/stderr.log" >&2
    tail -n 30 "$d/log/stderr.log" >&2 || true
  fi
  # Leave nothing half-started behind.
  stop_profiles "${SELECTED[@]}" 2>/dev/null || true
  exit 1
}

check_ports_free() {
  local p port
  for p in "${SELECTED[@]}"; do
    for port in "${PORT[$p]}" "${TLS_PORT[$p]}"; do
      port_free "${HOST[$p]}" "$port" ||
        die "$p: ${HOST[$p]}:$port is already in use by another process"
    done
  done
}

start_profile() {
  local p=$1 d
  d=$(pdir "$p")
  # Stale sockets from an earlier run must go: with the penalty socket disabled (mode = 0), a
  # leftover anvil-auth-penalty file would make the auth process retry it for 5 s.
  rm -rf "$d/run"
  # 7>&- 9>&-: the daemon must not inherit (and so hold) the locks.
  "$DOVECOT" -c "$d/dovecot.conf" >"$d/log/stderr.log" 2>&1 7>&- 9>&- ||
    fail_start "$p" "$p: dovecot -c $d/dovecot.conf failed"
}

wait_ready() {
  local deadline=$(($(now_ms) + START_TIMEOUT * 1000)) p port
  for p in "${SELECTED[@]}"; do
    for port in "${PORT[$p]}" "${TLS_PORT[$p]}"; do
      while :; do
        if [[ $port == "${PORT[$p]}" ]]; then
          probe_plain "${HOST[$p]}" "$port" && break
        else
          probe_tls "${HOST[$p]}" "$port" "$(ca_of "$p")" && break
        fi
        master_pid "$p" >/dev/null || fail_start "$p" "$p: dovecot exited during startup"
        (($(now_ms) < deadline)) ||
          fail_start "$p" "$p: no greeting on ${HOST[$p]}:$port within ${START_TIMEOUT}s"
        sleep 0.1
      done
    done
  done
}

# ---------------------------------------------------------------- commands

print_env_legacy() {
  local q
  printf 'export POP3TEST_DOVECOT_DIR=%q\n' "$DIR"
  printf 'export POP3TEST_DOVECOT_REQUIRED=pop3://%s:%s\n' "${HOST[required]}" "${PORT[required]}"
  printf 'export POP3TEST_DOVECOT_REQUIRED_TLS=pop3s://%s:%s\n' "${HOST[required]}" "${TLS_PORT[required]}"
  printf 'export POP3TEST_DOVECOT_CLEARTEXT=pop3://%s:%s\n' "${HOST[cleartext]}" "${PORT[cleartext]}"
  printf 'export POP3TEST_DOVECOT_CLEARTEXT_TLS=pop3s://%s:%s\n' "${HOST[cleartext]}" "${TLS_PORT[cleartext]}"
  printf 'export POP3TEST_DOVECOT_CA=%q\n' "$CERT"
  printf 'export POP3TEST_DOVECOT_USER=mrose POP3TEST_DOVECOT_PASSWORD=tanstaaf\n'
  printf 'export POP3TEST_DOVECOT_EMPTY_USER=empty POP3TEST_DOVECOT_EMPTY_PASSWORD=empty-pass\n'
  printf 'export POP3TEST_DOVECOT_FUZZ_USER=fuzz POP3TEST_DOVECOT_FUZZ_PASSWORD=fuzz-pass\n'
  if [[ $SCRIPT_PATH =~ ^[A-Za-z0-9_./+-]+$ ]]; then
    printf 'export POP3TEST_DOVECOT_RESEED="bash %s reseed"\n' "$SCRIPT_PATH"
    printf 'export POP3TEST_DOVECOT_RESEED_REQUIRED="bash %s reseed required mrose"\n' "$SCRIPT_PATH"
    printf 'export POP3TEST_DOVECOT_RESEED_CLEARTEXT="bash %s reseed cleartext mrose"\n' "$SCRIPT_PATH"
  else
    q=$(printf '%q' "$SCRIPT_PATH")
    printf 'export POP3TEST_DOVECOT_RESEED=%q\n' "bash $q reseed"
    printf 'export POP3TEST_DOVECOT_RESEED_REQUIRED=%q\n' "bash $q reseed required mrose"
    printf 'export POP3TEST_DOVECOT_RESEED_CLEARTEXT=%q\n' "bash $q reseed cleartext mrose"
  fi
}

print_env_default() {
  local e=POP3TEST_DOVECOT_DEFAULT q line
  q=$(printf '%q' "$SCRIPT_PATH")
  printf 'export %s_URL=pop3://%s:%s\n' "$e" "${HOST[default]}" "${PORT[default]}"
  printf 'export %s_TLS_URL=pop3s://%s:%s\n' "$e" "${HOST[default]}" "${TLS_PORT[default]}"
  line=${DEFAULT_USERS[0]}
  printf 'export %s_USER=%s %s_PASSWORD=%q\n' "$e" "${line%%:*}" "$e" "${line#*:}"
  line=${DEFAULT_USERS[1]}
  printf 'export %s_EMPTY_USER=%s %s_EMPTY_PASSWORD=%q\n' "$e" "${line%%:*}" "$e" "${line#*:}"
  printf 'export %s_CA=%q\n' "$e" "$(ca_of default)"
  printf 'export %s_SEED=%q\n' "$e" "bash $q seed default"
  printf 'export %s_UNSEED=%q\n' "$e" "bash $q unseed default"
  printf 'export %s_RESEED=%q\n' "$e" "bash $q reseed default"
  printf 'export %s_VERSION=%q\n' "$e" "$(dpkg-query -W -f='${Version}' dovecot-pop3d 2>/dev/null || true)"
}

print_env() { # PROFILE...: the export lines of the legacy pair and/or the default profile
  local p legacy=0 dflt=0
  for p in "$@"; do
    if [[ $p == default ]]; then dflt=1; else legacy=1; fi
  done
  if ((legacy)); then print_env_legacy; fi
  if ((dflt)); then print_env_default; fi
}

has_legacy() {
  local p
  for p in "${SELECTED[@]}"; do [[ $p == default ]] || return 0; done
  return 1
}
has_default() {
  local p
  for p in "${SELECTED[@]}"; do [[ $p != default ]] || return 0; done
  return 1
}

cmd_start() { # [PROFILE|all]... (default: required cleartext)
  need_root start
  select_profiles "$@"
  lock_selected
  ensure_installed
  ensure_sysuser
  if has_legacy; then ensure_cert; fi
  if has_default; then ensure_default_cert; fi
  local p
  stop_profiles "${SELECTED[@]}"
  check_ports_free
  for p in "${SELECTED[@]}"; do write_config "$p"; done
  if has_legacy; then
    local -a legacy=()
    for p in "${SELECTED[@]}"; do [[ $p == default ]] || legacy+=("$p"); done
    if [[ ${legacy[*]} == "${PROFILES[*]}" ]]; then
      reseed_all
    else
      make_seed
      for p in "${legacy[@]}"; do seed_profile "$p"; done
    fi
  fi
  if has_default; then ordinary_default; fi
  for p in "${SELECTED[@]}"; do
    : >"$(pdir "$p")/log/dovecot.log"
    start_profile "$p"
  done
  wait_ready
  for p in "${SELECTED[@]}"; do
    log "$p: pid $(master_pid "$p"), pop3://${HOST[$p]}:${PORT[$p]} pop3s://${HOST[$p]}:${TLS_PORT[$p]}"
  done
  print_env "${SELECTED[@]}"
}

cmd_stop() { # [PROFILE|all]... (default: all three)
  select_profiles --fallback-all "$@"
  local p
  local -a present=()
  for p in "${SELECTED[@]}"; do
    [[ -d $(pdir "$p") ]] && present+=("$p")
  done
  ((${#present[@]})) || return 0
  SELECTED=("${present[@]}")
  lock_selected
  stop_profiles "${SELECTED[@]}"
}

cmd_reseed() { # [PROFILE|all [USER...]]
  need_root reseed
  if [[ ${1:-} == default ]]; then
    (($# == 1)) || die "reseed default takes no user (it reseeds $DEFAULT_MAIL_USER)"
    cmd_seed default --reset
    return
  fi
  lock
  ensure_sysuser
  if [[ -z ${1:-} || $1 == all ]] && (($# <= 1)); then
    reseed_all
  elif [[ $1 == all ]]; then
    shift
    local p
    for p in "${PROFILES[@]}"; do reseed_one "$p" "$@"; done
  else
    reseed_one "$@"
  fi
}

default_running() {
  master_pid default >/dev/null || die "the default profile is not running (bash $SCRIPT_PATH start default)"
}

cmd_seed() { # [default] [--reset]
  need_root seed
  [[ ${1:-} != default ]] || shift
  [[ -z ${1:-} || $1 == --reset ]] || die "usage: $0 seed [default] [--reset] (only the default profile has seed)"
  lock_default
  ensure_sysuser
  default_running
  seed_default "$@"
}

cmd_unseed() { # [default]
  need_root unseed
  [[ -z ${1:-} || $1 == default ]] || die "usage: $0 unseed [default] (only the default profile has unseed)"
  lock_default
  ensure_sysuser
  default_running
  ordinary_default
}

cmd_status() { # [PROFILE|all]... (default: required cleartext)
  select_profiles "$@"
  local p pid rc=0
  for p in "${SELECTED[@]}"; do
    if pid=$(master_pid "$p"); then
      local s1=down s2=down
      probe_plain "${HOST[$p]}" "${PORT[$p]}" && s1=up || rc=1
      probe_tls "${HOST[$p]}" "${TLS_PORT[$p]}" "$(ca_of "$p")" && s2=up || rc=1
      printf '%-9s running pid %s  pop3://%s:%s %s  pop3s://%s:%s %s\n' "$p" "$pid" \
        "${HOST[$p]}" "${PORT[$p]}" "$s1" "${HOST[$p]}" "${TLS_PORT[$p]}" "$s2"
    else
      printf '%-9s stopped\n' "$p"
      rc=3
    fi
  done
  return "$rc"
}

main() {
  check_dir
  local h
  for h in "${HOST[@]}"; do
    # Loopback only: these servers and every probe of them must stay on this machine.
    [[ $h =~ ^127\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}$ ]] || die "listen address '$h' is not a 127.x.y.z loopback address"
  done
  case ${HOST[required]} in
    127.0.0.1 | ::1 | localhost)
      warn "required profile on ${HOST[required]}: Dovecot treats same-IP connections as secured, so TLS is NOT enforced" ;;
  esac
  case ${1:-} in
    start) shift; cmd_start "$@" ;;
    stop) shift; cmd_stop "$@" ;;
    reseed) shift; cmd_reseed "$@" ;;
    seed) shift; cmd_seed "$@" ;;
    unseed) shift; cmd_unseed "$@" ;;
    status) shift; cmd_status "$@" ;;
    env) shift; select_profiles "$@"; print_env "${SELECTED[@]}" ;;
    install) need_root install; mkdir -p "$DIR"; ensure_installed ;;
    packages) echo dovecot-core dovecot-pop3d openssl ;;
    -h | --help | help) sed -n '2,/^set -euo/p' "$SCRIPT_PATH" | sed '$d; s/^# \{0,1\}//' ;;
    *) die "usage: $0 start|stop|status|env [PROFILE|all] | reseed [PROFILE [USER...]] | seed|unseed default | install | packages" ;;
  esac
}

main "$@"
