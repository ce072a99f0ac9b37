#!/usr/bin/env bash
# The module's parser against a bound on a structural-index parser
# (bench/parse-bound.c), in instructions per body under callgrind: for
# each of bench/requests/, the module's parser whole, and the first stage
# alone of an index built four ways: 16 bytes at a time with SSE2, a
# compare per byte class ("compares"); with SSSE3, nibble tables
# ("tables") and the prefix xor one carry-less multiply ("clmul"); 32
# bytes at a time with AVX2, tables, with and without clmul.  Each figure is (Ir of 2N - Ir of N) / N of the
# function alone (callgrind's --toggle-collect), as bench/bench.pl counts
# a request.  The parser's pool here is malloc (fuzz/ngx_stubs.c), a few
# dozen instructions an allocation dearer than nginx's.  Needs gcc,
# valgrind and the configured tree of util/build.sh (make build); an
# index this CPU cannot run is left out.
#
#   bash bench/parse-bound.sh [N]
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
out="$top/build/parse-bound"
tree="$top/build/nginx-src"
n="${1:-1000}"

[ -f "$tree/objs/ngx_auto_config.h" ] || { echo "parse-bound: run make build first" >&2; exit 1; }
command -v valgrind >/dev/null || { echo "parse-bound: valgrind is needed" >&2; exit 1; }

mkdir -p "$out"

# the module's own flags: those Debian built its nginx with (-O2)
cc_opt=$(/usr/sbin/nginx -V 2>&1 | sed -n "s/.*--with-cc-opt='\([^']*\)'.*/\1/p")
read -r -a cflags <<< "${cc_opt:--O2}"
cflags+=(-I "$top/src" -I "$top/fuzz" -I "$tree/src/core" -I "$tree/src/event"
         -I "$tree/src/os/unix" -I "$tree/objs")

# name, compiler flags, the CPU flags they need
variants=(
    "sse2, compares||"
    "ssse3, tables, clmul|-mssse3 -mpclmul|ssse3 pclmulqdq"
    "avx2, tables|-mavx2|avx2"
    "avx2, tables, clmul|-mavx2 -mpclmul|avx2 pclmulqdq"
)

# a variant's binary: its name, without spaces or commas
binary() {
    echo "parse-bound-$1" | tr -c 'a-z0-9\n' '-'
}

cpu=$(grep -m1 '^flags' /proc/cpuinfo)
built=()

for v in "${variants[@]}"; do
    IFS='|' read -r name flags needs <<< "$v"
    ok=1
    for f in $needs; do
        [[ " $cpu " == *" $f "* ]] || ok=0
    done
    [ "$ok" = 1 ] || { echo "parse-bound: this CPU has no $needs: $name left out" >&2; continue; }
    # shellcheck disable=SC2086
    gcc "${cflags[@]}" $flags -o "$out/$(binary "$name")" \
        "$top/bench/parse-bound.c" "$top/fuzz/ngx_stubs.c" \
        "$top/src/ngx_http_upbot_parse.c" "$top/src/ngx_http_upbot_json.c"
    built+=("$name")
done

# instructions per call of FUNCTION in: BINARY ARGS... (the last is N)
per_call() {
    local fn=$1 ir1 ir2
    shift
    ir1=$(ir "$fn" "$@" "$n")
    ir2=$(ir "$fn" "$@" $((2 * n)))
    echo $(( (ir2 - ir1) / n ))
}

ir() {
    local fn=$1
    shift
    valgrind --tool=callgrind --toggle-collect="$fn" \
        --callgrind-out-file=/dev/null "$@" 2>&1 >/dev/null \
        | sed -n 's/.*Collected : *\([0-9]*\).*/\1/p'
}

printf '| body | bytes | the module'"'"'s parser |'
for name in "${built[@]}"; do printf ' index alone, %s |' "$name"; done
printf '\n|---|---:|---:|'
for name in "${built[@]}"; do printf -- '---:|'; done
printf '\n'

for body in "$top"/bench/requests/*.json; do
    case "$(basename "$body")" in
        media-info*) api=info ;;
        *) api=event ;;
    esac

    printf '| %s | %d | %d |' "$(basename "$body")" "$(stat -c %s "$body")" \
        "$(per_call bound_parser "$out/$(binary "${built[0]}")" parser "$api" "$body")"

    for name in "${built[@]}"; do
        printf ' %d |' "$(per_call bound_index "$out/$(binary "$name")" index "$body")"
    done
    printf '\n'
done
