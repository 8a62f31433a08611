#!/usr/bin/env bash
# Installs the C library, its headers, the C++ RAII header, a pkg-config file
# and a CMake package under PREFIX (default /usr/local). `make install` runs it
# after `make lib`; it does not build anything itself.
#
#   scripts/install.sh [PREFIX]
#
# Environment: PQC_IIOT_LIB_DIR (default build/lib) is where libpqc_iiot.so/.a
# are taken from; DESTDIR is prepended to every written path (for packaging)
# but not to the paths recorded in the pkg-config file.
#
# The resulting tree matches `cmake --install` with the default GNU dirs of
# lib/ and include/: both fill the templates in cmake/.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
prefix="${1:-/usr/local}"
libsrc="${PQC_IIOT_LIB_DIR:-$root/build/lib}"
destdir="${DESTDIR:-}"

case "$prefix" in
  /*) ;;
  *) prefix="$(cd "$prefix" 2>/dev/null && pwd || echo "$PWD/$prefix")" ;;
esac

for f in libpqc_iiot.so libpqc_iiot.a; do
  if [ ! -f "$libsrc/$f" ]; then
    echo "install.sh: $libsrc/$f is missing; run \`make lib\` first" >&2
    exit 1
  fi
done

header="$root/include/pqc_iiot.h"
ver() { sed -n "s/^#define PQC_IIOT_VERSION_$1 \([0-9][0-9]*\).*/\1/p" "$header"; }
version="$(ver MAJOR).$(ver MINOR).$(ver PATCH)"
if ! [[ "$version" =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]]; then
  echo "install.sh: cannot read the version from $header" >&2
  exit 1
fi
pointer_bytes=$(( $(getconf LONG_BIT) / 8 ))

libdir="$prefix/lib"
includedir="$prefix/include"
cmakedir="$libdir/cmake/pqc_iiot"
pcdir="$libdir/pkgconfig"

install -d "$destdir$libdir" "$destdir$includedir" "$destdir$cmakedir" "$destdir$pcdir"
install -m 0755 "$libsrc/libpqc_iiot.so" "$destdir$libdir/libpqc_iiot.so"
install -m 0644 "$libsrc/libpqc_iiot.a" "$destdir$libdir/libpqc_iiot.a"
install -m 0644 "$header" "$destdir$includedir/pqc_iiot.h"
install -m 0644 "$root/bindings/c/pqc_iiot.hpp" "$destdir$includedir/pqc_iiot.hpp"

# Fills @NAME@ placeholders the way CMake's configure_file(@ONLY) does.
fill() {
  local template="$1" out="$2"
  sed -e "s|@PQC_IIOT_VERSION@|$version|g" \
      -e "s|@PQC_IIOT_SIZEOF_VOID_P@|$pointer_bytes|g" \
      -e "s|@PQC_IIOT_CONFIG_TO_PREFIX@|../../..|g" \
      -e "s|@PQC_IIOT_INSTALL_LIBDIR@|lib|g" \
      -e "s|@PQC_IIOT_INSTALL_INCLUDEDIR@|include|g" \
      -e "s|@PQC_IIOT_PC_PREFIX@|$prefix|g" \
      -e "s|@PQC_IIOT_PC_LIBDIR@|$libdir|g" \
      -e "s|@PQC_IIOT_PC_INCLUDEDIR@|$includedir|g" \
      "$template" > "$out.tmp"
  if grep -q '@[A-Z_][A-Z_]*@' "$out.tmp"; then
    echo "install.sh: unfilled placeholder in $out:" >&2
    grep -n '@[A-Z_][A-Z_]*@' "$out.tmp" >&2
    rm -f "$out.tmp"
    exit 1
  fi
  chmod 0644 "$out.tmp"
  mv "$out.tmp" "$out"
}
fill "$root/cmake/pqc_iiotConfig.cmake.in" "$destdir$cmakedir/pqc_iiotConfig.cmake"
fill "$root/cmake/pqc_iiotConfigVersion.cmake.in" "$destdir$cmakedir/pqc_iiotConfigVersion.cmake"
fill "$root/cmake/pqc_iiot.pc.in" "$destdir$pcdir/pqc_iiot.pc"

echo "installed pqc_iiot $version into $destdir$prefix"
