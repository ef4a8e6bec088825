#!/usr/bin/env bash
# The shared library as other programs see it (run by `make check`):
#  - its SONAME is librecur.so.MAJOR (MAJOR from include/recur.h), and the
#    build has the SONAME's link and librecur.so;
#  - it exports every function the header marks RECUR_API and the float
#    build's precision marker, under the version node RECUR_MAJOR, and
#    nothing else: no symbol without the recur_ prefix, no internal recur_
#    function;
#  - it has no TLS segment (thread-local variables would cost their size on
#    every thread of a program that links it).
set -euo pipefail
build=${1:-build}
major=$(sed -n 's/^#define RECUR_VERSION_MAJOR \([0-9][0-9]*\)$/\1/p' include/recur.h)
version=$major.$(sed -n 's/^#define RECUR_VERSION_MINOR \([0-9][0-9]*\)$/\1/p' include/recur.h)
version=$version.$(sed -n 's/^#define RECUR_VERSION_PATCH \([0-9][0-9]*\)$/\1/p' include/recur.h)
lib=$build/librecur.so.$version
fail() { echo "shared_library: $*" >&2; exit 1; }

[ -f "$lib" ] || fail "$lib is missing"
for link in "$build/librecur.so.$major" "$build/librecur.so"; do
    [ "$(readlink -f "$link")" = "$(readlink -f "$lib")" ] || fail "$link does not lead to $lib"
done
soname=$(readelf -dW "$lib" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
[ "$soname" = "librecur.so.$major" ] || fail "SONAME is '$soname', not librecur.so.$major"

segments=$(readelf -lW "$lib")
if grep -qw TLS <<<"$segments"; then fail "$lib has a TLS segment"; fi

# defined dynamic symbols, less the version node itself (an absolute symbol)
nm -D --defined-only "$lib" | awk '$2 != "A" { print $3 }' > "$build/exported.txt"
bad=$(grep -v '^recur_' "$build/exported.txt" || true)
[ -z "$bad" ] || fail "exported without the recur_ prefix: $(echo $bad)"
unversioned=$(grep -v "@@RECUR_$major\$" "$build/exported.txt" || true)
[ -z "$unversioned" ] || fail "exported outside the version node RECUR_$major: $(echo $unversioned)"
sed 's/@.*//' "$build/exported.txt" | sort > "$build/exported_names.txt"
# the headers' API: every function declared with RECUR_API
# and the float build's precision marker (RECUR_ABI_MARKER)
{ sed -n 's/^RECUR_API .*\b\(recur_[a-z0-9_]*\)(.*/\1/p' include/recur*.h; echo recur_abi_float32; } |
    sort -u > "$build/api_names.txt"
[ -s "$build/api_names.txt" ] || fail "found no RECUR_API function in include/recur*.h"
extra=$(comm -23 "$build/exported_names.txt" "$build/api_names.txt")
[ -z "$extra" ] || fail "exported but not in recur.h's API: $(echo $extra)"
missing=$(comm -13 "$build/exported_names.txt" "$build/api_names.txt")
[ -z "$missing" ] || fail "in recur.h's API but not exported: $(echo $missing)"
echo "shared_library: $soname, $(wc -l < "$build/api_names.txt") symbols, all recur_, version RECUR_$major, no TLS"
