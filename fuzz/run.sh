#!/usr/bin/env bash
# Fuzzes the request parser (fuzz/parse_fuzz.c) with libFuzzer, ASan and
# UBSan for $FUZZ_SECONDS (60) seconds, starting from the bench's request
# bodies.  Needs clang, libyajl-dev and the configured tree of
# util/build.sh (make build).  A crash leaves its input in build/fuzz/.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
out="$top/build/fuzz"
tree="$top/build/nginx-src"
secs="${FUZZ_SECONDS:-60}"

[ -f "$tree/objs/ngx_auto_config.h" ] || { echo "fuzz: run make build first" >&2; exit 1; }
command -v clang >/dev/null || { echo "fuzz: clang is needed (apt-get install clang)" >&2; exit 1; }

# the first byte of an input picks the API (bit 0) and small limits (bit 1)
rm -rf "$out/corpus"
mkdir -p "$out/corpus"
for f in "$top"/bench/requests/*.json; do
    [ -f "$f" ] || continue
    for sel in 0 1 2 3; do
        { printf "\\x0$sel"; cat "$f"; } > "$out/corpus/$sel-$(basename "$f")"
    done
done
printf '\001%s' '{"head":{"account_info":{"account_type":1,"appid":"a\u00e9","openid":"\ud83d\ude00"},"x":[1,-0.5e+3,true,false,null,{}]},"items":[{"event_id":12,"code":" c\"\\\/\b\f\n\r\t "}]}' \
    > "$out/corpus/escapes.json"

clang -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
    -I "$top/src" -I "$top/fuzz" -I "$tree/src/core" -I "$tree/src/event" \
    -I "$tree/src/os/unix" -I "$tree/objs" \
    "$top/fuzz/parse_fuzz.c" "$top/fuzz/ngx_stubs.c" \
    "$top/src/ngx_http_upbot_parse.c" "$top/src/ngx_http_upbot_json.c" \
    -lyajl -o "$out/parse_fuzz"

cd "$out"
./parse_fuzz -max_total_time="$secs" -max_len=4096 corpus
