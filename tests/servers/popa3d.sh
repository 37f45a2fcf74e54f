#!/usr/bin/env bash
# A private popa3d (Openwall; Debian 12 popa3d) on loopback, for pop3test's tests and CI.
#
#   bash tests/servers/popa3d.sh start     install if missing, (re)start, ORDINARY mailbox, wait
#   bash tests/servers/popa3d.sh stop      stop every process of the instance by PID, bounded
#   bash tests/servers/popa3d.sh status    exit 0 only if the port greets (3: not running)
#   bash tests/servers/popa3d.sh env       print the POP3TEST_POPA3D_* export lines
#   bash tests/servers/popa3d.sh seed      pop3test's standard maildrop (pop3test seed --mbox)
#   bash tests/servers/popa3d.sh unseed    back to the ORDINARY 3-message mailbox
#   bash tests/servers/popa3d.sh reseed    = seed --reset (before each destructive check)
#
# Endpoint: pop3://127.0.0.1:26110, plain POP3 only (popa3d has no TLS, no STLS, no CAPA).
# System accounts pop3user / pop3-Passw0rd and pop3empty / empty-Passw0rd (PAM service
# "popa3d"; without the package's /etc/pam.d/popa3d PAM uses /etc/pam.d/other, the same
# common-auth/common-account stack). popa3d Conflicts with pop3-server, so its .deb is unpacked
# under $BASE/ext/popa3d.
#
# Debian's default (debconf popa3d/standalone = true) is standalone mode, `popa3d -D`, with its
# anti-flood limits. That mode binds 0.0.0.0:110 (compiled in), and the spool /var/mail is
# compiled in too. So popa3d runs in a private network and mount namespace: there it binds
# :110 of its own loopback and sees $D/spool mounted on /var/mail; a socat pair joins it to
# 127.0.0.1:26110 through a unix socket ($D/run/popa3d.sock). Every connection reaches popa3d
# from 127.0.0.1, as all test traffic would anyway, so its per-source limits apply unchanged.
#
# Environment: POP3TEST_POPA3D_MODE=standalone (default, Debian's) or inetd (Debian's other
# debconf choice: one popa3d per connection from socat, no anti-flood limits).
SRV=popa3d
ENV_NAME=POPA3D
# shellcheck source=tests/servers/lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"

PORT=26110
MODE=${POP3TEST_POPA3D_MODE:-standalone}
[[ $MODE == standalone || $MODE == inetd ]] || die "POP3TEST_POPA3D_MODE must be standalone or inetd"

srv_packages() { echo libpam0g libpam-runtime socat util-linux iproute2; }

srv_unpack() {
  deb_unpack popa3d
  BIN=$UNPACKED/usr/sbin/popa3d
  [[ -x $BIN ]] || die "no popa3d in $UNPACKED"
}

srv_version() { unpacked_version popa3d; }
srv_endpoints() { echo "plain $PORT"; }

write_empty_mbox() {
  : >"$D/spool/$ACCT_EMPTY"
  chown "$ACCT_EMPTY:mail" "$D/spool/$ACCT_EMPTY"
  chmod 660 "$D/spool/$ACCT_EMPTY"
}

srv_prepare() {
  unshare -m -n --propagation private true 2>/dev/null ||
    die "cannot create mount and network namespaces (unshare -m -n): popa3d needs them here"
  # What the package's postinst creates: the user popa3d drops to, and its empty chroot dir.
  ensure_sysuser popa3d /var/lib/popa3d
  mkdir -p /var/lib/popa3d
  chown root:root /var/lib/popa3d
  chmod 755 /var/lib/popa3d
  ensure_accounts
  mkdir -p "$D/spool"
  # Like /var/mail (root:mail, 2775); mbox files USER:mail 660.
  chown root:mail "$D/spool"
  chmod 2775 "$D/spool"
  rm -f "$D/spool"/*
  write_ordinary_mbox "$D/spool/$ACCT_USER" "$ACCT_USER:mail" 660
  write_empty_mbox
  rm -f "$D/run/popa3d.sock"
}

# daemon_in_ns NSPID: PID of the process running $BIN in the network namespace of NSPID.
daemon_in_ns() {
  local ns f pid
  ns=$(readlink "/proc/$1/ns/net" 2>/dev/null) || return 1
  [[ $ns != "$(readlink /proc/self/ns/net)" ]] || return 1
  while IFS= read -r f; do
    pid=${f#/proc/}
    pid=${pid%/exe}
    [[ $pid != "$1" && $(readlink "/proc/$pid/ns/net" 2>/dev/null) == "$ns" ]] && { echo "$pid"; return 0; }
  done < <(find /proc -mindepth 2 -maxdepth 2 -path '/proc/[0-9]*/exe' -lname "$BIN" 2>/dev/null)
  return 1
}

srv_launch() {
  if [[ $MODE == inetd ]]; then
    # shellcheck disable=SC2016
    launch ns "$D/log/socat.log" unshare -m --propagation private -- /bin/sh -c \
      'mount --bind "$1" /var/mail && exec socat -lf "$2" "TCP-LISTEN:$3,bind=127.0.0.1,reuseaddr,fork" "EXEC:$4,nofork"' \
      sh "$D/spool" "$D/log/socat.log" "$PORT" "$BIN"
    return
  fi
  # In the namespaces: the spool, loopback up, popa3d -D (it detaches), then the inner half of
  # the bridge in the foreground.
  # shellcheck disable=SC2016
  launch ns "$D/log/ns.log" unshare -m -n --propagation private -- /bin/sh -c \
    'set -e; mount --bind "$1" /var/mail; ip link set lo up; "$2" -D;
     exec socat -lf "$3" "UNIX-LISTEN:$4,fork,unlink-early,mode=600" TCP:127.0.0.1:110' \
    sh "$D/spool" "$BIN" "$D/log/bridge-inner.log" "$D/run/popa3d.sock"
  local ns=$LAUNCHED i found=
  for ((i = 0; i < 200; i++)); do
    [[ -n $found ]] || found=$(daemon_in_ns "$ns") || true
    [[ -n $found && -S $D/run/popa3d.sock ]] && break
    pid_of ns >/dev/null || fail_start "the namespace shell exited: $(tail -n 5 "$D/log/ns.log" | tr '\n' ' ')"
    sleep 0.05
  done
  [[ -n $found ]] || fail_start "popa3d -D did not start in its namespace"
  record_pid daemon "$found"
  launch bridge "$D/log/bridge.log" socat -lf "$D/log/bridge.log" \
    "TCP-LISTEN:$PORT,bind=$HOST,reuseaddr,fork" "UNIX-CONNECT:$D/run/popa3d.sock"
}

srv_stop_extra() { rm -f "$D/run/popa3d.sock"; }

srv_ordinary() {
  write_ordinary_mbox "$D/spool/$ACCT_USER" "$ACCT_USER:mail" 660
}

srv_seed() { # [--reset]
  run_seed --user "$ACCT_USER" --mbox "$D/spool/$ACCT_USER" --owner "$ACCT_USER:mail" "$@"
}

srv_main "$@"
