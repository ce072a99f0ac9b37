#!/usr/bin/env bash
# Fuzzes the JSON reader (fuzz/json_fuzz.c) with libFuzzer, ASan and UBSan
# for $FUZZ_SECONDS (60) seconds, starting from the bench's and the seeds'
# request bodies.  Needs clang and the configured tree of util/build.sh
# (make build).  A crash leaves its input in build/fuzz/.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
out="$top/build/fuzz"
tree="$top/build/nginx-src"
secs="${FUZZ_SECONDS:-60}"

[ -f "$tree/objs/ngx_auto_config.h" ] || { echo "fuzz: run make build first" >&2; exit 1; }
command -v clang >/dev/null || { echo "fuzz: clang is needed (apt-get install clang)" >&2; exit 1; }

mkdir -p "$out/corpus"
cp "$top"/bench/requests/*.json "$out/corpus/"
printf '%s' '{"a":"\u00e9\ud83d\ude00","b":[1,-0.5e+3,true,false,null,{}],"c":"\"\\\/\b\f\n\r\t"}' \
    > "$out/corpus/escapes.json"

clang -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
    -I "$top/src" -I "$tree/src/core" -I "$tree/src/event" \
    -I "$tree/src/os/unix" -I "$tree/objs" \
    "$top/fuzz/json_fuzz.c" "$top/src/ngx_http_upbot_json.c" -o "$out/json_fuzz"

cd "$out"
./json_fuzz -max_total_time="$secs" -max_len=4096 corpus
