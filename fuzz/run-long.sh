#!/usr/bin/env bash
# Long fuzz runs: each target named on the command line in turn, until 10 million executions or
# MAX_SECONDS (default 1800), from fuzz/corpus/TARGET plus the committed seeds. Logs in fuzz/logs/.
#   fuzz/run-long.sh new_client error_body        # one after the other
#   FORK=1 fuzz/run-long.sh error_body            # keep going after a crash (libFuzzer fork mode, 1 job);
#                                                 # crashes are collected in fuzz/artifacts/TARGET/
set -uo pipefail
cd "$(dirname "$0")"
export CARGO_BUILD_TARGET=x86_64-unknown-linux-gnu CARGO_INCREMENTAL=0 CARGO_TERM_COLOR=never
mkdir -p logs
extra=()
[ -n "${FORK:-}" ] && extra=(-fork=1 -ignore_crashes=1)
for t in "$@"; do
    mkdir -p "corpus/$t" "seeds/$t"
    log="logs/$t${FORK:+-fork}.log"
    echo "== $(date -u +%H:%M:%S) $t" >> logs/runs.txt
    cargo +nightly fuzz run -s none "$t" "corpus/$t" "seeds/$t" -- \
        -max_total_time="${MAX_SECONDS:-1800}" -runs=10000000 -print_final_stats=1 "${extra[@]}" > "$log" 2>&1
    rc=$?
    echo "== $(date -u +%H:%M:%S) $t exit $rc" >> logs/runs.txt
done
