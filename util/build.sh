#!/usr/bin/env bash
# Builds ngx_http_upbot_module.
#
# Default: the dynamic module against Debian's nginx-dev (/usr/share/nginx/src,
# configured with Debian's own flags from its conf_flags), so /usr/sbin/nginx
# loads it.
# NGINX_SRC=/path/to/nginx-x.y.z: against that full source tree instead (it
# then also builds that tree's nginx binary, for tests and debugging), with
# NGINX_CONFIGURE_FLAGS (default --with-compat --with-debug
# --with-http_ssl_module --with-threads: nginx.org's packages have threads,
# and "upbot_event_log ... fsync=on" needs them).  STATIC=1 with
# NGINX_SRC: the module is compiled into that nginx (--add-module) and
# there is no .so.  NGINX_CC_OPT and NGINX_LD_OPT with NGINX_SRC: compiler
# and linker options for that nginx and the module, passed whole as
# --with-cc-opt and --with-ld-opt (e.g. sanitizers: NGINX_CONFIGURE_FLAGS
# is split into words at spaces).
# Output goes to BUILD_DIR (default build/): modules/ngx_http_upbot_module.so,
# nginx (NGINX_SRC only), configure.log.  BUILD_JOBS: make's -j (default: the
# number of cores).
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
out="${BUILD_DIR:-$top/build}"
mkdir -p "$out/modules"
out=$(cd "$out" && pwd)
static="${STATIC:-}"
[ "$static" = 0 ] && static=

if [ -n "${NGINX_SRC:-}" ]; then
    src=$(cd "$NGINX_SRC" && pwd)
    tree="$src"
    # shellcheck disable=SC2206  # the flags are words
    flags=(${NGINX_CONFIGURE_FLAGS:---with-compat --with-debug --with-http_ssl_module --with-threads})
    if [ -n "${NGINX_CC_OPT:-}" ]; then
        flags+=("--with-cc-opt=$NGINX_CC_OPT")
    fi
    if [ -n "${NGINX_LD_OPT:-}" ]; then
        flags+=("--with-ld-opt=$NGINX_LD_OPT")
    fi
    target=build
else
    [ -z "$static" ] || { echo "build.sh: STATIC=1 needs NGINX_SRC" >&2; exit 1; }
    [ -z "${NGINX_CC_OPT:-}${NGINX_LD_OPT:-}" ] \
        || { echo "build.sh: NGINX_CC_OPT and NGINX_LD_OPT need NGINX_SRC" >&2; exit 1; }
    src=/usr/share/nginx/src
    [ -f "$src/conf_flags" ] || { echo "build.sh: $src missing: apt-get install nginx-dev" >&2; exit 1; }
    tree="$out/nginx-src"
    # shellcheck disable=SC1091
    . "$src/conf_flags"
    flags=("${NGX_CONF_FLAGS[@]}")
    # the compiler options Debian built its nginx with (-O2, hardening)
    cc_opt=$(/usr/sbin/nginx -V 2>&1 | sed -n "s/.*--with-cc-opt='\([^']*\)'.*/\1/p")
    [ -n "$cc_opt" ] && flags+=("--with-cc-opt=$cc_opt")
    target=modules
    if [ ! -d "$tree" ] || [ "$src/configure" -nt "$tree/configure" ]; then
        rm -rf "$tree"
        cp -r "$src" "$tree"          # configure writes objs/ into the tree
    fi
fi

if [ -n "$static" ]; then
    add="--add-module=$top"
else
    add="--add-dynamic-module=$top"
fi

stamp="$tree/objs/.upbot-configured"
want="${flags[*]} $add"

# configure again only when the flags or the addon's file list changed
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ] \
   || [ "$top/config" -nt "$stamp" ]; then
    echo "build.sh: configuring $tree"
    (cd "$tree" && ./configure "${flags[@]}" "$add" \
        > "$out/configure.log" 2>&1) \
        || { tail -30 "$out/configure.log" >&2; exit 1; }
    echo "$want" > "$stamp"
fi

echo "build.sh: make $target"
make -s -j"${BUILD_JOBS:-$(nproc)}" -C "$tree" -f objs/Makefile "$target"

if [ -n "$static" ]; then
    # a .so left from a dynamic build would not be this nginx's module
    rm -f "$out/modules/ngx_http_upbot_module.so"
    cp "$tree/objs/nginx" "$out/nginx"
    echo "build.sh: built $out/nginx with the module compiled in"
    exit 0
fi

cp "$tree/objs/ngx_http_upbot_module.so" "$out/modules/"
if [ -n "${NGINX_SRC:-}" ]; then
    cp "$tree/objs/nginx" "$out/nginx"
fi
echo "build.sh: built $out/modules/ngx_http_upbot_module.so"
