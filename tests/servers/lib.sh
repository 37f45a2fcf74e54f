# shellcheck shell=bash
# Shared helpers of the private POP3 servers in tests/servers/ (cyrus.sh, courier.sh,
# mailutils.sh, popa3d.sh, solid-pop3d.sh, all.sh). Sourced, never run.
#
# A server script sets SRV (its name), ENV_NAME (the NAME of its POP3TEST_<NAME>_* variables),
# defines the srv_* hooks below and ends with `srv_main "$@"`:
#   srv_packages     print the Debian packages it needs installed (apt), one per word
#   srv_unpack       unpack the .debs it runs by path (packages that Conflict with pop3-server)
#   srv_version      print the server's package version
#   srv_endpoints    print "plain PORT", "tls PORT", "lmtp PORT" lines: what must greet
#   srv_prepare      write config, accounts, certificates, the ORDINARY mailbox (server stopped)
#   srv_launch       start the daemon(s), recording each PID with record_pid
#   srv_ordinary     put the ORDINARY mailbox back (server running)
#   srv_seed [--reset]  the STANDARD maildrop via `pop3test seed` (server running)
#   srv_stop_extra   optional: stop helpers that are not in the pid files
#
# Everything lives under $BASE/$SRV (BASE = $POP3TEST_SERVERS_DIR, default
# /tmp/pop3test-servers); shared pieces (CA, accounts' homes, unpacked .debs) under $BASE.
# Nothing here edits /etc except useradd/chpasswd for the two test accounts.
set -euo pipefail
umask 022
export DEBIAN_FRONTEND=noninteractive
export LC_ALL=C

LIB_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd -- "$LIB_DIR/../.." && pwd)
BASE=${POP3TEST_SERVERS_DIR:-/tmp/pop3test-servers}
POP3TEST_BIN=${POP3TEST_BIN:-$REPO_ROOT/target/debug/pop3test}
HOST=127.0.0.1
# Test accounts (test credentials, never real ones).
ACCT_USER=pop3user
ACCT_PASS=pop3-Passw0rd
ACCT_EMPTY=pop3empty
ACCT_EMPTY_PASS=empty-Passw0rd
START_TIMEOUT=${POP3TEST_SERVERS_START_TIMEOUT:-30}
STOP_TIMEOUT=10
SEED_TIMEOUT=60
CA_DIR=$BASE/ca
CA_CERT=$CA_DIR/ca.pem
SERVER_CERT=$CA_DIR/server.pem
SERVER_KEY=$CA_DIR/server.key

SRV=${SRV:-lib}
ENV_NAME=${ENV_NAME:-LIB}

log() { printf '%s: %s\n' "$SRV" "$*" >&2; }
warn() { printf '%s: warning: %s\n' "$SRV" "$*" >&2; }
die() { printf '%s: error: %s\n' "$SRV" "$*" >&2; exit 1; }

now_ms() {
  local t=${EPOCHREALTIME/[.,]/}
  echo $((10#$t / 1000))
}

need_root() { [[ $(id -u) == 0 ]] || die "'$1' must run as root"; }

check_base() {
  case $BASE in /*) ;; *) BASE=$(pwd)/$BASE ;; esac
  BASE=${BASE%/}
  [[ -n $BASE && $BASE != / ]] || die "refusing state dir '$BASE'"
  # Paths are written unquoted into server configs.
  [[ $BASE =~ ^[A-Za-z0-9_./+-]+$ ]] || die "state dir '$BASE' must match [A-Za-z0-9_./+-]+"
  CA_DIR=$BASE/ca CA_CERT=$BASE/ca/ca.pem SERVER_CERT=$BASE/ca/server.pem SERVER_KEY=$BASE/ca/server.key
  D=$BASE/$SRV
}

ensure_base() {
  mkdir -p "$BASE" "$D"
  # Servers drop privileges and must traverse these.
  chmod 755 "$BASE" "$D"
}

# srv_lock: one operation on this server at a time (start, stop, seed...). fd 9; daemons are
# started with 9>&- so they never hold it.
srv_lock() {
  ensure_base
  exec 9>"$D/.lock"
  flock -w 120 9 || die "could not lock $D/.lock within 120 s"
}

# global_lock NAME CMD...: runs CMD under $BASE/.NAME.lock (fd 8), e.g. apt, useradd, the CA.
global_lock() {
  local name=$1
  shift
  mkdir -p "$BASE"
  (
    flock -w 900 8 || die "could not lock $BASE/.$name.lock"
    "$@"
  ) 8>"$BASE/.$name.lock"
}

# ---------------------------------------------------------------- packages

pkg_installed() { [[ $(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null) == installed ]]; }
pkg_version() { dpkg-query -W -f='${Version}' "$1" 2>/dev/null; }

# A tiny MTA (dma, no daemon) when there is none: cyrus-common Depends on
# "default-mta | mail-transport-agent" and apt would otherwise pull exim4. Never when an MTA
# exists (dma would replace it).
mta_packages() {
  if [[ ! -e /usr/sbin/sendmail ]] && ! dpkg-query -W -f='${Provides}\n' 2>/dev/null | grep -qw mail-transport-agent; then
    echo dma
  fi
}

_apt_install_locked() {
  local missing=() p rc=0 created=0 policy=/usr/sbin/policy-rc.d
  for p in "$@"; do pkg_installed "$p" || missing+=("$p"); done
  ((${#missing[@]})) || return 0
  command -v apt-get >/dev/null || die "missing ${missing[*]} and no apt-get"
  log "installing ${missing[*]} (log: $BASE/install.log)"
  if [[ ! -e $policy ]]; then
    # Package scripts must not start the system daemons (no init system here anyway).
    printf '#!/bin/sh\nexit 101\n' >"$policy"
    chmod 755 "$policy"
    created=1
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  local opts=(-y -q -o DPkg::Lock::Timeout=300 -o Dpkg::Options::=--force-confdef
    -o Dpkg::Options::=--force-confold --no-install-recommends)
  {
    timeout 900 apt-get install "${opts[@]}" "${missing[@]}" >>"$BASE/install.log" 2>&1 || {
      # A fresh machine may have stale or no package lists.
      timeout 600 apt-get update -q >>"$BASE/install.log" 2>&1 &&
        timeout 900 apt-get install "${opts[@]}" "${missing[@]}" >>"$BASE/install.log" 2>&1
    }
  } || rc=$?
  if ((created)); then
    rm -f "$policy"
    trap - EXIT
  fi
  if ((rc)); then
    tail -n 30 "$BASE/install.log" >&2 || true
    die "apt-get install ${missing[*]} failed (exit $rc)"
  fi
}

# apt_install PKG...: installs the missing ones, all in one apt-get call.
apt_install() {
  local p need=0
  for p in "$@"; do pkg_installed "$p" || need=1; done
  ((need)) || return 0
  need_root install
  global_lock install _apt_install_locked "$@"
}

_deb_unpack_locked() {
  local pkg=$1 want=$2 root=$BASE/ext/$1 got
  [[ -f $root/.version && $(<"$root/.version") == "$want" ]] && return 0
  mkdir -p "$BASE/debs"
  chmod 755 "$BASE/debs"
  rm -f "$BASE/debs/${pkg}"_*.deb
  (cd "$BASE/debs" && timeout 300 apt-get download -q "$pkg=$want" >>"$BASE/install.log" 2>&1) ||
    (cd "$BASE/debs" && timeout 600 apt-get update -q >>"$BASE/install.log" 2>&1 &&
      timeout 300 apt-get download -q "$pkg=$want" >>"$BASE/install.log" 2>&1) ||
    die "apt-get download $pkg=$want failed (log: $BASE/install.log)"
  got=$(dpkg-deb -f "$BASE/debs/${pkg}"_*.deb Version)
  rm -rf "$root.tmp"
  mkdir -p "$root.tmp"
  dpkg-deb -x "$BASE/debs/${pkg}"_*.deb "$root.tmp"
  echo "$got" >"$root.tmp/.version"
  rm -rf "$root"
  mv "$root.tmp" "$root"
  chmod 755 "$BASE/ext" "$root"
}

# deb_unpack PKG [VERSION]: PKG's .deb unpacked into $BASE/ext/PKG (not installed: it Conflicts
# with pop3-server). VERSION (e.g. that of an installed sibling package the .deb depends on
# with "=") or the candidate. Sets UNPACKED.
deb_unpack() {
  local pkg=$1 want=${2:-}
  UNPACKED=$BASE/ext/$pkg
  if [[ -n $want && -f $UNPACKED/.version && $(<"$UNPACKED/.version") == "$want" ]]; then
    return 0
  fi
  if [[ -z $want ]]; then
    # Already unpacked: keep it (apt-cache costs a second; remove $BASE/ext to refresh).
    [[ -f $UNPACKED/.version ]] && return 0
    want=$(apt-cache policy "$pkg" 2>/dev/null | awk '/Candidate:/ {print $2}')
    if [[ -z $want || $want == "(none)" ]]; then
      timeout 600 apt-get update -q >>"$BASE/install.log" 2>&1 || true
      want=$(apt-cache policy "$pkg" 2>/dev/null | awk '/Candidate:/ {print $2}')
    fi
    [[ -n $want && $want != "(none)" ]] || die "no installable version of $pkg"
  fi
  [[ -f $UNPACKED/.version && $(<"$UNPACKED/.version") == "$want" ]] && return 0
  need_root install
  mkdir -p "$BASE/ext"
  log "unpacking $pkg $want into $UNPACKED"
  global_lock install _deb_unpack_locked "$pkg" "$want"
}

unpacked_version() { cat "$BASE/ext/$1/.version" 2>/dev/null || true; }

# ---------------------------------------------------------------- accounts

_ensure_account_locked() {
  local u=$1 p=$2 h=$BASE/home/$1
  if ! id -u "$u" >/dev/null 2>&1; then
    useradd --no-create-home --home-dir "$h" --shell /usr/sbin/nologin --user-group \
      --comment "pop3test test account" "$u" || id -u "$u" >/dev/null 2>&1 || die "useradd $u failed"
  elif [[ $(getent passwd "$u" | cut -d: -f6) != "$h" ]]; then
    usermod --home "$h" "$u"
  fi
  printf '%s:%s\n' "$u" "$p" | chpasswd
  mkdir -p "$BASE/home" "$h"
  chmod 755 "$BASE/home"
  chown "$u:" "$h"
  chmod 700 "$h"
}

# ensure_accounts: the system users pop3user and pop3empty (home $BASE/home/USER), for the
# servers that authenticate against the system (PAM / shadow).
ensure_accounts() {
  global_lock users _ensure_account_locked "$ACCT_USER" "$ACCT_PASS"
  global_lock users _ensure_account_locked "$ACCT_EMPTY" "$ACCT_EMPTY_PASS"
}

# ensure_sysuser NAME HOME [GROUP]: a system user the package's postinst would have created
# (its own group, or GROUP).
_ensure_sysuser_locked() {
  id -u "$1" >/dev/null 2>&1 && return 0
  local grp=(--user-group)
  [[ -z ${3:-} ]] || grp=(--gid "$3")
  useradd --system "${grp[@]}" --no-create-home --home-dir "$2" --shell /usr/sbin/nologin "$1" ||
    id -u "$1" >/dev/null 2>&1 || die "useradd $1 failed"
}
ensure_sysuser() { global_lock users _ensure_sysuser_locked "$@"; }

# ---------------------------------------------------------------- certificates

_ensure_ca_locked() {
  local sans="DNS:localhost, IP:127.0.0.1" stamp=$CA_DIR/.sans
  if [[ -s $CA_CERT && -s $SERVER_CERT && -s $SERVER_KEY && -r $stamp && $(<"$stamp") == "$sans" ]] &&
    openssl x509 -in "$SERVER_CERT" -noout -checkend 86400 >/dev/null 2>&1 &&
    openssl verify -CAfile "$CA_CERT" "$SERVER_CERT" >/dev/null 2>&1; then
    return 0
  fi
  command -v openssl >/dev/null || die "openssl missing"
  local t=$CA_DIR.tmp
  rm -rf "$t"
  mkdir -p "$t"
  cat >"$t/ca.cnf" <<'EOF'
[req]
distinguished_name = dn
prompt = no
x509_extensions = v3
[dn]
CN = pop3test servers test CA
[v3]
basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
EOF
  cat >"$t/server.ext" <<EOF
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
subjectAltName = $sans
EOF
  {
    openssl req -x509 -new -newkey rsa:2048 -nodes -sha256 -days 3650 -config "$t/ca.cnf" \
      -keyout "$t/ca.key" -out "$t/ca.pem" &&
      openssl req -new -newkey rsa:2048 -nodes -sha256 -subj /CN=localhost \
        -keyout "$t/server.key" -out "$t/server.csr" &&
      openssl x509 -req -in "$t/server.csr" -CA "$t/ca.pem" -CAkey "$t/ca.key" -set_serial "0x$(openssl rand -hex 8)" \
        -days 825 -sha256 -extfile "$t/server.ext" -out "$t/server.pem"
  } >"$t/openssl.log" 2>&1 || { cat "$t/openssl.log" >&2; die "openssl could not make the CA or certificate"; }
  rm -f "$t/server.csr"
  chmod 600 "$t/ca.key" "$t/server.key"
  chmod 644 "$t/ca.pem" "$t/server.pem"
  printf '%s' "$sans" >"$t/.sans"
  rm -rf "$CA_DIR"
  mv "$t" "$CA_DIR"
  chmod 755 "$CA_DIR"
}

# ensure_ca: $CA_CERT (the PEM clients pass with --ca-file) and a server certificate it signed
# ($SERVER_CERT, $SERVER_KEY; SAN DNS:localhost, IP:127.0.0.1), shared by all servers.
ensure_ca() { global_lock ca _ensure_ca_locked; }

# install_cert OWNER[:GROUP]: the server's copies in $D/ssl: cert.pem, key.pem and combined.pem
# (key + cert, for Courier), readable by OWNER only.
install_cert() {
  local owner=$1
  mkdir -p "$D/ssl"
  chmod 755 "$D/ssl"
  cp -f "$SERVER_CERT" "$D/ssl/cert.pem"
  cp -f "$SERVER_KEY" "$D/ssl/key.pem"
  cat "$SERVER_KEY" "$SERVER_CERT" >"$D/ssl/combined.pem"
  chown "$owner" "$D/ssl/cert.pem" "$D/ssl/key.pem" "$D/ssl/combined.pem"
  chmod 644 "$D/ssl/cert.pem"
  chmod 600 "$D/ssl/key.pem" "$D/ssl/combined.pem"
}

# ---------------------------------------------------------------- the ORDINARY mailbox

# Three plain messages that are NOT pop3test's standard maildrop: a mailbox "we did not fill".
# LF line ends on disk (servers send CRLF). 1: small; 2: lines starting with dots; 3: ~4 KB.
write_ordinary_messages() { # DIR -> DIR/1.eml DIR/2.eml DIR/3.eml
  local d=$1 i
  mkdir -p "$d"
  cat >"$d/1.eml" <<'EOF'
Return-Path: <alice@example.net>
From: Alice Example <alice@example.net>
To: pop3user@localhost
Subject: Lunch on Friday?
Date: Tue, 02 Jan 2024 09:15:00 +0000
Message-ID: <ordinary-1.20240102091500@mail.example.net>
MIME-Version: 1.0
Content-Type: text/plain; charset=us-ascii

Hi,

are we still on for lunch on Friday?

Alice
EOF
  cat >"$d/2.eml" <<'EOF'
Return-Path: <build@ci.example.net>
From: Build Robot <build@ci.example.net>
To: pop3user@localhost
Subject: Nightly build log
Date: Tue, 02 Jan 2024 03:00:00 +0000
Message-ID: <ordinary-2.20240102030000@ci.example.net>
MIME-Version: 1.0
Content-Type: text/plain; charset=us-ascii

Build started.
.hidden files copied
..double dot line
.
. a dot and a space
Build finished.
EOF
  {
    cat <<'EOF'
Return-Path: <newsletter@lists.example.net>
From: Example Newsletter <newsletter@lists.example.net>
To: pop3user@localhost
Subject: Monthly newsletter (January)
Date: Tue, 02 Jan 2024 12:00:00 +0000
Message-ID: <ordinary-3.20240102120000@lists.example.net>
MIME-Version: 1.0
Content-Type: text/plain; charset=us-ascii

EOF
    for i in $(seq -w 1 60); do
      echo "Item $i: nothing much happened this month, and that is good news."
    done
    echo "See you next month."
  } >"$d/3.eml"
}

# write_ordinary_mbox FILE OWNER[:GROUP] MODE: an mbox (From_ separators; no body line starts
# with "From ", so no quoting) replacing FILE atomically.
write_ordinary_mbox() {
  local f=$1 owner=$2 mode=$3 tmp i
  tmp=$(mktemp -d "$D/.msgs.XXXXXX")
  write_ordinary_messages "$tmp"
  for i in 1 2 3; do
    echo "From sender@example.net  Tue Jan  2 0$i:00:00 2024"
    cat "$tmp/$i.eml"
    echo
  done >"$tmp/mbox"
  chown "$owner" "$tmp/mbox"
  chmod "$mode" "$tmp/mbox"
  rm -f "$f.lock"
  mv -f "$tmp/mbox" "$f"
  rm -rf "$tmp"
}

# write_ordinary_maildir DIR OWNER[:GROUP]: a fresh Maildir (tmp/ cur/ new/), the three messages
# delivered into new/ the way an MDA does (write in tmp/, rename into new/). Everything else in
# DIR (server caches and indexes) goes.
write_ordinary_maildir() {
  local md=$1 owner=$2 tmp i t
  tmp=$(mktemp -d "$D/.msgs.XXXXXX")
  write_ordinary_messages "$tmp"
  rm -rf "$md.new"
  mkdir -p "$md.new/tmp" "$md.new/cur" "$md.new/new"
  for i in 1 2 3; do
    t=$((1704160000 + i))
    cp "$tmp/$i.eml" "$md.new/tmp/$t.M${i}P1.ordinary"
    mv "$md.new/tmp/$t.M${i}P1.ordinary" "$md.new/new/$t.M${i}P1.ordinary"
  done
  chown -R "$owner" "$md.new"
  chmod -R go-rwx "$md.new"
  rm -rf "$md.old"
  if [[ -e $md ]]; then mv "$md" "$md.old"; fi
  mv "$md.new" "$md"
  rm -rf "$md.old" "$tmp"
}

# Which mailbox pop3user has: "ordinary" or "standard" (decides whether `seed` must reset).
set_mailbox_state() { echo "$1" >"$D/mailbox-state"; }
mailbox_state() { cat "$D/mailbox-state" 2>/dev/null || echo ordinary; }

# ---------------------------------------------------------------- seeding

# run_seed ARGS...: `$POP3TEST_BIN seed ARGS...`, bounded; the output goes to $D/seed.log.
run_seed() {
  [[ -x $POP3TEST_BIN ]] || die "pop3test binary '$POP3TEST_BIN' not found (build it or set POP3TEST_BIN)"
  if ! timeout "$SEED_TIMEOUT" "$POP3TEST_BIN" seed "$@" </dev/null >"$D/seed.log" 2>&1; then
    tail -n 20 "$D/seed.log" >&2 || true
    die "'$POP3TEST_BIN seed $*' failed (log: $D/seed.log)"
  fi
}

# ---------------------------------------------------------------- processes

# proc_stat PID: sets STAT_F to the fields of /proc/PID/stat after "(comm)": [0] state,
# [1] ppid, [2] pgrp, [19] start time (clock ticks since boot, tells a PID from a recycled one).
proc_stat() {
  local line
  { IFS= read -r line <"/proc/$1/stat"; } 2>/dev/null || return 1
  read -r -a STAT_F <<<"${line##*) }"
}
proc_start() { proc_stat "$1" && echo "${STAT_F[19]}"; }
proc_alive() { proc_stat "$1" && [[ ${STAT_F[0]} != Z && ${STAT_F[0]} != X ]]; }
proc_pgrp() { proc_stat "$1" && echo "${STAT_F[2]}"; }

# record_pid NAME PID: $D/run/NAME.pid holds "PID STARTTIME".
record_pid() {
  mkdir -p "$D/run"
  printf '%s %s\n' "$2" "$(proc_start "$2")" >"$D/run/$1.pid"
}

# pid_of NAME: the recorded PID if that very process still runs.
pid_of() {
  local f=$D/run/$1.pid pid st
  [[ -r $f ]] || return 1
  read -r pid st <"$f" || return 1
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  proc_alive "$pid" || return 1
  [[ $(proc_start "$pid") == "$st" ]] || return 1
  echo "$pid"
}

# group_members PGID: PIDs (alive) in that process group.
group_members() {
  local f pid
  for f in /proc/[0-9]*; do
    pid=${f#/proc/}
    proc_stat "$pid" || continue
    [[ ${STAT_F[2]} == "$1" && ${STAT_F[0]} != Z && ${STAT_F[0]} != X ]] && echo "$pid"
  done
  return 0
}

# launch NAME LOG CMD...: starts CMD detached (own session, so its process group is its PID),
# stdin /dev/null, output to LOG, without our lock fds; records its PID as NAME.
launch() {
  local name=$1 logf=$2
  shift 2
  setsid "$@" </dev/null >>"$logf" 2>&1 8>&- 9>&- &
  local pid=$!
  record_pid "$name" "$pid"
  # shellcheck disable=SC2034 # read by the server scripts
  LAUNCHED=$pid
}

# stop_recorded NAME...: SIGTERM to each recorded process and its process group (it was started
# as a session leader by launch, so the group is ours), bounded wait, then SIGKILL. Only PIDs.
stop_recorded() {
  local n pid deadline
  local -a pids=()
  for n in "$@"; do
    if pid=$(pid_of "$n"); then
      pids+=("$pid")
      if [[ $(proc_pgrp "$pid") == "$pid" ]]; then
        kill -TERM -- "-$pid" 2>/dev/null || true
      else
        kill -TERM "$pid" 2>/dev/null || true
      fi
    fi
  done
  deadline=$(($(now_ms) + STOP_TIMEOUT * 1000))
  for pid in "${pids[@]}"; do
    while proc_alive "$pid" || [[ -n $(group_members "$pid") ]]; do
      if (($(now_ms) >= deadline)); then
        warn "pid $pid (or its group) did not stop within ${STOP_TIMEOUT}s; killing it"
        kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
        sleep 0.2
        break
      fi
      sleep 0.1
    done
  done
  for n in "$@"; do rm -f "$D/run/$n.pid"; done
}

port_open() { (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null; }

wait_ports_free() { # PORT...
  local p deadline=$(($(now_ms) + STOP_TIMEOUT * 1000))
  for p in "$@"; do
    while port_open "$p"; do
      (($(now_ms) < deadline)) || { warn "$HOST:$p still accepts connections"; return 1; }
      sleep 0.1
    done
  done
}

# probe_plain PORT [PREFIX]: 0 if the first line starts with PREFIX (default "+OK").
probe_plain() {
  local want=${2:-+OK}
  # shellcheck disable=SC2016 # expanded by the inner bash
  timeout 5 bash -c '
    exec 3<>"/dev/tcp/$1/$2" || exit 1
    IFS= read -r -t 4 line <&3 || exit 1
    [[ $line == "$3"* ]]' _ "$HOST" "$1" "$want" 2>/dev/null
}

# probe_tls PORT: 0 if a +OK greeting arrives over TLS verified against $CA_CERT for 127.0.0.1.
probe_tls() {
  local out
  # QUIT is sent right after the handshake: the server answers it after the greeting and
  # closes, so s_client ends at once (-quiet ignores the end of stdin).
  out=$(printf 'QUIT\r\n' | timeout 5 openssl s_client -connect "$HOST:$1" -servername localhost \
    -verify_ip "$HOST" -CAfile "$CA_CERT" -verify_return_error -quiet 2>/dev/null | head -n 1) || true
  [[ $out == "+OK"* ]]
}

probe_endpoint() { # KIND PORT
  case $1 in
    plain) probe_plain "$2" ;;
    tls) probe_tls "$2" ;;
    lmtp) probe_plain "$2" 220 ;;
    *) return 1 ;;
  esac
}

endpoint_ports() { srv_endpoints | awk '{print $2}'; }

# ---------------------------------------------------------------- commands

print_env() {
  local e=POP3TEST_${ENV_NAME} kind port url='' tls_url='' script q
  while read -r kind port; do
    case $kind in
      plain) url=pop3://$HOST:$port ;;
      tls) tls_url=pop3s://$HOST:$port ;;
    esac
  done < <(srv_endpoints)
  script=$LIB_DIR/$SRV.sh
  q=$(printf '%q' "$script")
  printf 'export %s_URL=%s\n' "$e" "$url"
  [[ -z $tls_url ]] || printf 'export %s_TLS_URL=%s\n' "$e" "$tls_url"
  printf 'export %s_USER=%s %s_PASSWORD=%q\n' "$e" "$ACCT_USER" "$e" "$ACCT_PASS"
  printf 'export %s_EMPTY_USER=%s %s_EMPTY_PASSWORD=%q\n' "$e" "$ACCT_EMPTY" "$e" "$ACCT_EMPTY_PASS"
  printf 'export %s_CA=%q\n' "$e" "$CA_CERT"
  printf 'export %s_SEED=%q\n' "$e" "bash $q seed"
  printf 'export %s_UNSEED=%q\n' "$e" "bash $q unseed"
  printf 'export %s_RESEED=%q\n' "$e" "bash $q reseed"
  printf 'export %s_VERSION=%q\n' "$e" "$(srv_version 2>/dev/null || true)"
}

print_endpoints() {
  local kind port
  while read -r kind port; do
    case $kind in
      plain) printf '%s: pop3://%s:%s\n' "$SRV" "$HOST" "$port" ;;
      tls) printf '%s: pop3s://%s:%s (implicit TLS)\n' "$SRV" "$HOST" "$port" ;;
      lmtp) printf '%s: lmtp %s:%s (seeding)\n' "$SRV" "$HOST" "$port" ;;
    esac
  done < <(srv_endpoints)
  printf '%s: %s/%s (mail), %s/%s (empty); CA %s; version %s\n' "$SRV" "$ACCT_USER" "$ACCT_PASS" \
    "$ACCT_EMPTY" "$ACCT_EMPTY_PASS" "$CA_CERT" "$(srv_version 2>/dev/null || echo '?')"
}

srv_logs() { # the tail of every log of this server, for failures
  local f
  for f in "$D"/log/*.log; do
    [[ -s $f ]] || continue
    printf -- '--- %s ---\n' "$f" >&2
    tail -n 25 "$f" >&2 || true
  done
}

srv_running_pids() { # PIDs of this server's recorded processes that still run
  local f
  for f in "$D"/run/*.pid; do
    [[ -e $f ]] || continue
    f=${f##*/}
    pid_of "${f%.pid}" || true
  done
}

do_stop() {
  local names=() f
  for f in "$D"/run/*.pid; do
    [[ -e $f ]] || continue
    f=${f##*/}
    names+=("${f%.pid}")
  done
  local running
  running=$(srv_running_pids)
  ((${#names[@]} == 0)) || stop_recorded "${names[@]}"
  if declare -F srv_stop_extra >/dev/null; then srv_stop_extra; fi
  # Only when something of ours ran (a foreign listener is reported by start instead).
  # shellcheck disable=SC2046
  [[ -z $running ]] || wait_ports_free $(endpoint_ports) || true
}

wait_ready() {
  local deadline=$(($(now_ms) + START_TIMEOUT * 1000)) kind port
  while read -r kind port; do
    until probe_endpoint "$kind" "$port"; do
      if [[ -z $(srv_running_pids) ]]; then
        fail_start "the server exited during startup"
      fi
      (($(now_ms) < deadline)) || fail_start "no greeting on $HOST:$port ($kind) within ${START_TIMEOUT}s"
      sleep 0.1
    done
  done < <(srv_endpoints)
}

fail_start() {
  printf '%s: error: %s\n' "$SRV" "$1" >&2
  srv_logs
  do_stop 2>/dev/null || true
  exit 1
}

cmd_install() {
  local pkgs
  read -r -a pkgs <<<"$(srv_packages | tr '\n' ' ')"
  apt_install "${pkgs[@]}"
  srv_unpack
}

cmd_start() {
  need_root start
  local t0
  t0=$(now_ms)
  srv_lock
  cmd_install
  do_stop
  local p
  for p in $(endpoint_ports); do
    port_open "$p" && die "$HOST:$p is already in use by another process"
  done
  mkdir -p "$D/log" "$D/run"
  chmod 755 "$D/log" "$D/run"
  ensure_ca
  srv_prepare
  set_mailbox_state ordinary
  srv_launch
  wait_ready
  log "up in $(($(now_ms) - t0)) ms (pids $(srv_running_pids | tr '\n' ' '))"
  print_endpoints
}

cmd_stop() {
  [[ -d $D ]] || return 0
  srv_lock
  do_stop
}

cmd_status() {
  local rc=0 kind port s pids
  pids=$(srv_running_pids | tr '\n' ' ')
  if [[ -z $pids ]]; then
    printf '%-11s stopped\n' "$SRV"
    return 3
  fi
  local line="running pids ${pids% }:"
  while read -r kind port; do
    if probe_endpoint "$kind" "$port"; then s=up; else s=down rc=1; fi
    line+=" $kind $HOST:$port $s"
  done < <(srv_endpoints)
  printf '%-11s %s\n' "$SRV" "$line"
  return "$rc"
}

need_running() {
  [[ -n $(srv_running_pids) ]] || die "$SRV is not running (bash $LIB_DIR/$SRV.sh start)"
}

cmd_seed() { # [--reset]
  need_root seed
  srv_lock
  need_running
  if [[ ${1:-} == --reset || $(mailbox_state) != standard ]]; then
    srv_seed --reset
  else
    srv_seed
  fi
  set_mailbox_state standard
}

cmd_unseed() {
  need_root unseed
  srv_lock
  need_running
  srv_ordinary
  set_mailbox_state ordinary
}

srv_usage() {
  die "usage: $SRV.sh start|stop|status|env|seed [--reset]|unseed|reseed|install|packages"
}

srv_main() {
  check_base
  case ${1:-} in
    start) cmd_start ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    env) print_env ;;
    seed) shift; cmd_seed "$@" ;;
    unseed) cmd_unseed ;;
    reseed) cmd_seed --reset ;;
    install) need_root install; mkdir -p "$BASE"; cmd_install ;;
    packages) srv_packages | tr '\n' ' ' | sed 's/ *$//'; echo ;;
    -h | --help | help) sed -n '2,/^[^#]/p' "$LIB_DIR/$SRV.sh" | sed '$d; s/^# \{0,1\}//' ;;
    *) srv_usage ;;
  esac
}
