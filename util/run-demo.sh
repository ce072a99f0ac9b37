#!/usr/bin/env bash
# `make run`: nginx in the foreground on conf-examples/demo.conf, with
# build/run/ as its prefix, and util/mock-im.pl beside it as the IM
# providers. PORT=... changes nginx's port (8080); the mock listens on the
# next one. Ctrl-C stops both.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
run="$top/build/run"
port="${PORT:-8080}"
mock_port=$((port + 1))
nginx="${TEST_NGINX_BINARY:-/usr/sbin/nginx}"

mkdir -p "$run/conf" "$run/logs" "$run/modules" "$run/temp" "$run/mock"
cp "$top/build/modules/ngx_http_upbot_module.so" "$run/modules/"
cp "$top/conf-examples/demo-tokens" "$top/conf-examples/demo-tim.key" \
   "$top/conf-examples/demo-yunxin.secret" "$run/conf/"
sed -e "s/listen       127\.0\.0\.1:8080;/listen       127.0.0.1:$port;/" \
    -e "s#http://127\.0\.0\.1:8081/#http://127.0.0.1:$mock_port/#" \
    "$top/conf-examples/demo.conf" > "$run/conf/nginx.conf"

"$nginx" -t -q -p "$run/" -c conf/nginx.conf

perl "$top/util/mock-im.pl" --port "$mock_port" --dir "$run/mock" \
    --fixtures "$top/conf-examples/demo-fixtures.json" \
    2> "$run/logs/mock.log" &
mock=$!
trap 'kill $mock 2>/dev/null || true' EXIT

for _ in $(seq 50); do
    [ -e "$run/mock/mock.pid" ] && break
    sleep 0.1
done

echo "upbot demo on http://127.0.0.1:$port (token: demo-token); Ctrl-C stops it"
echo "mock providers on http://127.0.0.1:$mock_port (calls: $run/mock/calls.jsonl)"
echo "logs: $run/logs/ (error.log, access.log, upbot-events.jsonl)"

# not exec: the trap above stops the mock when nginx ends
"$nginx" -p "$run/" -c conf/nginx.conf
