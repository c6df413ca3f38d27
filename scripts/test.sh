#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test: the release build (gcc), then an ASan+UBSan
# build of the same suite (clang), whose libFuzzer targets then run 10 s each. Prints per-suite results and, last, "N passed, N failed, N skipped" over all
# test cases.
set -uo pipefail
cd "$(dirname "$0")/.."

./scripts/setup.sh || exit 1

status=0
run_suite() {  # build dir, extra meson setup args...
  local dir=$1
  shift
  rm -f "$dir"/meson-logs/testlog.json "$dir"/tests/junit-*.xml
  if [ ! -f "$dir/build.ninja" ]; then
    meson setup "$dir" "$@" || return 1
  fi
  ninja -C "$dir" || return 1
  meson test -C "$dir" --print-errorlogs --num-processes 2 || status=1
}

run_suite build || status=1
# Sanitizer build, clang: ASan + UBSan (leaks, bounds and UB are errors), with libFuzzer's coverage
# instrumentation on the libraries, so that the same objects serve the test suite and the fuzz targets
# (one sanitizer build instead of two). -O0 with line tables (-g1): reports still name the function,
# file and line. UBSan's alignment check is off: at -O0 it instruments every dereference (a third of
# this build's compile time, measured on test_ops), and it has nothing to find here, since every
# reader decodes bytes with memcpy (no reinterpret_cast of a byte buffer to a wider type). No CUDA,
# no benchmarks.
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
clangxx=clang++
command -v ccache > /dev/null && clangxx="ccache clang++"
CXX="$clangxx" run_suite build-asan -Dfuzz=true -Db_sanitize=address,undefined -Db_lundef=false -Dbuildtype=plain \
  -Doptimization=0 -Ddebug=false "-Dcpp_args=['-g1','-fno-sanitize=alignment']" -Dcuda=disabled -Dbench=false || status=1

# libFuzzer targets (tests/fuzz/) of that build: 10 s per target (idx, cifar, safetensors, grid), two
# at a time; a failing input is left in build-asan/artifacts/.
FUZZ_BUILD=build-asan FUZZ_PARALLEL=2 ./scripts/fuzz.sh 10 || status=1

python3 scripts/count_tests.py build build-asan
exit $status
