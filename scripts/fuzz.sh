#!/usr/bin/env bash
# Builds the libFuzzer targets of tests/fuzz/ (IDX, CIFAR-10, safetensors + checkpoint loading, the
# ablation grid parser) with clang, ASan and UBSan in build-fuzz/ (or FUZZ_BUILD), and runs each for
# SECONDS seconds.
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]      (default 10 s each; targets idx cifar safetensors grid)
#   FUZZ_RUNS=1000000 scripts/fuzz.sh 900 idx  (stop after a million executions, or 900 s if sooner)
#   FUZZ_JOBS=2                                 (parallel fuzzing processes per target; default 1)
#   FUZZ_PARALLEL=2                             (targets fuzzed at the same time; default 1)
#   FUZZ_BUILD=build-asan                       (an existing build configured with -Dfuzz=true, as
#                                                scripts/test.sh's sanitizer build is; default: build-fuzz/,
#                                                configured here at -O1 for faster executions)
#
# Each target starts from its seed corpus in tests/fuzz/corpus/<target>/ (read only) and keeps what it
# finds in <build>/corpus/<target>/, so longer campaigns build on earlier ones. A crash, a sanitizer
# report, a leak or an allocation above -malloc_limit_mb (a small input must stay cheap) stops the
# target, leaves the input in <build>/artifacts/ and makes the script exit non-zero. Reproduce one
# with: <build>/tests/fuzz/fuzz_<target> <build>/artifacts/<target>-crash-...
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-10}
shift || true
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(idx cifar safetensors grid)

if ! command -v clang++ > /dev/null; then
  echo "scripts/fuzz.sh: clang++ not found (apt-get install clang)" >&2
  exit 1
fi
bd=${FUZZ_BUILD:-build-fuzz}
if [ -n "${FUZZ_BUILD:-}" ]; then
  if ! grep -q "fuzz_idx" "$bd/build.ninja" 2> /dev/null; then
    echo "scripts/fuzz.sh: FUZZ_BUILD=$bd is not a build configured with -Dfuzz=true" >&2
    exit 1
  fi
elif [ ! -f build-fuzz/build.ninja ]; then
  cxx=clang++
  command -v ccache > /dev/null && cxx="ccache clang++"
  CXX="$cxx" meson setup build-fuzz -Dfuzz=true -Dtests=false -Dbench=false -Dcuda=disabled \
    -Db_sanitize=address,undefined -Db_lundef=false -Dbuildtype=plain -Doptimization=1 -Ddebug=false -Dcpp_args=-g1 > build-fuzz.log 2>&1 ||
    { cat build-fuzz.log >&2; exit 1; }
  rm -f build-fuzz.log
fi
ninja -C "$bd" $(printf 'tests/fuzz/fuzz_%s ' "${targets[@]}") > /dev/null

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
mkdir -p "$bd/artifacts"
run_target() {  # target: fuzzes it, prints one line, returns non-zero on a finding
  local t=$1
  mkdir -p "$bd/corpus/$t"
  local limit=(-max_total_time="$seconds")
  [ -n "${FUZZ_RUNS:-}" ] && limit+=(-runs="$FUZZ_RUNS")
  local jobs=()
  [ -n "${FUZZ_JOBS:-}" ] && jobs=(-jobs="$FUZZ_JOBS" -workers="$FUZZ_JOBS")
  local log="$bd/fuzz_$t.log"
  if "$bd/tests/fuzz/fuzz_$t" "${limit[@]}" "${jobs[@]}" -max_len=65536 -rss_limit_mb=2048 \
    -malloc_limit_mb=256 -timeout=20 -print_final_stats=1 -artifact_prefix="$bd/artifacts/$t-" \
    "$bd/corpus/$t" "tests/fuzz/corpus/$t" > "$log" 2>&1; then
    local runs
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1 || true)
    echo "fuzz_$t: ok, ${runs:-?} executions ($log)"
  else
    echo "fuzz_$t: FAILED ($log):" >&2
    tail -40 "$log" >&2
    return 1
  fi
}

# FUZZ_PARALLEL targets at a time (default 1; scripts/test.sh runs two, one per core).
parallel=${FUZZ_PARALLEL:-1}
status=0
pids=()
for t in "${targets[@]}"; do
  run_target "$t" &
  pids+=($!)
  if [ ${#pids[@]} -ge "$parallel" ]; then
    wait "${pids[0]}" || status=1
    pids=("${pids[@]:1}")
  fi
done
for pid in "${pids[@]}"; do
  wait "$pid" || status=1
done
exit $status
