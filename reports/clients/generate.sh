#!/bin/sh
# Regenerates the audit-client samples in this directory: curl with and without --ssl-reqd, and
# Python poplib's documented plain USER/PASS example and its stls() variant, and mpop with --tls=on. Loopback only; each
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
reports() { for f in json markdown html; do printf -- '--report %s=%s/%s.%s ' "$f" "$here" "$1" "$(echo $f | sed 's/markdown/md/')"; done; }
# Findings exit 5: expected for the unsafe configurations, so the exit code is not checked here.
"$pt" -q audit-client --exec 'curl -s --max-time 8 --ssl-reqd --cacert {ca} pop3://{host}:{port}/ -u alice:sample-pw' \
    --exec-tls 'curl -s --max-time 8 --cacert {ca} pop3s://{host}:{port}/ -u alice:sample-pw' $(reports curl-ssl-reqd) || true
"$pt" -q audit-client --exec 'curl -s --max-time 8 pop3://{host}:{port}/ -u alice:sample-pw' \
    --attack honest,strip,refuse,capa-tamper $(reports curl-plain) || true
"$pt" -q audit-client --exec "python3 $tmp/stls.py {host} {port} {ca}" \
    --exec-tls "python3 $tmp/implicit.py {host} {port} {ca}" $(reports poplib-stls) || true
"$pt" -q audit-client --exec "python3 $tmp/plain.py {host} {port}" --attack honest,strip,refuse $(reports poplib-plain) || true
if command -v mpop >/dev/null 2>&1; then
  m="mpop --host={host} --port={port} --user=alice --passwordeval='echo sample-pw' --delivery=mbox,$HOME/mbox --tls-trust-file={ca} --tls=on"
  "$pt" -q audit-client --exec "$m" --exec-tls "$m --tls-starttls=off" $(reports mpop-tls) || true
fi
