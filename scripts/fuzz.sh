#!/usr/bin/env bash
# Fuzz SwiftLB's HTTP/1 codec with libFuzzer (swiftc -sanitize=fuzzer), starting from the corpus
# the test suite replays (Tests/fixtures/fuzz-corpus/http1). New inputs that reach new code are
# written to a scratch corpus outside the checkout; copy interesting ones into the repository's
# corpus by hand. A crash leaves a crash-* file in the current directory and stops the run.
#   scripts/fuzz.sh [seconds]        (default 60)
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_TO_RUN=${1:-60}
# shellcheck source=lib/deps.sh
. scripts/lib/deps.sh
deps_install build
SCRATCH=${FUZZ_SCRATCH:-/tmp/swiftlb-fuzz}
mkdir -p "$SCRATCH/corpus"
cp -n Tests/fixtures/fuzz-corpus/http1/* "$SCRATCH/corpus/" 2>/dev/null || true
( cd Fuzz && swift build -c release --scratch-path "$SCRATCH/build" -Xswiftc -sanitize=fuzzer -Xswiftc -parse-as-library --product FuzzHTTP1 >"$SCRATCH/build.log" 2>&1 ) \
    || { grep -B2 -A6 "error:" "$SCRATCH/build.log" | head -40; exit 1; }
BIN=$("$SCRATCH/build/release/FuzzHTTP1" -help=1 >/dev/null 2>&1 && echo "$SCRATCH/build/release/FuzzHTTP1")
"$BIN" -max_total_time="$SECONDS_TO_RUN" -max_len=4096 -print_final_stats=1 "$SCRATCH/corpus" 2>&1 | tail -n 25
