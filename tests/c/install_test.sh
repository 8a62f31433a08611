#!/usr/bin/env bash
# Driver for the packaging tests registered in tests/c/CMakeLists.txt.
#
#   install_test.sh install-script SOURCE_DIR PREFIX
#   install_test.sh install-cmake  BUILD_DIR  PREFIX
#   install_test.sh compare        PREFIX_A   PREFIX_B
#   install_test.sh find-package   PREFIX CONSUMER_SRC WORK_DIR CMAKE
#   install_test.sh pkg-config     PREFIX CONSUMER_SRC WORK_DIR CC CXX
#
# Exit 77 means "skipped" (pkg-config not installed).
set -euo pipefail

mode="$1"
shift

run_consumers() {
  # Each consumer must run without LD_LIBRARY_PATH when built by CMake (the
  # imported target's directory goes into the build RPATH).
  local dir="$1"
  for exe in consumer_c consumer_cpp consumer_static; do
    echo "--- $exe"
    "$dir/$exe"
  done
}

case "$mode" in
install-script)
  src="$1" prefix="$2"
  rm -rf "$prefix"
  "$src/scripts/install.sh" "$prefix"
  ;;

install-cmake)
  build="$1" prefix="$2"
  rm -rf "$prefix"
  cmake --install "$build" --prefix "$prefix"
  ;;

compare)
  a="$1" b="$2"
  list() { (cd "$1" && find . -type f | sort); }
  if ! diff <(list "$a") <(list "$b"); then
    echo "install.sh and cmake --install produce different trees" >&2
    exit 1
  fi
  # The package files may differ only in the absolute prefix they record.
  for f in lib/pkgconfig/pqc_iiot.pc lib/cmake/pqc_iiot/pqc_iiotConfig.cmake \
           lib/cmake/pqc_iiot/pqc_iiotConfigVersion.cmake; do
    if ! diff <(sed "s|$a|PREFIX|g" "$a/$f") <(sed "s|$b|PREFIX|g" "$b/$f"); then
      echo "$f differs between install.sh and cmake --install" >&2
      exit 1
    fi
  done
  for f in lib/libpqc_iiot.so lib/libpqc_iiot.a include/pqc_iiot.h include/pqc_iiot.hpp; do
    cmp "$a/$f" "$b/$f"
  done
  echo "install trees match ($(list "$a" | wc -l) files)"
  ;;

find-package)
  prefix="$1" consumer="$2" work="$3" cmake="$4"
  rm -rf "$work"
  "$cmake" -S "$consumer" -B "$work" -DCMAKE_PREFIX_PATH="$prefix" \
    -DCMAKE_BUILD_TYPE=Release
  "$cmake" --build "$work"
  grep -q "pqc_iiot_DIR:PATH=$prefix/.*cmake/pqc_iiot\$" "$work/CMakeCache.txt" || {
    echo "find_package did not pick the package under $prefix" >&2
    grep pqc_iiot_DIR "$work/CMakeCache.txt" >&2
    exit 1
  }
  run_consumers "$work"
  # A version this package cannot satisfy must be refused.
  if "$cmake" -S "$consumer" -B "$work-v9" -DCMAKE_PREFIX_PATH="$prefix" \
       -DPQC_IIOT_REQUIRE_VERSION=9.0 >"$work-v9.log" 2>&1; then
    echo "find_package(pqc_iiot 9.0) succeeded; the version check is not working" >&2
    exit 1
  fi
  rm -rf "$work-v9" "$work-v9.log"
  echo "find_package consumer OK"
  ;;

pkg-config)
  prefix="$1" consumer="$2" work="$3" cc="$4" cxx="$5"
  if ! command -v pkg-config >/dev/null 2>&1; then
    echo "SKIP: pkg-config is not installed (apt-get install -y pkg-config)"
    exit 77
  fi
  export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
  rm -rf "$work"
  mkdir -p "$work"
  pkg-config --exists --print-errors pqc_iiot
  echo "pkg-config: version $(pkg-config --modversion pqc_iiot)," \
       "flags $(pkg-config --cflags --libs pqc_iiot)"
  # shellcheck disable=SC2046
  "$cc" -std=c99 -Wall -Wextra -Werror -pedantic "$consumer/consumer.c" \
    -o "$work/consumer_c" $(pkg-config --cflags --libs pqc_iiot)
  # shellcheck disable=SC2046
  "$cxx" -std=c++17 -Wall -Wextra -Werror "$consumer/consumer.cpp" \
    -o "$work/consumer_cpp" $(pkg-config --cflags --libs pqc_iiot)
  # A static link takes the archive explicitly plus Libs.private.
  # shellcheck disable=SC2046
  "$cc" -std=c99 -Wall -Wextra -Werror "$consumer/consumer.c" \
    -o "$work/consumer_static" $(pkg-config --cflags pqc_iiot) \
    "$prefix/lib/libpqc_iiot.a" $(pkg-config --static --libs-only-l pqc_iiot | sed 's/-lpqc_iiot//')
  if readelf -d "$work/consumer_static" | grep -q 'libpqc_iiot'; then
    echo "consumer_static depends on libpqc_iiot.so" >&2
    exit 1
  fi
  # pkg-config gives no rpath, and the prefix is not in the loader path.
  LD_LIBRARY_PATH="$prefix/lib" run_consumers "$work"
  echo "pkg-config consumer OK"
  ;;

*)
  echo "install_test.sh: unknown mode $mode" >&2
  exit 2
  ;;
esac
