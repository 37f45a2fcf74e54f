#!/bin/sh
# Regenerates the audit-client samples in this directory and their client matrix (matrix.md,
# matrix.html): curl with and without --ssl-reqd, fetchmail, mpop and getmail6 (when installed), and
# Python poplib's documented plain USER/PASS example and its stls() variant. Loopback only; each
# client gets its own HOME; the password is a throwaway one (every transcript shows <redacted>).
# Usage: reports/clients/generate.sh [path/to/pop3test]
set -eu
here=$(cd "$(dirname "$0")" && pwd)
pt=${1:-"$here/../../target/debug/pop3test"}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export HOME="$tmp/home" NO_COLOR=1
mkdir -p "$HOME"
cat > "$tmp/plain.py" <<'PY'
import poplib, sys
M = poplib.POP3(sys.argv[1], int(sys.argv[2]), timeout=5)
M.user("alice"); M.pass_("sample-pw"); M.stat(); M.quit()
PY
cat > "$tmp/stls.py" <<'PY'
import poplib, ssl, sys
M = poplib.POP3(sys.argv[1], int(sys.argv[2]), timeout=5)
M.stls(context=ssl.create_default_context(cafile=sys.argv[3]))
M.user("alice"); M.pass_("sample-pw"); M.stat(); M.quit()
PY
cat > "$tmp/implicit.py" <<'PY'
import poplib, ssl, sys
M = poplib.POP3_SSL(sys.argv[1], int(sys.argv[2]), timeout=5, context=ssl.create_default_context(cafile=sys.argv[3]))
M.user("alice"); M.pass_("sample-pw"); M.stat(); M.quit()
PY
# Each client is named with its version and configuration (the matrix's columns).
cv=$(curl --version | head -n 1 | cut -d' ' -f2)
pv=$(python3 -c 'import sys; print(sys.version.split()[0])')
reports() { for f in json markdown html; do printf -- '--report %s=%s/%s.%s ' "$f" "$here" "$1" "$(echo $f | sed 's/markdown/md/')"; done; }
# Findings exit 5: expected for the unsafe configurations, so the exit code is not checked here.
"$pt" -q audit-client --exec 'curl -s --max-time 8 --ssl-reqd --cacert {ca} pop3://{host}:{port}/ -u alice:sample-pw' \
    --exec-tls 'curl -s --max-time 8 --cacert {ca} pop3s://{host}:{port}/ -u alice:sample-pw' --client "curl $cv --ssl-reqd" $(reports curl-ssl-reqd) || true
"$pt" -q audit-client --exec 'curl -s --max-time 8 pop3://{host}:{port}/ -u alice:sample-pw' \
    --attack honest,strip,refuse,capa-tamper --client "curl $cv" $(reports curl-plain) || true
"$pt" -q audit-client --exec "python3 $tmp/stls.py {host} {port} {ca}" \
    --exec-tls "python3 $tmp/implicit.py {host} {port} {ca}" --client "poplib (Python $pv) stls()" $(reports poplib-stls) || true
"$pt" -q audit-client --exec "python3 $tmp/plain.py {host} {port}" --attack honest,strip,refuse --client "poplib (Python $pv) plain USER/PASS" $(reports poplib-plain) || true
if command -v mpop >/dev/null 2>&1; then
  m="mpop --host={host} --port={port} --user=alice --passwordeval='echo sample-pw' --delivery=mbox,$HOME/mbox --tls-trust-file={ca} --tls=on"
  "$pt" -q audit-client --exec "$m" --exec-tls "$m --tls-starttls=off" --client "mpop $(mpop --version | head -n 1 | cut -d' ' -f3) --tls=on" $(reports mpop-tls) || true
fi
if command -v fetchmail >/dev/null 2>&1; then
  fv=$(fetchmail --version 2>&1 | grep -o 'release [0-9.]*' | cut -d' ' -f2)
  printf 'poll 127.0.0.1 proto POP3 user alice password "sample-pw" keep fetchall mda /bin/true\n' > "$HOME/rc"
  chmod 600 "$HOME/rc"
  f="fetchmail -f $HOME/rc --pidfile $HOME/fetchmail.pid --nosyslog -P {port} --sslcertfile {ca} --sslcertck --sslcommonname localhost 127.0.0.1"
  "$pt" -q audit-client --exec "$f" --attack honest,strip,refuse,inject,inject-capa,capa-tamper,untrusted-stls,wrong-name-stls \
      --client "fetchmail $fv --sslcertck" $(reports fetchmail) || true
fi
if command -v getmail >/dev/null 2>&1; then
  gv=$(getmail --version 2>&1 | grep -o '[0-9][0-9.]*' | head -n 1)
  cat > "$tmp/getmailrc.sh" <<'SH'
mkdir -p "$HOME/mail/cur" "$HOME/mail/new" "$HOME/mail/tmp"
printf '[retriever]\ntype = SimplePOP3SSLRetriever\nserver = 127.0.0.1\nport = %s\nusername = alice\npassword = sample-pw\nca_certs = %s\n[destination]\ntype = Maildir\npath = %s/mail/\n[options]\nread_all = false\ndelete = false\n' "$1" "$2" "$HOME" > "$HOME/getmailrc"
SH
  "$pt" -q audit-client --exec true --exec-tls "sh $tmp/getmailrc.sh {port} {ca} && getmail --getmaildir $HOME --rcfile getmailrc" \
      --attack honest-implicit,untrusted-implicit,wrong-name-implicit --client "getmail6 $gv SimplePOP3SSLRetriever ca_certs" $(reports getmail-ssl) || true
fi
# The client matrix: clients x attacks.
set --
for j in "$here"/*.json; do set -- "$@" "$j"; done
"$pt" report matrix "$@" --markdown "$here/matrix.md" --html "$here/matrix.html"
