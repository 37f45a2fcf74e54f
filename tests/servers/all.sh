#!/usr/bin/env bash
# The six real POP3 servers of pop3test's tests, together (each also works alone):
#   dovecot (tests/servers/dovecot.sh, its `default` profile), cyrus, courier, mailutils,
#   popa3d, solid-pop3d (tests/servers/NAME.sh).
#
#   bash tests/servers/all.sh install [NAME...]   one apt-get for every missing package, then
#                                                 unpack the .debs run by path
#   bash tests/servers/all.sh start [NAME...]     install, then start them in parallel, bounded;
#                                                 a failing server's log is printed; exit 1 then
#   bash tests/servers/all.sh stop [NAME...]      stop them (by PID, in parallel, bounded)
#   bash tests/servers/all.sh status [NAME...]    exit 0 only if every port of every one greets
#   bash tests/servers/all.sh env [NAME...]       every export line (eval "$(... env)")
#
# NAME: dovecot cyrus courier mailutils popa3d solid-pop3d (default: all six). `stop` here
# stops only Dovecot's default profile; `bash tests/servers/dovecot.sh stop` stops all three.
# Environment: POP3TEST_SERVERS_DIR (state, default /tmp/pop3test-servers), POP3TEST_BIN,
# POP3TEST_SERVERS_START_TIMEOUT (per server greeting wait, default 30 s),
# POP3TEST_SERVERS_BOUND (overall bound of the parallel start, default 120 s).
SRV=all
ENV_NAME=ALL
# shellcheck source=tests/servers/lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"

ALL_NAMES=(dovecot cyrus courier mailutils popa3d solid-pop3d)
BOUND=${POP3TEST_SERVERS_BOUND:-120}
[[ $BOUND =~ ^[0-9]+$ ]] || die "POP3TEST_SERVERS_BOUND must be a number of seconds"

# run NAME CMD: the server's script with CMD (Dovecot: its default profile).
run() {
  local name=$1 cmd=$2
  if [[ $name == dovecot ]]; then
    case $cmd in
      packages | install) bash "$LIB_DIR/dovecot.sh" "$cmd" ;;
      *) bash "$LIB_DIR/dovecot.sh" "$cmd" default ;;
    esac
  else
    bash "$LIB_DIR/$name.sh" "$cmd"
  fi
}

select_names() {
  NAMES=()
  local n k ok
  if (($# == 0)); then
    NAMES=("${ALL_NAMES[@]}")
    return
  fi
  for n in "$@"; do
    ok=0
    for k in "${ALL_NAMES[@]}"; do [[ $n == "$k" ]] && ok=1; done
    ((ok)) || die "unknown server '$n' (expected: ${ALL_NAMES[*]})"
    NAMES+=("$n")
  done
}

cmd_install_all() {
  need_root install
  mkdir -p "$BASE"
  local n p
  local -a pkgs=() these=()
  for n in "${NAMES[@]}"; do
    read -r -a these <<<"$(run "$n" packages)"
    for p in "${these[@]}"; do
      [[ " ${pkgs[*]} " == *" $p "* ]] || pkgs+=("$p")
    done
  done
  # One apt-get for all of them (only the missing ones).
  apt_install "${pkgs[@]}"
  # Then each script's own install step: nothing left for apt; .debs to unpack.
  for n in "${NAMES[@]}"; do
    run "$n" install >"$BASE/logs/$n.install.log" 2>&1 ||
      { cat "$BASE/logs/$n.install.log" >&2; die "$n: install failed"; }
  done
}

# parallel CMD: runs CMD for every selected server at once, each bounded by BOUND, output in
# $BASE/logs/NAME.CMD.log; prints one line per server; returns 1 if any failed.
parallel() {
  local cmd=$1 n rc=0 t0
  local -A pids=()
  t0=$(now_ms)
  for n in "${NAMES[@]}"; do
    rm -f "$BASE/logs/$n.$cmd.ms"
    # shellcheck disable=SC2016
    timeout --kill-after=10 "$BOUND" bash -c "$(declare -f run now_ms); LIB_DIR=$(printf '%q' "$LIB_DIR")"'
      t=$(now_ms); r=0; run "$1" "$2" || r=$?; echo $(($(now_ms) - t)) >"$3"; exit "$r"' \
      _ "$n" "$cmd" "$BASE/logs/$n.$cmd.ms" </dev/null >"$BASE/logs/$n.$cmd.log" 2>&1 &
    pids[$n]=$!
  done
  local r
  for n in "${NAMES[@]}"; do
    r=0
    wait "${pids[$n]}" || r=$?
    if ((r == 0)); then
      printf 'all: %-11s %s ok (%s ms)\n' "$n" "$cmd" "$(cat "$BASE/logs/$n.$cmd.ms" 2>/dev/null || echo '?')" >&2
    else
      rc=1
      if ((r == 124 || r == 137)); then
        printf 'all: %-11s %s TIMED OUT after %d s; its log:\n' "$n" "$cmd" "$BOUND" >&2
      else
        printf 'all: %-11s %s FAILED (exit %d); its log:\n' "$n" "$cmd" "$r" >&2
      fi
      sed 's/^/    /' "$BASE/logs/$n.$cmd.log" >&2 || true
    fi
  done
  printf 'all: %s of %d server(s) took %d ms\n' "$cmd" "${#NAMES[@]}" $(($(now_ms) - t0)) >&2
  return "$rc"
}

main() {
  check_base
  local cmd=${1:-}
  shift || true
  select_names "$@"
  case $cmd in
    install)
      mkdir -p "$BASE/logs"
      cmd_install_all
      ;;
    start)
      need_root start
      local t0 rc=0
      t0=$(now_ms)
      mkdir -p "$BASE/logs"
      cmd_install_all
      parallel start || rc=$?
      local n
      for n in "${NAMES[@]}"; do
        grep -E '^[a-z0-9-]+: (pop3s?|lmtp)' "$BASE/logs/$n.start.log" || true
      done
      log "start: $(($(now_ms) - t0)) ms in all (install included)"
      if ((rc)); then
        log "some servers did not start; stopping those that did"
        parallel stop >/dev/null 2>&1 || true
      fi
      return "$rc"
      ;;
    stop)
      [[ -d $BASE ]] || return 0
      mkdir -p "$BASE/logs"
      parallel stop
      ;;
    status)
      local n rc=0 r
      for n in "${NAMES[@]}"; do
        r=0
        run "$n" status || r=$?
        ((r == 0)) || rc=1
      done
      return "$rc"
      ;;
    env)
      local n
      for n in "${NAMES[@]}"; do run "$n" env; done
      ;;
    -h | --help | help) sed -n '2,/^[^#]/p' "$LIB_DIR/all.sh" | sed '$d; s/^# \{0,1\}//' ;;
    *) die "usage: all.sh install|start|stop|status|env [NAME...] (NAME: ${ALL_NAMES[*]})" ;;
  esac
}

main "$@"
