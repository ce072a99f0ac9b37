#!/usr/bin/env bash
# check.sh: the OpenResty peer (upbot.lua, nginx.conf.in) against the C
# module, answer for answer.
#
# Starts util/mock-im.pl (NetEase Yunxin), the module's nginx and the
# OpenResty nginx with the benchmark's configuration, sends both the same
# requests with curl and prints, for each, the diff of status, Content-Type
# and body (module first).  Bench requests must not differ; "known" ones
# show where the peer knowingly parts from the module (error details only).
# Then the event logs (receive time and request id masked), the provider
# calls as the mock saw them, and a 1006 pair (event log on /dev/full).
#
#   bench/peers/openresty/check.sh        (ports 7150-7152, or PORT_BASE=71N0)
#
# Exit status: 0 when no bench or error-case request differs.  Everything it
# starts is stopped on exit.

set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../../.." && pwd)

base=${PORT_BASE:-7150}
mock_port=$base
mod_port=$((base + 1))
lua_port=$((base + 2))

for p in $mock_port $mod_port $lua_port; do
    if [ "$p" -lt 7100 ] || [ "$p" -gt 7199 ]; then
        echo "check.sh: port $p is outside 7100-7199" >&2
        exit 2
    fi
done

nginx=${NGINX:-/usr/sbin/nginx}
module=$top/build/modules/ngx_http_upbot_module.so
work=$(mktemp -d /tmp/upbot-peer-check.XXXXXX)
chmod 755 "$work"

pids_files=()
mock_pid=

stop_all() {
    local f pid
    for f in "${pids_files[@]}"; do
        if [ -s "$f" ]; then
            pid=$(cat "$f")
            kill -QUIT "$pid" 2>/dev/null || true
            for _ in $(seq 50); do
                kill -0 "$pid" 2>/dev/null || break
                sleep 0.1
            done
        fi
    done
    pids_files=()
}

cleanup() {
    stop_all
    if [ -n "$mock_pid" ]; then
        kill "$mock_pid" 2>/dev/null || true
        wait "$mock_pid" 2>/dev/null || true
    fi
    if [ -z "${KEEP:-}" ]; then
        rm -rf "$work"
    else
        echo "check.sh: kept $work"
    fi
}
trap cleanup EXIT


# --- the C module ------------------------------------------------------------

echo "== building the module (make build)"
if ! (cd "$top" && make build) > "$work/build.log" 2>&1; then
    cat "$work/build.log" >&2
    exit 1
fi


# --- the mock provider -------------------------------------------------------

cat > "$work/fixtures.json" <<'EOF'
{"yunxin":{"apps":{"AK1":{"secret":"yx-test-secret"}},"teams":{
  "17889":{"team_type":1,"name":"云信群","icon":"https://img.example.com/yx.png","members_limit":1000,"member_count":12,"server_extension":"{\"url\":\"https://join.example.com/yx\"}"},
  "17890":{"team_type":1,"style":"flat","name":"flat \"team\"\\/\u0001","icon":null,"members_limit":200,"member_count":3,"server_extension":"{\"url\":\"https://join.example.com/flat\"}"},
  "17891":{"team_type":1,"name":"no count","members_limit":200,"server_extension":"not json"},
  "17892":{"team_type":1,"name":"fault","members_limit":200,"member_count":1},
  "17893":{"team_type":1,"name":"burst","members_limit":200,"member_count":5,"server_extension":"{\"url\":\"https://join.example.com/burst\"}"},
  "500500":{"code":500}
}}}
EOF

perl "$top/util/mock-im.pl" --port "$mock_port" --dir "$work/mock" \
     --fixtures "$work/fixtures.json" --exit-with $$ \
     > "$work/mock.out" 2>&1 &
mock_pid=$!

for _ in $(seq 50); do
    [ -s "$work/mock/mock.pid" ] && break
    sleep 0.1
done
[ -s "$work/mock/mock.pid" ] || { cat "$work/mock.out" >&2; exit 1; }


# --- the two servers ---------------------------------------------------------

# rows only this check uses, on both sides: a full pool, a gone team, a
# failing provider, a media_type 3 code, a mixed pool

module_conf() {     # prefix port event_log
    cat <<EOF
load_module $module;

worker_processes  1;
daemon            on;
master_process    on;

error_log  $1/logs/error.log warn;
pid        $1/logs/nginx.pid;

events {
    worker_connections  1024;
}

http {
    access_log  off;

    client_body_temp_path  $1/temp/client_body;
    proxy_temp_path        $1/temp/proxy;
    fastcgi_temp_path      $1/temp/fastcgi;
    uwsgi_temp_path        $1/temp/uwsgi;
    scgi_temp_path         $1/temp/scgi;

    upbot_zone         upbot:10m;
    upbot_cache        ttl=60s stale=10m;
    upbot_auth_tokens  $1/conf/tokens;
    upbot_event_log    $3;

    upbot_yunxin  bench  appkey=AK1 secret=yx-test-secret location=/_upbot/yunxin/;

    upbot_codes {
        bench-yx      yunxin:bench  17889/1;
        bench-static  static  g1  url=https://work.weixin.qq.com/gm/g1 name=群一 members=200 max_members=200;
        bench-static  static  g2  url=https://work.weixin.qq.com/gm/g2 name=群二 members=37 max_members=200;

        check-full  static  f1  url=https://work.weixin.qq.com/gm/f1 members=200 max_members=200;
        check-full  static  f2  url=https://work.weixin.qq.com/gm/f2 members=190 max_members=200 threshold=190;
        check-full  static  f3  url=https://work.weixin.qq.com/gm/f3 down;
        check-gone  yunxin:bench  404404/1;
        check-fail  yunxin:bench  500500/1;
        check-t3    static  t3  url=https://work.weixin.qq.com/gm/t3 media_type=3;
        check-mix   yunxin:bench  404404/1;
        check-mix   yunxin:bench  17889/1  threshold=12;
        check-mix   yunxin:bench  17891/1;
        check-flat  yunxin:bench  17890/1;
        check-http  yunxin:bench  17892/1;
        check-burst yunxin:bench  17893/1;
    }

    upstream yunxin {
        server     127.0.0.1:$mock_port;
        keepalive  16;
    }

    server {
        listen  127.0.0.1:$2;

        location = /upbot/api/GetMediaInfo     { upbot_get_media_info; }
        location = /upbot/api/ReportMediaEvent { upbot_report_media_event; }

        location /_upbot/yunxin/ {
            internal;
            proxy_http_version     1.1;
            proxy_set_header       Connection "";
            proxy_connect_timeout  5s;
            proxy_read_timeout     5s;
            proxy_pass             http://yunxin/im/v2.1/teams/;
        }
    }
}
EOF
}

lua_extra_rows() {
    cat <<'EOF'
                ["check-full"] = {
                    { source = "static", id = "f1", url = "https://work.weixin.qq.com/gm/f1",
                      members = 200, max_members = 200 },
                    { source = "static", id = "f2", url = "https://work.weixin.qq.com/gm/f2",
                      members = 190, max_members = 200, threshold = 190 },
                    { source = "static", id = "f3", url = "https://work.weixin.qq.com/gm/f3",
                      down = true },
                },
                ["check-gone"] = { { source = "yunxin:bench", id = "404404/1" } },
                ["check-fail"] = { { source = "yunxin:bench", id = "500500/1" } },
                ["check-t3"] = {
                    { source = "static", id = "t3", url = "https://work.weixin.qq.com/gm/t3",
                      media_type = 3 },
                },
                ["check-mix"] = {
                    { source = "yunxin:bench", id = "404404/1" },
                    { source = "yunxin:bench", id = "17889/1", threshold = 12 },
                    { source = "yunxin:bench", id = "17891/1" },
                },
                ["check-flat"] = { { source = "yunxin:bench", id = "17890/1" } },
                ["check-http"] = { { source = "yunxin:bench", id = "17892/1" } },
                ["check-burst"] = { { source = "yunxin:bench", id = "17893/1" } },
EOF
}

# prefix port event_log
make_module() {
    mkdir -p "$1/conf" "$1/logs" "$1/temp"
    echo "bench-token" > "$1/conf/tokens"
    module_conf "$1" "$2" "$3" > "$1/conf/nginx.conf"
}

make_lua() {
    mkdir -p "$1/conf" "$1/logs" "$1/temp"
    lua_extra_rows > "$work/extra-rows.lua"
    sed -e "s|@PREFIX@|$1|g" -e "s|@PORT@|$2|g" \
        -e "s|@MOCK_PORT@|$mock_port|g" -e "s|@PEER_DIR@|$here|g" \
        "$here/nginx.conf.in" \
    | sed -e "/^ *codes = {\$/r $work/extra-rows.lua" \
          -e "s|\"$1/logs/events.jsonl\"|\"$3\"|" \
    > "$1/conf/nginx.conf"
}

start() {   # prefix port
    if ! "$nginx" -p "$1" -c "$1/conf/nginx.conf" -t > "$1/test.log" 2>&1
    then
        cat "$1/test.log" >&2
        exit 1
    fi
    "$nginx" -p "$1" -c "$1/conf/nginx.conf"
    pids_files+=("$1/logs/nginx.pid")
    for _ in $(seq 50); do
        curl -s -o /dev/null "http://127.0.0.1:$2/upbot/api/GetMediaInfo" \
            && return 0
        sleep 0.1
    done
    echo "check.sh: nginx on port $2 does not answer" >&2
    exit 1
}

mod=$work/upbot
lua=$work/openresty

make_module "$mod" "$mod_port" "$mod/logs/events.jsonl"
make_lua "$lua" "$lua_port" "$lua/logs/events.jsonl"
start "$mod" "$mod_port"
start "$lua" "$lua_port"

echo "== module on 127.0.0.1:$mod_port, OpenResty on 127.0.0.1:$lua_port," \
     "mock Yunxin on 127.0.0.1:$mock_port ($work)"


# --- requests ----------------------------------------------------------------

n=0
bench_diffs=0
error_diffs=0
known_diffs=0
known_same=0

# ask PORT: prints "HTTP status", "Content-Type", extra headers, the body
ask() {
    local port=$1 method=$2 uri=$3 ct=$4 auth=$5 body=$6 out=$7
    local args=(-s -D "$out.head")

    case $method in
        HEAD) args+=(--head -o /dev/null); : > "$out.body" ;;
        *)    args+=(-X "$method" -o "$out.body") ;;
    esac

    if [ "$ct" = "-" ]; then
        args+=(-H "Content-Type:")
    else
        args+=(-H "Content-Type: $ct")
    fi

    [ "$auth" = "-" ] || args+=(-H "Authorization: $auth")
    [ -z "$body" ] || args+=(--data-binary "@$body")

    curl "${args[@]}" "http://127.0.0.1:$port$uri" || true

    {
        awk 'NR == 1 { sub(/\r$/, ""); print "HTTP", $2 }' "$out.head"
        tr -d '\r' < "$out.head" \
            | grep -i -E '^(content-type|content-length|allow|www-authenticate):' \
            | sed -E 's/^([^:]*):/\L\1:/' | sort
        cat "$out.body"
        echo
    } > "$out"
}

# kind: bench | error | known
req() {
    local kind=$1 name=$2 api=$3 method=$4 ct=$5 auth=$6 body=${7:-}
    local uri=/upbot/api/$api
    local d=$work/req/$n

    n=$((n + 1))
    mkdir -p "$d"

    ask "$mod_port" "$method" "$uri" "$ct" "$auth" "$body" "$d/module"
    ask "$lua_port" "$method" "$uri" "$ct" "$auth" "$body" "$d/openresty"

    if diff -u --label module --label openresty "$d/module" "$d/openresty" \
        > "$d/diff"
    then
        if [ "$kind" = known ]; then
            known_same=$((known_same + 1))
        fi
        printf '%-6s same  %s: %s\n' "$kind" "$api" "$name"
        [ -n "${VERBOSE:-}" ] && sed 's/^/         /' "$d/module"
    else
        case $kind in
            bench) bench_diffs=$((bench_diffs + 1)) ;;
            error) error_diffs=$((error_diffs + 1)) ;;
            known) known_diffs=$((known_diffs + 1)) ;;
        esac
        printf '%-6s DIFF  %s: %s\n' "$kind" "$api" "$name"
        sed 's/^/         /' "$d/diff"
    fi
    return 0
}

b=$work/bodies
mkdir -p "$b"

# body FILE < text
body() { cat > "$b/$1"; echo "$b/$1"; }

mi() {   # a GetMediaInfo body: code [media_type] [trace_id]
    printf '{"account_info":{"account_type":2,"appid":"wx1","openid":"op1"},"media_type":%s,"code":"%s","trace_id":"%s"}' \
        "${2:-2}" "$1" "${3:-t-check}"
}

head='"head":{"account_info":{"account_type":2,"appid":"xxxx","openid":"xxxx"},"device_info":{"device_type":1,"uuid":"xxxx"}}'

ev() {   # a ReportMediaEvent body with these items
    printf '{%s,"items":[%s]}' "$head" "$1"
}

J=application/json
T=bench-token
GMI=GetMediaInfo
RME=ReportMediaEvent

# seed 000 and seed 001 (three items), the code replaced: the bench's bodies

seed000() {
    cat <<EOF
{
    "account_info": {
        "account_type": 2,
        "appid": "xxxx",
        "openid": "xxxx"
    },
    "media_type": 2,
    "code": "$1",
    "trace_id": "Fi6JoptoXX8EI3sttq3pcVGC2H1Nesy9"
}
EOF
}

seed001() {
    cat <<EOF
{
    "head": {
        "account_info": {
            "account_type": 2,
            "appid": "xxxx",
            "openid": "xxxx"
        },
        "device_info": {
            "device_type": 1,
            "uuid": "xxxx"
        }
    },
    "items": [{
        "event_id": "1110201",
        "event_time": 1699274742,
        "media_type": 2,
        "code": "$1",
        "trace_id": "Fi6JoptoXX8EI3sttq3pcVGC2H1Nesy9"
    }, {
        "event_id": "1110204",
        "event_time": 1699274745,
        "media_type": 2,
        "code": "$1",
        "trace_id": "Fi6JoptoXX8EI3sttq3pcVGC2H1Nesy9",
        "duration": 3
    }, {
        "event_id": 1100102,
        "event_time": 1699274750,
        "media_type": 2,
        "code": "$1",
        "trace_id": "Fi6JoptoXX8EI3sttq3pcVGC2H1Nesy9",
        "duration": 8
    }]
}
EOF
}

echo
echo "== bench requests"
req bench "seed 000, bench-yx (miss)"    $GMI POST $J $T "$(seed000 bench-yx | body s000-yx)"
req bench "seed 000, bench-yx (hit)"     $GMI POST $J $T "$b/s000-yx"
req bench "seed 000, 'bench-yx ' (the seed's trailing space)" \
                                         $GMI POST $J $T "$(seed000 'bench-yx ' | body s000-yx-sp)"
req bench "seed 000, bench-static"       $GMI POST $J $T "$(seed000 bench-static | body s000-st)"
req bench "seed 000, 'bench-static '"    $GMI POST $J $T "$(seed000 'bench-static ' | body s000-st-sp)"
req bench "seed 001, 3 items, bench-yx"  $RME POST $J $T "$(seed001 bench-yx | body s001-yx)"
req bench "seed 001, 3 items, bench-static" \
                                         $RME POST $J $T "$(seed001 'bench-static ' | body s001-st)"
req bench "Bearer bench-token"           $GMI POST $J "Bearer $T" "$b/s000-yx"
req bench "seed 001, Bearer bench-token" $RME POST $J "Bearer $T" "$b/s001-yx"

# what bench.pl sends, when it is there
for f in media-info:$GMI media-event:$RME; do
    if [ -f "$top/bench/requests/${f%%:*}.json" ]; then
        req bench "bench/requests/${f%%:*}.json" "${f##*:}" POST $J $T \
            "$top/bench/requests/${f%%:*}.json"
    fi
done

echo
echo "== error cases: method, content type, token"
req error "GET"                          $GMI GET  $J $T
req error "HEAD"                         $GMI HEAD $J $T
req error "PUT with a body"              $RME PUT  $J - "$b/s001-yx"
req error "no Content-Type"              $GMI POST - $T "$b/s000-yx"
req error "text/plain"                   $RME POST text/plain $T "$b/s001-yx"
req error "application/jsonp"            $GMI POST application/jsonp $T "$b/s000-yx"
req error "Content-Type with charset"    $GMI POST " Application/JSON ; charset=UTF-8" $T "$b/s000-yx"
req error "no Authorization"             $GMI POST $J - "$b/s000-yx"
req error "unknown token"                $RME POST $J wr0ng "$b/s001-yx"
req error "a prefix of the token"        $GMI POST $J bench-toke "$b/s000-yx"
req error "bEaReR, extra spaces"         $GMI POST $J "bEaReR    $T  " "$b/s000-yx"
req error "Bearer alone"                 $GMI POST $J "Bearer" "$b/s000-yx"
req error "Basic scheme"                 $GMI POST $J "Basic $T" "$b/s000-yx"
req error "no token, bad body: 1002 first" $GMI POST $J - "$(printf 'not json' | body notjson)"

echo
echo "== error cases: GetMediaInfo bodies"
req error "not JSON"                     $GMI POST $J $T "$b/notjson"
req error "empty body"                   $GMI POST $J $T
req error "white space only"             $GMI POST $J $T "$(printf ' \r\n\t ' | body ws)"
req error "a JSON string"                $GMI POST $J $T "$(printf '"c1"' | body str)"
req error "a JSON array"                 $GMI POST $J $T "$(printf '[1,2]' | body arr)"
req error "account_info missing"         $GMI POST $J $T "$(printf '{"media_type":2,"code":"bench-yx","trace_id":"t"}' | body m1)"
req error "openid missing"               $GMI POST $J $T "$(printf '{"account_info":{"account_type":2,"appid":"a"},"media_type":2,"code":"bench-yx","trace_id":"t"}' | body m2)"
req error "account_info a string"        $GMI POST $J $T "$(printf '{"account_info":"x","media_type":2,"code":"bench-yx","trace_id":"t"}' | body m3)"
req error "account_type 4"               $GMI POST $J $T "$(printf '{"account_info":{"account_type":4,"appid":"a","openid":"o"},"media_type":2,"code":"bench-yx","trace_id":"t"}' | body m4)"
req error "account_type 0"               $GMI POST $J $T "$(printf '{"account_info":{"account_type":0,"appid":"a","openid":"o"},"media_type":2,"code":"bench-yx","trace_id":"t"}' | body m5)"
req error "account_type \"2\""           $GMI POST $J $T "$(printf '{"account_info":{"account_type":"2","appid":"a","openid":"o"},"media_type":2,"code":"bench-yx","trace_id":"t"}' | body m6)"
req error "account_type 2.5"             $GMI POST $J $T "$(printf '{"account_info":{"account_type":2.5,"appid":"a","openid":"o"},"media_type":2,"code":"bench-yx","trace_id":"t"}' | body m7)"
req error "account_type true"            $GMI POST $J $T "$(printf '{"account_info":{"account_type":true,"appid":"a","openid":"o"},"media_type":2,"code":"bench-yx","trace_id":"t"}' | body m8)"
req error "media_type null"              $GMI POST $J $T "$(mi bench-yx null | body m9)"
req error "media_type 0"                 $GMI POST $J $T "$(mi bench-yx 0 | body m10)"
req error "media_type -2"                $GMI POST $J $T "$(mi bench-yx -2 | body m11)"
req error "media_type huge"              $GMI POST $J $T "$(mi bench-yx 123456789012345678901234567890 | body m12)"
req error "media_type NaN"               $GMI POST $J $T "$(mi bench-yx NaN | body m13)"
req error "code a number"                $GMI POST $J $T "$(printf '{"account_info":{"account_type":2,"appid":"a","openid":"o"},"media_type":2,"code":12,"trace_id":"t"}' | body m14)"
req error "code empty"                   $GMI POST $J $T "$(mi '' | body m15)"
req error "code blank"                   $GMI POST $J $T "$(mi ' \t\n ' | body m16)"
req error "code of 65 bytes"             $GMI POST $J $T "$(mi "$(printf 'C%.0s' $(seq 65))" | body m17)"
req error "code of 64 bytes, spaces around (unknown)" \
                                         $GMI POST $J $T "$(mi "  $(printf 'C%.0s' $(seq 64))\\t" | body m18)"
req error "trace_id of 257 bytes"        $GMI POST $J $T "$(mi bench-yx 2 "$(printf 't%.0s' $(seq 257))" | body m19)"
req error "trace_id of 256 bytes"        $GMI POST $J $T "$(mi bench-static 2 "$(printf 't%.0s' $(seq 256))" | body m20)"
req error "trace_id of 258 bytes once unescaped" \
                                         $GMI POST $J $T "$(mi bench-yx 2 "$(printf '\\u706b%.0s' $(seq 86))" | body m21)"
req error "trace_id empty"               $GMI POST $J $T "$(mi bench-yx 2 '' | body m22)"
req error "appid empty"                  $GMI POST $J $T "$(printf '{"account_info":{"account_type":2,"appid":"","openid":"o"},"media_type":2,"code":"bench-yx","trace_id":"t"}' | body m23)"
req error "16 levels in an unknown field" $GMI POST $J $T "$(printf '{"account_info":{"account_type":2,"appid":"a","openid":"o"},"media_type":2,"code":"bench-static","trace_id":"t","z":[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]}' | body m24)"
req error "17 levels in an unknown field" $GMI POST $J $T "$(printf '{"account_info":{"account_type":2,"appid":"a","openid":"o"},"media_type":2,"code":"bench-static","trace_id":"t","z":[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]}' | body m25)"
req error "trailing garbage"             $GMI POST $J $T "$(printf '%s x' "$(mi bench-static)" | body m26)"
req error "two objects"                  $GMI POST $J $T "$(printf '%s{}' "$(mi bench-static)" | body m27)"
req error "truncated"                    $GMI POST $J $T "$(mi bench-static | head -c 60 | body m28)"
req error "a comment"                    $GMI POST $J $T "$(printf '{/* c */"account_info":{"account_type":2,"appid":"a","openid":"o"},"media_type":2,"code":"bench-static","trace_id":"t"}' | body m29)"
req error "escapes unescaped, white space after" \
                                         $GMI POST $J $T "$(printf '{"account_info":{"account_type":2,"appid":"a","openid":"o"},"media_type":2,"code":"\\u0062ench-static","trace_id":"t"}\r\n \t' | body m30)"
req error "unknown fields ignored"       $GMI POST $J $T "$(printf '{"x":{"a":[1,{"b":[null,true,"s",1.5e3]}]},"account_info":{"extra":[[]],"account_type":2,"appid":"a","openid":"o"},"media_type":2,"code":"bench-static","trace_id":"t"}' | body m31)"
req error "Account_info (names are exact)" $GMI POST $J $T "$(printf '{"Account_info":{"account_type":2,"appid":"a","openid":"o"},"media_type":2,"code":"bench-static","trace_id":"t"}' | body m32)"

echo
echo "== error cases: GetMediaInfo answers"
req error "unknown code: 1003"           $GMI POST $J $T "$(mi no-such-code | body a1)"
req error "media_type 3 of a type-2 code: 1003" $GMI POST $J $T "$(mi bench-static 3 | body a2)"
req error "a media_type 3 code"          $GMI POST $J $T "$(mi check-t3 3 | body a3)"
req error "a media_type 3 code asked as 2: 1003" $GMI POST $J $T "$(mi check-t3 2 | body a4)"
req error "full, at threshold, down: 1004" $GMI POST $J $T "$(mi check-full | body a5)"
req error "a gone team: 1004"            $GMI POST $J $T "$(mi check-gone | body a6)"
req error "provider error 500: 1005 (502)" $GMI POST $J $T "$(mi check-fail | body a7)"
req error "provider error 500 again (retry window): 1005" $GMI POST $J $T "$b/a7"
req error "gone, at threshold, no member count" $GMI POST $J $T "$(mi check-mix | body a8)"
req error "a flat team, null icon, escapes in its name" $GMI POST $J $T "$(mi check-flat | body a9)"

# the mock's next Yunxin answer is an HTTP 500, for each server in turn
fault() {
    curl -s -o /dev/null -d "{\"provider\":\"yunxin\",\"mode\":\"$1\",\"count\":1}" \
        "http://127.0.0.1:$mock_port/_mock/fault"
}

d=$work/req/$n; n=$((n + 1)); mkdir -p "$d"
fault http500
ask "$mod_port" POST /upbot/api/$GMI $J $T "$(mi check-http | body a10)" "$d/module"
fault http500
ask "$lua_port" POST /upbot/api/$GMI $J $T "$b/a10" "$d/openresty"
if diff -u --label module --label openresty "$d/module" "$d/openresty" > "$d/diff"; then
    printf '%-6s same  %s: %s\n' error $GMI "the provider answers HTTP 500: 1005 (502)"
else
    error_diffs=$((error_diffs + 1))
    printf '%-6s DIFF  %s: %s\n' error $GMI "the provider answers HTTP 500: 1005 (502)"
    sed 's/^/         /' "$d/diff"
fi

echo
echo "== error cases: ReportMediaEvent bodies"
req error "head missing"                 $RME POST $J $T "$(printf '{"items":[{"event_id":"1110201"}]}' | body e1)"
req error "items missing"                $RME POST $J $T "$(printf '{%s}' "$head" | body e2)"
req error "items empty"                  $RME POST $J $T "$(ev '' | body e3)"
req error "item and items"               $RME POST $J $T "$(printf '{%s,"items":[{}],"item":[{}]}' "$head" | body e4)"
req error "items an object"              $RME POST $J $T "$(printf '{%s,"items":{"event_id":"1"}}' "$head" | body e5)"
req error "items holding a number"       $RME POST $J $T "$(ev '{},1' | body e6)"
req error "101 items"                    $RME POST $J $T "$(ev "$(printf '{"event_id":1110201},%.0s' $(seq 100)){}" | body e7)"
req error "event_id 1.5"                 $RME POST $J $T "$(ev '{"event_id":1.5}' | body e8)"
req error "event_id -1"                  $RME POST $J $T "$(ev '{"event_id":-1}' | body e9)"
req error "event_id true"                $RME POST $J $T "$(ev '{"event_id":true}' | body e10)"
req error "event_id empty"               $RME POST $J $T "$(ev '{"event_id":""}' | body e11)"
req error "event_id 2^53"                $RME POST $J $T "$(ev '{"event_id":9007199254740992}' | body e12)"
req error "second item's event_time a string" $RME POST $J $T "$(ev '{"event_id":"1"},{"event_time":"1699274742"}' | body e13)"
req error "event_time -5"                $RME POST $J $T "$(ev '{"event_time":-5}' | body e14)"
req error "duration null"                $RME POST $J $T "$(ev '{"duration":null}' | body e15)"
req error "media_type 0"                 $RME POST $J $T "$(ev '{"media_type":0}' | body e16)"
req error "code of 65 bytes"             $RME POST $J $T "$(ev "{\"code\":\"$(printf 'x%.0s' $(seq 65))\"}" | body e17)"
req error "code blank"                   $RME POST $J $T "$(ev '{"code":"  "}' | body e18)"
req error "trace_id a number"            $RME POST $J $T "$(ev '{"trace_id":12}' | body e19)"
req error "device_type 3"                $RME POST $J $T "$(printf '{"head":{"account_info":{"account_type":2,"appid":"a","openid":"o"},"device_info":{"device_type":3}},"items":[{}]}' | body e20)"
req error "uuid a number"                $RME POST $J $T "$(printf '{"head":{"account_info":{"account_type":2,"appid":"a","openid":"o"},"device_info":{"uuid":5}},"items":[{}]}' | body e21)"
req error "head without account_info"    $RME POST $J $T "$(printf '{"head":{"device_info":{"device_type":1}},"items":[{}]}' | body e22)"
req error "not JSON"                     $RME POST $J $T "$(printf 'items=1' | body e23)"

echo
echo "== ReportMediaEvent batches stored (lines compared below)"
req error "seed 001 verbatim, one item"  $RME POST $J $T "$(sed -n '/^```$/,/^```$/p' /work/shared/seeds/001_*.txt | sed -n '2,/^```$/p' | sed '$d' | body e30)"
req error "event ids as integers and text, codes trimmed" \
                                         $RME POST $J $T "$(ev '{"event_id":1110201,"event_time":1699274742,"media_type":2,"code":"c1","trace_id":"t1"},{"event_id":"1110204","code":" c1 ","duration":12},{"event_id":"1100102","event_time":0,"duration":0}' | body e31)"
req error "\"item\", no device_info"     $RME POST $J $T "$(printf '{"head":{"account_info":{"account_type":1,"appid":"a","openid":"o"}},"item":[{"event_id":"1110201"}]}' | body e32)"
req error "empty items, unknown fields"  $RME POST $J $T "$(ev '{},{"unknown":{"x":[1]}}' | body e33)"
req error "escapes: quote, backslash, slash, controls, UTF-8" \
                                         $RME POST $J $T "$(ev '{"trace_id":"q\"b\\s/n\nt\tz\u0000\u001f\u007f\b\f\r 火影 \ud83d\ude00"}' | body e34)"
req error "100 items"                    $RME POST $J $T "$(ev "$(printf '{"duration":7},%.0s' $(seq 99)){\"duration\":9}" | body e35)"
req error "largest integers"             $RME POST $J $T "$(ev '{"event_id":9007199254740991,"event_time":9007199254740991,"media_type":2147483647,"duration":2147483647}' | body e36)"

echo
echo "== event logs (received_ms and request_id masked)"
mask() {
    sed -E 's/"received_ms":[0-9]{13},"request_id":"[0-9a-f]{32}"/"received_ms":T,"request_id":R/' "$1"
}
mask "$mod/logs/events.jsonl" > "$work/events.module"
mask "$lua/logs/events.jsonl" > "$work/events.openresty"
lines=$(wc -l < "$work/events.module")
if diff -u --label module --label openresty "$work/events.module" "$work/events.openresty"
then
    echo "same: $lines lines"
    event_diff=0
else
    event_diff=1
fi

echo
echo "== known differences (edge cases cjson cannot see; not in the bench)"
req known "a field given twice (cjson keeps the last)" \
                                         $GMI POST $J $T "$(printf '{"account_info":{"account_type":2,"appid":"a","openid":"o"},"media_type":2,"code":"bench-static","code":"bench-static","trace_id":"t"}' | body k1)"
req known "invalid UTF-8 (cjson does not check)" \
                                         $GMI POST $J $T "$(printf '{"account_info":{"account_type":2,"appid":"a","openid":"o\xff\xfe"},"media_type":2,"code":"bench-static","trace_id":"t"}' | body k2)"
req known "2.0 and 2e0 for an integer (cjson gives numbers, not text)" \
                                         $GMI POST $J $T "$(mi bench-static 2e0 | body k3)"
req known "[] for an item (cjson: an empty table either way)" \
                                         $RME POST $J $T "$(ev '[]' | body k4)"
req known "event_id -0 (same answer; stored as \"-0\" by the module, \"0\" here)" \
                                         $RME POST $J $T "$(ev '{"event_id":-0}' | body k5)"
tail -n 1 "$mod/logs/events.jsonl" | sed 's/^/         module:    /'
tail -n 1 "$lua/logs/events.jsonl" | sed 's/^/         openresty: /'

echo
echo "== 50 concurrent requests for a cold team: provider calls per server"
burst() {   # port
    seq 50 | xargs -P 50 -I{} curl -s -o /dev/null -H "Content-Type: $J" \
        -H "Authorization: $T" --data-binary "@$b/burst" \
        "http://127.0.0.1:$1/upbot/api/$GMI"
    grep -c '"team_id":"17893"' "$work/mock/calls.jsonl" || true
}
mi check-burst > "$b/burst"
calls_mod=$(burst "$mod_port")
calls_lua=$(( $(burst "$lua_port") - calls_mod ))
echo "module: $calls_mod call(s), OpenResty: $calls_lua call(s)"
req error "after the burst"              $GMI POST $J $T "$b/burst"
[ "$calls_mod" -eq 1 ] && [ "$calls_lua" -eq 1 ] || error_diffs=$((error_diffs + 1))

echo
echo "== provider calls, as the mock saw them (nonce, time and checksum masked)"
perl -MJSON::PP -ne '
    my $c = decode_json($_);
    my $h = $c->{headers};
    printf "%-6s %s?team_type=%s appkey=%s nonce=%s curtime=%s checksum=%s trace=%s host=%s%s -> %s\n",
        $c->{method}, $c->{path}, $c->{query}{team_type} // "-",
        $h->{appkey} // "-",
        ($h->{nonce} // "") =~ /^[0-9a-f]{32}$/ ? "hex32" : "BAD(" . ($h->{nonce} // "") . ")",
        ($h->{curtime} // "") =~ /^\d{10}$/ ? "unix" : "BAD",
        ($h->{checksum} // "") =~ /^[0-9a-f]{40}$/ ? "hex40" : "BAD",
        $h->{"x-custom-traceid"} // "-", $h->{host} // "-",
        (grep { defined $h->{$_} } qw(authorization content-type content-length)) ? " LEAKED" : "",
        $c->{result} . ($c->{fault} ? " (fault $c->{fault})" : "");
' "$work/mock/calls.jsonl"

stop_all


# --- 1006: an event log that cannot be written -------------------------------

echo
echo "== an event log on /dev/full"
make_module "$work/upbot-full" "$mod_port" /dev/full
make_lua "$work/openresty-full" "$lua_port" /dev/full
start "$work/upbot-full" "$mod_port"
start "$work/openresty-full" "$lua_port"
req error "the write fails: 1006 (503)"  $RME POST $J $T "$b/s001-yx"
stop_all

echo
echo "== summary: $n requests; differing: bench $bench_diffs, error cases" \
     "$error_diffs, event log $event_diff; known differences: $known_diffs" \
     "differ, $known_same same"

[ "$bench_diffs" -eq 0 ] && [ "$error_diffs" -eq 0 ] && [ "$event_diff" -eq 0 ]
