#!/usr/bin/env bash
# make test-matrix: the whole suite against every maintained nginx.org
# version in ../shared/vendor/nginx, each built --with-compat with the module
# loaded dynamically, and against the newest stable with the module compiled
# in (--add-module), since both are ways users build it.  The newest stable's
# dynamic entry is its sanitized build, 1.30.4-asan (below), so that one
# build and run serves both (the plain 1.30.4 is built and run by the
# static entry, and by MATRIX=1.30.4 on request).  Each entry gets its
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
# An entry named VERSION-asan (make check-asan runs 1.30.4-asan alone) is
# that nginx and the module built by clang with AddressSanitizer and
# UndefinedBehaviorSanitizer (-fsanitize=address,undefined), and with
# NGX_DEBUG_PALLOC=1, which makes every allocation from an nginx pool its
# own malloc(): without it a pool hands out pieces of one large block, and
# ASan sees nothing that stays inside the block.  clang, not gcc: gcc's
# UBSan is a runtime of its own that ignores log_path, so its reports went
# to the error logs the runner removes.  ODR indicators: a dynamic module
# defines ngx_modules[] as the nginx binary does, and without them ASan
# poisons the binary's array with the module's size (a false
# global-buffer-overflow at the first reload).  asan.suppress and
# ubsan.suppress name what nginx itself does, and why.  The sanitizers
# write their reports to build/matrix/NAME/sanitizer/ (log_path: nginx
# points its stderr at its error log, which the runner removes with each
# block and no test reads for them), and the entry fails on any report
# there, whatever the tests said; the reports are printed.  The options reach every nginx the
# tests start through the environment, which ASan and UBSan read at the
# start of the process: workers are forked from it, so nginx's clearing of
# their environment (no `env` directive) does not matter.
# Leak detection is off: nginx's master and workers exit without freeing
# what lives as long as they do (the cycle, its pools), by design, and
# `make check-valgrind` is where the suite looks for leaks (definite
# ones, with valgrind.suppress).  ASAN_OPTIONS / UBSAN_OPTIONS of the
# caller's are added (ASAN_OPTIONS=detect_leaks=1 to see them anyway), but
# for log_path.
#
# MATRIX_BUILD_ONLY=1: build the entries and run nothing (CI builds them
# while the real Test::Nginx waits, then runs the matrix on the builds).
# MATRIX="1.24.0 1.30.4-static": only these entries.  NGINX_TARBALLS=DIR:
# where the nginx-X.Y.Z.tar.gz files are.  T=t/030-pool.t: only
# these tests.  PROVE_INC: prove's -I for tnlite (the Makefile passes it).
# MATRIX_SKIP: files left out of the whole suite (T=t/), by default the
# tests of other programs against the module's output (a Prometheus
# server, the Grafana dashboard, Chromium on the status page): they test
# nothing of nginx's version that t/070-t/074 do not, and take 16 s an
# entry; MATRIX_SKIP= runs them too.  And t/110-rsyslog.t (rsyslog's
# recipe and the rotation script; nginx's reopen is in t/050, t/080 and
# make check-faults), 13 s an entry.
# MATRIX_STATIC_T: the files a VERSION-static entry runs of the whole suite
# (T=t/): the module compiled into nginx differs from the loaded one only
# in how it gets there, so the entry checks that it builds in and that each
# part of it serves (seeds, HTTP, configuration, pools, events, both
# providers, the zone, metrics, the state file); the same sources run the
# whole suite in the sanitized entry of that version.  MATRIX_STATIC_T=t/
# runs everything there too.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

# nginx-X.Y.Z.tar.gz files: CI keeps them beside the clone; a user's clone
# has none there, so NGINX_TARBALLS=DIR points at the user's own
vendor="${NGINX_TARBALLS:-$top/../shared/vendor/nginx}"
work="$top/build/matrix"
all="1.24.0 1.26.3 1.28.3 1.30.4-asan 1.31.4 1.30.4-static"
read -r -a entries <<< "${MATRIX:-$all}"
read -r -a tests <<< "${T:-t/}"
skip="${MATRIX_SKIP-t/073-prometheus.t t/075-grafana.t t/076-status-chromium.t t/110-rsyslog.t}"
static_t="${MATRIX_STATIC_T-t/001-seeds.t t/010-http.t t/030-pool.t t/050-events.t t/060-config.t t/070-metrics.t t/091-codes-reader.t t/100-live-tim.t t/101-live-yunxin.t t/102-cache.t t/109-state.t}"
whole=
[ "${tests[*]}" = "t/" ] && whole=1
if [ -n "$whole" ] && [ -n "$skip" ]; then
    tests=()
    for f in t/*.t; do
        case " $skip " in *" $f "*) continue ;; esac
        tests+=("$f")
    done
fi

# Test::Nginx when installed, else the project's runner (as make test does)
if [ -z "${PROVE_INC+set}" ]; then
    PROVE_INC=
    perl -MTest::Nginx::Socket -e1 2>/dev/null || PROVE_INC="-I util/tnlite"
fi
read -r -a prove_inc <<< "$PROVE_INC"

# the dead nginx of each block reaped at once (see REAPER in the Makefile)
reaper=()
command -v tini > /dev/null && reaper=(tini -s --)

mkdir -p "$work"
summary=()
why=()
failed=0

for name in "${entries[@]}"; do
    # VERSION[-static][-nodebug][-asan]
    ver=${name%-asan}
    asan=
    [ "$name" != "$ver" ] && asan=1
    ver=${ver%-nodebug}
    debug=1
    [ "${name%-asan}" != "$ver" ] && debug=
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
    cc_opt=
    ld_opt=
    if [ -n "$asan" ]; then
        flags="$flags --with-cc=clang"
        cc_opt="-fsanitize=address,undefined -fno-omit-frame-pointer"
        cc_opt="$cc_opt -fsanitize-address-use-odr-indicator"
        cc_opt="$cc_opt -DNGX_DEBUG_PALLOC=1"
        ld_opt="-fsanitize=address,undefined"
    fi
    start=$(date +%s)

    echo "== test-matrix: nginx $name"

    if [ -n "$asan" ] && ! command -v clang > /dev/null; then
        echo "test-matrix: $name needs clang (apt-get install clang)" >&2
        summary+=("$(printf '%-14s FAIL   no clang' "$name")")
        failed=$((failed + 1))
        continue
    fi

    if [ ! -f "$tarball" ]; then
        echo "test-matrix: $tarball missing (nginx.org's tarball; CI keeps them in ../shared/vendor/nginx beside the clone, NGINX_TARBALLS=DIR for yours)" >&2
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
         NGINX_CONFIGURE_FLAGS="$flags" NGINX_CC_OPT="$cc_opt" \
         NGINX_LD_OPT="$ld_opt" \
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

    if [ -n "${MATRIX_BUILD_ONLY:-}" ]; then
        summary+=("$(printf '%-14s built  build  %4ds' \
                  "$name" $((built - start)))")
        continue
    fi

    modules=
    [ -n "$static" ] || modules="$dir/modules/ngx_http_upbot_module.so"

    # the sanitizers' own settings, and a check that the build has them
    san_env=()
    reports="$dir/sanitizer"
    if [ -n "$asan" ]; then
        san_env=(
          "ASAN_OPTIONS=detect_leaks=0:suppressions=$top/asan.suppress:${ASAN_OPTIONS:+$ASAN_OPTIONS:}log_path=$reports/san"
          "UBSAN_OPTIONS=print_stacktrace=1:suppressions=$top/ubsan.suppress:${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}log_path=$reports/san")
        # sanitizer/san.PID: any file there is a report
        rm -rf "$reports"
        mkdir -p "$reports"
        # (whole outputs: grep -q would end a pipe early, pipefail)
        libs=$(nm -D --defined-only "$dir/nginx")
        syms=
        [ -z "$modules" ] || syms=$(nm -D --undefined-only "$modules")
        if [[ $libs != *__asan_init* || $libs != *__ubsan_handle_* ]] \
           || ! grep -q -e '-DNGX_DEBUG_PALLOC=1' "$tree/objs/Makefile" \
           || [[ -n $modules && ( $syms != *__asan_report_store* \
                                  || $syms != *__ubsan_handle_* ) ]]
        then
            echo "test-matrix: $name: the build has no sanitizers" >&2
            summary+=("$(printf '%-14s FAIL   build  not sanitized' "$name")")
            failed=$((failed + 1))
            continue
        fi
    fi

    run=("${tests[@]}")
    if [ -n "$static" ] && [ -n "$whole" ] && [ "$static_t" != "t/" ]; then
        read -r -a run <<< "$static_t"
    fi

    # the output goes to the terminal and to test.log, kept for a failure
    set +e
    env "${san_env[@]}" \
    TEST_NGINX_BINARY="$dir/nginx" TEST_NGINX_LOAD_MODULES="$modules" \
    TEST_UPBOT_NGINX_TREE="$tree" \
        "${reaper[@]}" prove "${prove_inc[@]}" -r "${run[@]}" 2>&1 \
        | tee "$dir/test.log"
    rc=${PIPESTATUS[0]}
    set -e
    end=$(date +%s)

    note=
    if [ -n "$asan" ]; then
        found=$(find "$reports" -type f | sort)
        if [ -n "$found" ]; then
            n=$(printf '%s\n' "$found" | wc -l)
            note="  $n sanitizer report(s) in $reports"
            {
                echo "== test-matrix: $name: $n sanitizer report(s)"
                while IFS= read -r f; do
                    echo "-- $f"
                    cat "$f"
                done <<< "$found"
            } 2>&1 | tee -a "$dir/test.log" >&2
            rc=1
        fi
    fi

    if [ "$rc" = 0 ]; then
        result=pass
    else
        result=FAIL
        failed=$((failed + 1))
        # which tests, again at the end: CI shows only the last lines
        # and in the summary, each failed file with its tests' numbers
        note="$note  $(sed -n '/^Test Summary Report/,/^Result:/p' \
                       "$dir/test.log" \
                       | awk '/^t\// { f = $1 }
                              /Failed tests?:/ { sub(/.*: */, ""); \
                                                 printf "%s %s; ", f, $0 }
                              /Parse errors|Non-zero wait/ && f \
                                  { printf "%s died; ", f; f = "" }' \
                       | cut -c1-200)"
        why+=("== $name: $(grep -c "^#   Failed test" "$dir/test.log" || true) failed test(s)"
              "$(grep -A 3 -e "^#   Failed test" "$dir/test.log" | head -40 || true)"
              "$(sed -n '/^Test Summary Report/,/^Result:/p' "$dir/test.log" \
                 | head -30 || true)")
    fi
    summary+=("$(printf '%-14s %-6s build %4ds  tests %4ds  total %4ds%s' \
              "$name" "$result" $((built - start)) $((end - built)) \
              $((end - start)) "$note")")
done

if [ ${#why[@]} -gt 0 ]; then
    echo
    echo "== test-matrix: what failed"
    printf '%s\n' "${why[@]}"
fi

echo
echo "== test-matrix summary (logs in build/matrix/NAME/)"
printf '%s\n' "${summary[@]}"
done_word=passed
[ -z "${MATRIX_BUILD_ONLY:-}" ] || done_word=built
echo "test-matrix: $(( ${#entries[@]} - failed )) $done_word, $failed failed"
[ "$failed" = 0 ]
