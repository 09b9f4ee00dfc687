#!/usr/bin/env bash
# Fuzz smoke: builds the cargo-fuzz targets in fuzz/ and runs each for a few seconds from the committed
# seeds (fuzz/seeds/TARGET). A crash, a failed assertion or a hang (an input taking over 30 s) fails it.
#
#   scripts/fuzz-smoke.sh                      # FUZZ_SMOKE_SECONDS=5 per target by default
#
# Needs the nightly toolchain (skipped with a message when it is missing) and cargo-fuzz (installed from
# crates.io when missing). The fuzz crate is not part of the workspace and builds into fuzz/target.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${FUZZ_SMOKE_SECONDS:-5}
export CARGO_BUILD_TARGET=${CARGO_BUILD_TARGET:-x86_64-unknown-linux-gnu}
export CARGO_TERM_COLOR=never CARGO_INCREMENTAL=0

if ! cargo +nightly --version >/dev/null 2>&1; then
    echo "fuzz smoke: skipped: no nightly toolchain (rustup toolchain install nightly)"
    exit 0
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
    t0=$(date +%s)
    echo "fuzz smoke: installing cargo-fuzz from crates.io"
    cargo install cargo-fuzz --locked
    echo "fuzz smoke: cargo-fuzz installed in $(( $(date +%s) - t0 )) s"
fi

t0=$(date +%s)
# --sanitizer=none: the code under test is safe Rust, so ASan buys little and halves the speed;
# overflow checks and debug assertions stay on (fuzz/Cargo.toml's release profile).
(cd fuzz && cargo +nightly fuzz build --sanitizer=none)
echo "fuzz smoke: targets built in $(( $(date +%s) - t0 )) s"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for target in $(cd fuzz && cargo fuzz list); do
    mkdir -p "$work/$target" "fuzz/seeds/$target"
    echo "-- fuzz smoke: $target (${secs} s)"
    # New inputs go to a scratch corpus; the committed seeds are only read.
    if ! (cd fuzz && cargo +nightly fuzz run --sanitizer=none "$target" "$work/$target" "seeds/$target" -- \
            -max_total_time="$secs" -timeout=30 -print_final_stats=1 >"$work/$target.log" 2>&1); then
        tail -n 60 "$work/$target.log"
        echo "fuzz smoke: $target FAILED (the input is in fuzz/artifacts/$target/; reproduce with"
        echo "  cd fuzz && cargo +nightly fuzz run --sanitizer=none $target artifacts/$target/<file>)"
        exit 1
    fi
    grep -E '^(#[0-9]+[[:space:]]+DONE|stat::number_of_executed_units)' "$work/$target.log" | tail -n 2 | sed 's/^/   /'
done
echo "fuzz smoke: ok ($(( $(date +%s) - t0 )) s)"
