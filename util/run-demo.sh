#!/usr/bin/env bash
# `make run`: nginx in the foreground on conf-examples/demo.conf, with
# build/run/ as its prefix. PORT=... changes the port (8080). Ctrl-C stops it.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
run="$top/build/run"
port="${PORT:-8080}"
nginx="${TEST_NGINX_BINARY:-/usr/sbin/nginx}"

mkdir -p "$run/conf" "$run/logs" "$run/modules" "$run/temp"
cp "$top/build/modules/ngx_http_upbot_module.so" "$run/modules/"
cp "$top/conf-examples/demo-tokens" "$run/conf/"
sed "s/listen       127\.0\.0\.1:8080;/listen       127.0.0.1:$port;/" \
    "$top/conf-examples/demo.conf" > "$run/conf/nginx.conf"

"$nginx" -t -q -p "$run/" -c conf/nginx.conf

echo "upbot demo on http://127.0.0.1:$port (token: demo-token); Ctrl-C stops it"
echo "logs: $run/logs/ (error.log, access.log, upbot-events.jsonl)"
exec "$nginx" -p "$run/" -c conf/nginx.conf
