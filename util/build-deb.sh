#!/usr/bin/env bash
# `make deb`: builds build/libnginx-mod-http-upbot_<version>_<arch>.deb with
# dpkg-buildpackage, then checks it with lintian (fails on an error).
#
# The version is debian/changelog's. The build runs in a copy of the tree,
# build/libnginx-mod-http-upbot/, so that dpkg-buildpackage's outputs (it
# writes them beside the tree it builds) land in build/, not in the
# directory that holds this clone, and debhelper's files stay out of
# debian/. The Makefile has installed dpkg-dev and lintian; the
# Build-Depends of debian/control are installed here when missing.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
out="$top/build"
pkg=$(dpkg-parsechangelog -l "$top/debian/changelog" -S Source)
version=$(dpkg-parsechangelog -l "$top/debian/changelog" -S Version)
arch=$(dpkg --print-architecture)
deb="$out/${pkg}_${version}_${arch}.deb"
tree="$out/$pkg"

sudo=; [ "$(id -u)" = 0 ] || sudo=sudo

# debian/control is the one list of build dependencies
if ! (cd "$top" && dpkg-checkbuilddeps) 2>/dev/null; then
    echo "build-deb.sh: installing the Build-Depends of debian/control"
    $sudo apt-get update -q
    DEBIAN_FRONTEND=noninteractive $sudo apt-get build-dep -y -q "$top"
fi

mkdir -p "$out"
rm -rf "$tree"
rm -f "$out/${pkg}"_* "$out/${pkg}"-dbgsym_*

# nginx's configure names the objects of its own sources with sed, and a
# build directory whose path has ".S" in it (a clone under mktemp -d's
# /tmp/tmp.S...) comes out mangled ("No rule to make target
# .../obj-x86_64-linux-gnu//tmp/tmp.o..."): such a clone builds the
# package in a directory of /tmp of its own, and takes the outputs back
stage=
case "$tree" in
    *.S*) stage=$(mktemp -d /tmp/upbot-deb-XXXXXX)
          tree="$stage/$pkg" ;;
esac

mkdir -p "$tree"
# the source as it is now (committed or not), without build products
tar -C "$top" -c --exclude=./build --exclude=./.git --exclude='./t/servroot*' \
    --exclude=./obj-\* . | tar -C "$tree" -x

echo "build-deb.sh: dpkg-buildpackage in $tree"
(cd "$tree" && dpkg-buildpackage -b -us -uc) > "$out/deb-build.log" 2>&1 \
    || { tail -40 "$out/deb-build.log" >&2
         echo "build-deb.sh: failed, see $out/deb-build.log" >&2; exit 1; }

if [ -n "$stage" ]; then
    find "$stage" -maxdepth 1 -type f -exec mv {} "$out"/ \;
    rm -rf "$stage"
fi

[ -f "$deb" ] || { echo "build-deb.sh: $deb was not built" >&2; exit 1; }

# lintian's exit status is nonzero on an error (E:), and then so is ours
# (as root it also says "running with root privileges is not recommended")
echo "build-deb.sh: lintian $(basename "$deb")"
lintian --display-info "$deb"
echo "build-deb.sh: built $deb"
