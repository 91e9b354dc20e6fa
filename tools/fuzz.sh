#!/bin/sh
# Runs every libFuzzer target of a fuzzing build for a bounded time and
# merges what it found interesting into fuzz/corpus/<target>.
#
#   tools/fuzz.sh BUILD_DIR SECONDS JOBS [TARGET...]
#
# At most JOBS targets run at once. Each starts from its committed corpus,
# writes new inputs into a scratch directory, and afterwards `-merge=1`
# keeps only those that add edge coverage. A crash, leak, sanitizer report or
# timeout leaves its input in BUILD_DIR/fuzz-artifacts/ and makes the
# script exit 1 (after every target has had its turn).
set -u
build=$1
seconds=$2
jobs=$3
shift 3
root=$(cd "$(dirname "$0")/.." && pwd)
if [ $# -eq 0 ]; then
    set -- $(sed -n "s/^ *'\([a-z_]*\)',\$/\1/p" "$root/fuzz/meson.build")
fi
artifacts="$build/fuzz-artifacts"
mkdir -p "$artifacts"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1

run_one() {
    t=$1
    corpus="$root/fuzz/corpus/$t"
    scratch="$build/fuzz-scratch/$t"
    rm -rf "$scratch"
    mkdir -p "$scratch" "$corpus"
    log="$build/fuzz-$t.log"
    echo "fuzz $t: ${seconds}s, log $log"
    "$build/fuzz/fuzz-$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
        -artifact_prefix="$artifacts/$t-" -print_final_stats=1 "$scratch" "$corpus" >"$log" 2>&1
    status=$?
    before=$(ls "$corpus" | wc -l)
    # Edge coverage only (no hit counters): keeps the corpus at a few
    # hundred inputs rather than thousands.
    "$build/fuzz/fuzz-$t" -merge=1 -use_counters=0 -rss_limit_mb=2048 -max_len=65536 "$corpus" "$scratch" \
        >>"$log" 2>&1
    after=$(ls "$corpus" | wc -l)
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    echo "fuzz $t: exit $status, ${runs:-?} runs, corpus $before -> $after files"
    return $status
}

failed=0
running=0
pids=""
for t in "$@"; do
    run_one "$t" &
    pids="$pids $!"
    running=$((running + 1))
    if [ "$running" -ge "$jobs" ]; then
        for p in $pids; do wait "$p" || failed=1; done
        pids=""
        running=0
    fi
done
for p in $pids; do wait "$p" || failed=1; done
if [ "$failed" -ne 0 ]; then
    echo "fuzzing found something: see $artifacts and $build/fuzz-*.log"
    exit 1
fi
