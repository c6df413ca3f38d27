#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test: the release build, then an ASan+UBSan build
# of the same suite. Prints per-suite results and, last, "N passed, N failed, N skipped" over all
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
# Sanitizer build: no CUDA, no benchmarks; leaks, bounds and UB are errors. -O0 with line tables
# (-g1) compiles about 5x faster than -O2 -g under the sanitizers, which keeps the whole script within
# 15 minutes on 2 cores; reports still name the function, file and line.
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
run_suite build-asan -Db_sanitize=address,undefined -Db_lundef=false -Dbuildtype=plain -Doptimization=0 \
  -Ddebug=false -Dcpp_args=-g1 -Dcuda=disabled -Dbench=false || status=1

# libFuzzer targets (tests/fuzz/): a clang + ASan + UBSan build in build-fuzz/, then 10 s per target
# (idx, cifar, safetensors, grid); a failing input is left in build-fuzz/artifacts/.
./scripts/fuzz.sh 10 || status=1

python3 scripts/count_tests.py build build-asan
exit $status
