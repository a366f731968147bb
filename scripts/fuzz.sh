#!/bin/sh
# Runs every libFuzzer target of build-sanitize (make fuzz) until it has made RUNS executions or
# spent SECONDS, whichever comes first, JOBS targets at once, each on a copy of its corpus
# (fuzz/corpus/<target>, kept in build-sanitize/corpus so new inputs accumulate between runs), and
# prints one line per target. A finding (crash, sanitizer report, timeout, out of memory) is
# saved in build-sanitize/findings/ and makes the script fail; add it to fuzz/corpus/<target>/ once
# fixed, so the normal test suite replays it.
#   [FUZZ_TARGETS="npy http"] scripts/fuzz.sh [build-sanitize] [SECONDS=600] [RUNS=1000000] [JOBS=nproc]
set -u
BUILD=${1:-build-sanitize}
SECONDS_EACH=${2:-600}
RUNS=${3:-1000000}
JOBS=${4:-$(nproc)}
SOURCE=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$BUILD/findings" "$BUILD/logs"
# Most targets write each input to a file (the parsers read files): in memory, twice as fast.
if [ -w /dev/shm ]; then export TMPDIR=/dev/shm; fi

run_one() {
  name=$1
  corpus="$BUILD/corpus/$name"
  mkdir -p "$corpus"
  # -rss_limit_mb also caps any single allocation: a parser must not allocate 2 GiB for a
  # small input. -timeout: one input may take at most 10 s.
  "$BUILD/fuzz/fuzz-$name" -runs="$RUNS" -max_total_time="$SECONDS_EACH" -rss_limit_mb=2048 \
    -timeout=10 -print_final_stats=1 -artifact_prefix="$BUILD/findings/$name-" \
    "$corpus" "$SOURCE/fuzz/corpus/$name" > "$BUILD/logs/$name.log" 2>&1
  status=$?
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$BUILD/logs/$name.log")
  time=$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$BUILD/logs/$name.log")
  units=$(ls "$corpus" | wc -l)
  if [ "$status" = 0 ]; then verdict="no finding"; else verdict="FINDING (exit $status, $BUILD/logs/$name.log)"; fi
  printf '%-16s %10s runs %6s s  corpus %5s  %s\n' "$name" "${runs:-?}" "${time:-?}" "$units" "$verdict"
  return $status
}

targets=${FUZZ_TARGETS:-$(ls "$BUILD/fuzz" 2>/dev/null | sed -n "s/^fuzz-//p")}
[ -n "$targets" ] || { echo "fuzz.sh: no fuzz targets in $BUILD/fuzz (run make fuzz)" >&2; exit 1; }
failed=0
# In batches of JOBS (each target uses one core).
set -- $targets
while [ $# -gt 0 ]; do
  pids=""
  for _ in $(seq "$JOBS"); do
    [ $# -gt 0 ] || break
    run_one "$1" > "$BUILD/logs/$1.line" & pids="$pids $!"
    shift
  done
  for pid in $pids; do wait "$pid" || failed=1; done
done
for name in $targets; do cat "$BUILD/logs/$name.line"; done
exit $failed
