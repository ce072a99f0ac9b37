#!/usr/bin/env bash
# Builds ngx_http_upbot_module.so.
#
# Default: against Debian's nginx-dev (/usr/share/nginx/src, configured with
# Debian's own flags from its conf_flags), so /usr/sbin/nginx loads it.
# NGINX_SRC=/path/to/nginx-x.y.z: against that full source tree instead (it
# then also builds that tree's nginx binary, for tests and debugging).
# The module lands in build/modules/.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
out="$top/build"
mkdir -p "$out/modules"

if [ -n "${NGINX_SRC:-}" ]; then
    src=$(cd "$NGINX_SRC" && pwd)
    tree="$src"
    flags=(${NGINX_CONFIGURE_FLAGS:---with-compat --with-debug --with-http_ssl_module})
    target=build
else
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

stamp="$tree/objs/.upbot-configured"
want="${flags[*]} --add-dynamic-module=$top"

# configure again only when the flags or the addon's file list changed
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ] \
   || [ "$top/config" -nt "$stamp" ]; then
    echo "build.sh: configuring $tree"
    (cd "$tree" && ./configure "${flags[@]}" --add-dynamic-module="$top" \
        > "$out/configure.log" 2>&1) \
        || { tail -30 "$out/configure.log" >&2; exit 1; }
    echo "$want" > "$stamp"
fi

echo "build.sh: make $target"
make -s -C "$tree" -f objs/Makefile "$target"

cp "$tree/objs/ngx_http_upbot_module.so" "$out/modules/"
if [ -n "${NGINX_SRC:-}" ]; then
    cp "$tree/objs/nginx" "$out/nginx"
fi
echo "build.sh: built $out/modules/ngx_http_upbot_module.so"
