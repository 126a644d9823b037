#!/usr/bin/env bash
# SwiftLB against HAProxy (nbthread 1) with ../shared/bench, interleaved, loopback only.
# usage: scripts/bench.sh [ROUNDS]     env: TESTS="a b c d e f", NBTHREAD for swiftlb
# Prints compare.sh's table; copy the figures into docs/benchmarks.md.
set -euo pipefail
cd "$(dirname "$0")/.."
B=${BENCH:-../shared/bench}
ROUNDS=${1:-2}
[ -x "$B/compare.sh" ] || { echo "scripts/bench.sh: no benchmark kit at $B (the shared ../shared/bench beside the checkout; set BENCH=DIR)" >&2; exit 2; }
export TESTS=${TESTS:-"a b c d e f"}
STATE=/tmp/lbbench
mkdir -p "$STATE"
# shellcheck source=lib/deps.sh
. scripts/lib/deps.sh
deps_build_release
cleanup() {
    if [ -s "$STATE/swiftlb.pid" ]; then kill "$(cat "$STATE/swiftlb.pid")" 2>/dev/null || true; fi
    "$B/stop.sh" all >/dev/null 2>&1 || true
}
trap cleanup EXIT INT TERM
"$B/start-backends.sh"
"$B/start-haproxy.sh" 1
cfg="$STATE/swiftlb-bench.cfg"
sed "s/^    nbthread 1$/    nbthread ${NBTHREAD:-1}/" scripts/bench-swiftlb.cfg > "$cfg"
# A pidfile left by a run that was killed would be read before the new one is written.
rm -f "$STATE/swiftlb.pid"
.build/release/swiftlb run -c "$cfg" > "$STATE/swiftlb.out" 2> "$STATE/swiftlb.err" &
for _ in $(seq 100); do [ -s "$STATE/swiftlb.pid" ] && break; sleep 0.1; done
ROUNDS=$ROUNDS ORDER=abba "$B/compare.sh" haproxy 18080 18443 "$STATE/haproxy.pid" swiftlb 18180 18543 "$STATE/swiftlb.pid"
