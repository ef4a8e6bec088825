#!/usr/bin/env bash
# `make install` and `make uninstall` into a temporary prefix (run by `make
# check`): the installed files and links, a program built the way another
# project would (pkg-config --cflags --libs recur) against the shared
# library and run from the prefix, the CLI, then uninstall, after which no
# file or link is left under the prefix.
set -euo pipefail
build=${1:-build}
cc=${CC:-cc}
make=${MAKE:-make}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/prefix
fail() { echo "install: $*" >&2; exit 1; }
major=$(sed -n 's/^#define RECUR_VERSION_MAJOR \([0-9][0-9]*\)$/\1/p' include/recur.h)
version=$(sed -n 's/^#define RECUR_VERSION "\([^"]*\)".*/\1/p' include/recur.h)

$make -s --no-print-directory install BUILD="$build" PREFIX="$prefix" > "$tmp/install.log" 2>&1 ||
    fail "make install failed: $(cat "$tmp/install.log")"
for f in include/recur.h include/recur_train.h include/recur_classify.h include/recur_seq2seq.h include/recur_tag.h lib/librecur.a "lib/librecur.so.$version" bin/recur lib/pkgconfig/recur.pc; do
    [ -f "$prefix/$f" ] && [ ! -L "$prefix/$f" ] || fail "$f is not installed"
done
for l in "lib/librecur.so.$major" lib/librecur.so; do
    [ "$(readlink "$prefix/$l")" = "librecur.so.$version" ] || fail "$l is not a link to librecur.so.$version"
done

export PKG_CONFIG_PATH=$prefix/lib/pkgconfig
[ "$(pkg-config --modversion recur)" = "$version" ] || fail "pkg-config does not give version $version"
static=$(pkg-config --static --libs recur)
for lib in -lrecur -lopenblas -ljansson -lm -lpthread; do
    [[ " $static " == *" $lib "* ]] || fail "pkg-config --static --libs recur lacks $lib: $static"
done

# a man page for the program and for each command it lists, readable by man
for page in recur recur-lm recur-lm-train recur-ngram-eval; do
    [ -f "$prefix/share/man/man1/$page.1" ] || fail "man page $page.1 is not installed"
done
if command -v man > /dev/null; then
    page=$(MANWIDTH=80 man -l "$prefix/share/man/man1/recur-lm-train.1" 2> /dev/null)
    grep -q -- "--hidden" <<<"$page" || fail "man -l recur-lm-train.1 does not list --hidden"
fi

# an outside program: only the installed header and library
$cc -std=c11 -Wall -Wextra -Werror $(pkg-config --cflags recur) -o "$tmp/encoder" examples/encoder.c \
    $(pkg-config --libs recur) 2> "$tmp/cc.log" || fail "encoder does not build with pkg-config: $(cat "$tmp/cc.log")"
# (outputs captured first: under pipefail, grep -q leaving early would fail the pipe)
dynamic=$(readelf -dW "$tmp/encoder")
grep -q "(NEEDED).*\[librecur.so.$major\]" <<<"$dynamic" || fail "encoder does not load librecur.so.$major"
loaded=$(LD_LIBRARY_PATH=$prefix/lib ldd "$tmp/encoder")
grep -q "librecur.so.$major => $prefix/lib/" <<<"$loaded" ||
    fail "encoder does not find librecur.so.$major in $prefix/lib: $loaded"
LD_LIBRARY_PATH=$prefix/lib "$tmp/encoder" > "$tmp/encoder.out" || fail "encoder failed against the installed library"
[ -s "$tmp/encoder.out" ] || fail "encoder printed nothing"
[ "$("$prefix/bin/recur" --version)" = "recur $version" ] || fail "the installed recur is not version $version"

$make -s --no-print-directory uninstall BUILD="$build" PREFIX="$prefix" > "$tmp/uninstall.log" 2>&1 ||
    fail "make uninstall failed: $(cat "$tmp/uninstall.log")"
left=$(find "$prefix" ! -type d)
[ -z "$left" ] || fail "left after uninstall: $left"
echo "install: $prefix: installed, encoder built with pkg-config and run on librecur.so.$major, uninstalled"
