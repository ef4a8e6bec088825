#!/usr/bin/env bash
# The precision guard of recur.h (run by `make check`): a program compiled
# for one recur_real and linked with the other build of the library must
# fail to link, naming the marker it lacks; with its own build it links.
#   examples/encoder.c (float) against librecur64.a (double): refused
#   a small program built with -DRECUR_DOUBLE against librecur.a: refused
#   each against its own build, and encoder.c against librecur.so: linked
set -euo pipefail
build=${1:-build}
cc=${CC:-cc}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
flags="-std=c11 -D_POSIX_C_SOURCE=200809L -Wall -Wextra -Werror -Iinclude $(pkg-config --cflags openblas jansson)"
libs="$(pkg-config --libs openblas jansson) -lm -lpthread"
fail() { echo "precision_guard: $*" >&2; exit 1; }

# a program whose calls exist in both builds: only the guard can tell them apart
cat > "$tmp/config.c" <<'C'
#include <stdio.h>
#include "recur.h"
int main(void)
{
    recur_model_config cfg;
    recur_model_config_default(&cfg);
    printf("%d %zu\n", cfg.rnn.hidden_size, sizeof(recur_real));
    return 0;
}
C

# links: expect_link OUT SOURCE LIBRARY [FLAGS...]
expect_link() {
    local out=$1 src=$2 lib=$3; shift 3
    $cc $flags "$@" -o "$tmp/$out" "$src" "$lib" $libs 2> "$tmp/$out.err" ||
        fail "$src $* did not link with $lib: $(cat "$tmp/$out.err")"
}
# refused: expect_refused OUT SOURCE LIBRARY MARKER [FLAGS...]
expect_refused() {
    local out=$1 src=$2 lib=$3 marker=$4; shift 4
    if $cc $flags "$@" -o "$tmp/$out" "$src" "$lib" $libs 2> "$tmp/$out.err"; then
        fail "$src $* linked with $lib, the other precision"
    fi
    grep -q "undefined reference to \`$marker'" "$tmp/$out.err" ||
        fail "$src $* with $lib failed, but not on $marker: $(cat "$tmp/$out.err")"
}

expect_refused encoder_f64 examples/encoder.c "$build/librecur64.a" recur_abi_float32
expect_link encoder examples/encoder.c "$build/librecur.a"
"$tmp/encoder" > /dev/null || fail "encoder linked with librecur.a does not run"
expect_link encoder_so examples/encoder.c "$build/librecur.so"
expect_refused config_f32 "$tmp/config.c" "$build/librecur.a" recur_abi_float64 -DRECUR_DOUBLE
expect_link config_f64 "$tmp/config.c" "$build/librecur64.a" -DRECUR_DOUBLE
expect_refused config_f64_so "$tmp/config.c" "$build/librecur.so" recur_abi_float64 -DRECUR_DOUBLE
expect_link config_f32 "$tmp/config.c" "$build/librecur.a"
[ "$("$tmp/config_f64" | cut -d' ' -f2)" = 8 ] || fail "the double program does not see double"
echo "precision_guard: mixed precisions refused at link time, matching ones linked"
