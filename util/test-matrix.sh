#!/usr/bin/env bash
# make test-matrix: the whole suite against every maintained nginx.org
# version in ../shared/vendor/nginx, each built --with-compat with the module
# loaded dynamically, and against the newest stable with the module compiled
# in (--add-module), since both are ways users build it.  Each entry gets its
# own tree and output under build/matrix/NAME/, so a second run rebuilds only
# what changed.  Prints pass/fail and seconds per entry; exits non-zero if
# any entry failed.
#
# Every entry is built --with-debug (as util/build.sh builds by default), so
# the tests that read debug lines of the error log run against each; they
# tell a debug build by `$TEST_NGINX_BINARY -V 2>&1 | grep -q -- --with-debug`
# and skip otherwise.  An entry named VERSION-nodebug (or
# VERSION-static-nodebug) is built without it, as nginx.org's own nginx is:
# the module must compile there too, and those tests must skip cleanly.
#
# MATRIX="1.24.0 1.30.4-static": only these entries.  NGINX_TARBALLS=DIR:
# where the nginx-X.Y.Z.tar.gz files are.  T=t/030-pool.t: only
# these tests.  PROVE_INC: prove's -I for tnlite (the Makefile passes it).
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

# nginx-X.Y.Z.tar.gz files: CI keeps them beside the clone; a user's clone
# has none there, so NGINX_TARBALLS=DIR points at the user's own
vendor="${NGINX_TARBALLS:-$top/../shared/vendor/nginx}"
work="$top/build/matrix"
all="1.24.0 1.26.3 1.28.3 1.30.4 1.31.4 1.30.4-static"
read -r -a entries <<< "${MATRIX:-$all}"
read -r -a tests <<< "${T:-t/}"

# Test::Nginx when installed, else the project's runner (as make test does)
if [ -z "${PROVE_INC+set}" ]; then
    PROVE_INC=
    perl -MTest::Nginx::Socket -e1 2>/dev/null || PROVE_INC="-I util/tnlite"
fi
read -r -a prove_inc <<< "$PROVE_INC"

mkdir -p "$work"
summary=()
failed=0

for name in "${entries[@]}"; do
    # VERSION[-static][-nodebug]
    ver=${name%-nodebug}
    debug=1
    [ "$name" != "$ver" ] && debug=
    base=$ver
    ver=${ver%-static}
    static=
    [ "$base" != "$ver" ] && static=1
    dir="$work/$name"
    tree="$dir/nginx-$ver"
    tarball="$vendor/nginx-$ver.tar.gz"
    # build.sh's default for NGINX_SRC (SSL, which the providers' https
    # upstreams need in production, debug logging, and threads, which
    # "fsync=on" syncs in), whatever the caller's environment has
    flags="--with-compat${debug:+ --with-debug} --with-http_ssl_module --with-threads"
    start=$(date +%s)

    echo "== test-matrix: nginx $name"

    if [ ! -f "$tarball" ]; then
        echo "test-matrix: $tarball missing" >&2
        summary+=("$(printf '%-14s FAIL   no tarball' "$name")")
        failed=$((failed + 1))
        continue
    fi

    # unpack once; a new tarball of the same version replaces the tree
    mkdir -p "$dir"
    if [ ! -f "$tree/configure" ] || [ "$tarball" -nt "$dir/.unpacked" ]; then
        rm -rf "$tree"
        tar -xzf "$tarball" -C "$dir"
        touch "$dir/.unpacked"
    fi

    if ! NGINX_SRC="$tree" BUILD_DIR="$dir" STATIC="$static" \
         NGINX_CONFIGURE_FLAGS="$flags" \
         "$top/util/build.sh" > "$dir/build.log" 2>&1
    then
        tail -40 "$dir/build.log" >&2
        end=$(date +%s)
        summary+=("$(printf '%-14s FAIL   build  %4ds  (%s)' \
                  "$name" $((end - start)) "$dir/build.log")")
        failed=$((failed + 1))
        continue
    fi
    built=$(date +%s)

    modules=
    [ -n "$static" ] || modules="$dir/modules/ngx_http_upbot_module.so"

    # the output goes to the terminal and to test.log, kept for a failure
    set +e
    TEST_NGINX_BINARY="$dir/nginx" TEST_NGINX_LOAD_MODULES="$modules" \
    TEST_UPBOT_NGINX_TREE="$tree" \
        prove "${prove_inc[@]}" -r "${tests[@]}" 2>&1 | tee "$dir/test.log"
    rc=${PIPESTATUS[0]}
    set -e
    end=$(date +%s)

    if [ "$rc" = 0 ]; then
        result=pass
    else
        result=FAIL
        failed=$((failed + 1))
    fi
    summary+=("$(printf '%-14s %-6s build %4ds  tests %4ds  total %4ds' \
              "$name" "$result" $((built - start)) $((end - built)) \
              $((end - start)))")
done

echo
echo "== test-matrix summary (logs in build/matrix/NAME/)"
printf '%s\n' "${summary[@]}"
echo "test-matrix: $(( ${#entries[@]} - failed )) passed, $failed failed"
[ "$failed" = 0 ]
