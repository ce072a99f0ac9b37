#!/usr/bin/env bash
# Fuzzes the request parser (fuzz/parse_fuzz.c) with libFuzzer, ASan and
# UBSan, starting from the bench's request bodies, then the state file's
# reader (fuzz/state_fuzz.c) from the seeds fuzz/state_seed.c makes: a
# valid file, the same cut short at many points, another version.  Needs
# clang, binutils, libyajl-dev and the configured tree of util/build.sh
# (make build).
#
# src/ngx_http_upbot_json.c has two ways through its hot loops: 16 bytes at
# a time with SSE2 when the compiler has it (__SSE2__, so always on x86-64),
# and plain C otherwise (other CPUs).  Two fuzzers, each for $FUZZ_SECONDS
# (60) seconds, on one corpus:
#
#   parse_fuzz           the parser as x86-64 builds it, with SSE2;
#   parse_fuzz_portable  the parser built with -U__SSE2__, so the plain C
#                        paths; each input is also read by a copy built
#                        with SSE2 (its symbols renamed sse2_*), and the
#                        two must agree: same answer, reason and fields.
#
# (-mno-sse2 would not do: x86-64 passes floating point in SSE registers.)
# Then parse_fuzz_portable reads the whole corpus once more (-runs=0), so
# that every input either fuzzer kept has been read by both builds and
# compared.  Then state_fuzz, $FUZZ_SECONDS too, on its own corpus.
# FUZZ_SECONDS=0: only the seeds, through each: a quick check.
# A crash leaves its input in build/fuzz/ (sse2-crash-…, portable-… or
# state-…).
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
out="$top/build/fuzz"
tree="$top/build/nginx-src"
secs="${FUZZ_SECONDS:-60}"

[ -f "$tree/objs/ngx_auto_config.h" ] || { echo "fuzz: run make build first" >&2; exit 1; }
command -v clang >/dev/null || { echo "fuzz: clang is needed (apt-get install clang)" >&2; exit 1; }

# the first byte of an input picks the API (bit 0) and small limits (bit 1)
rm -rf "$out/corpus" "$out/sse2" "$out/portable" "$out/state"
mkdir -p "$out/corpus" "$out/sse2" "$out/portable" "$out/state/corpus"
for f in "$top"/bench/requests/*.json; do
    [ -f "$f" ] || continue
    for sel in 0 1 2 3; do
        { printf "\\x0$sel"; cat "$f"; } > "$out/corpus/$sel-$(basename "$f")"
    done
done
printf '\001%s' '{"head":{"account_info":{"account_type":1,"appid":"a\u00e9","openid":"\ud83d\ude00"},"x":[1,-0.5e+3,true,false,null,{}]},"items":[{"event_id":12,"code":" c\"\\\/\b\f\n\r\t "}]}' \
    > "$out/corpus/escapes.json"

cflags=(-g -O1 -fsanitize=address,undefined -fno-sanitize-recover=undefined
        -I "$top/src" -I "$top/fuzz" -I "$tree/src/core" -I "$tree/src/event"
        -I "$tree/src/os/unix" -I "$tree/objs")

# the parser's two objects, for each build
for build in sse2 portable; do
    nosse=()
    [ "$build" = portable ] && nosse=(-U__SSE2__)
    for f in parse json; do
        clang "${cflags[@]}" "${nosse[@]}" -fsanitize=fuzzer-no-link \
            -c "$top/src/ngx_http_upbot_$f.c" -o "$out/$build/$f.o"
    done
done

# the SSE2 objects again, every symbol they define prefixed sse2_, to sit
# beside the portable ones in one binary; the nginx stubs stay shared
nm -g --defined-only "$out/sse2/parse.o" "$out/sse2/json.o" \
    | awk 'NF == 3 { print $3, "sse2_" $3 }' | sort -u > "$out/sse2/rename"
for f in parse json; do
    objcopy --redefine-syms="$out/sse2/rename" \
        "$out/sse2/$f.o" "$out/sse2/renamed-$f.o"
done

clang "${cflags[@]}" -fsanitize=fuzzer \
    "$top/fuzz/parse_fuzz.c" "$top/fuzz/ngx_stubs.c" \
    "$out/sse2/parse.o" "$out/sse2/json.o" \
    -lyajl -o "$out/parse_fuzz"

clang "${cflags[@]}" -U__SSE2__ -DFUZZ_SSE2_TOO=1 -fsanitize=fuzzer \
    "$top/fuzz/parse_fuzz.c" "$top/fuzz/ngx_stubs.c" \
    "$out/portable/parse.o" "$out/portable/json.o" \
    "$out/sse2/renamed-parse.o" "$out/sse2/renamed-json.o" \
    -lyajl -o "$out/parse_fuzz_portable"

cd "$out"

if [ "$secs" != 0 ]; then
    echo "== fuzz: SSE2, $secs s"
    ./parse_fuzz -max_total_time="$secs" -max_len=4096 \
        -artifact_prefix=sse2- corpus
    echo "== fuzz: portable, against SSE2, $secs s"
    ./parse_fuzz_portable -max_total_time="$secs" -max_len=4096 \
        -artifact_prefix=portable- corpus
fi

echo "== fuzz: the corpus ($(ls corpus | wc -l) inputs) through both builds"
./parse_fuzz_portable -runs=0 -max_len=4096 -artifact_prefix=portable- corpus

# the state file's reader; its seeds made by the writer's own pieces,
# never kept as files in the repository
for f in "$top/src/ngx_http_upbot_state.c" "$top/fuzz/ngx_stubs.c"; do
    clang "${cflags[@]}" -fsanitize=fuzzer-no-link \
        -c "$f" -o "$out/state/$(basename "$f" .c).o"
done

clang "${cflags[@]}" -fsanitize=fuzzer "$top/fuzz/state_fuzz.c" \
    "$out"/state/*.o -o "$out/state_fuzz"
clang "${cflags[@]}" "$top/fuzz/state_seed.c" "$out"/state/*.o \
    -o "$out/state_seed"

"$out/state_seed" "$out/state/corpus"

if [ "$secs" != 0 ]; then
    echo "== fuzz: the state file's reader, $secs s"
    ./state_fuzz -max_total_time="$secs" -max_len=16384 \
        -artifact_prefix=state- state/corpus
fi

echo "== fuzz: the state corpus ($(ls state/corpus | wc -l) inputs)"
./state_fuzz -runs=0 -max_len=16384 -artifact_prefix=state- state/corpus
