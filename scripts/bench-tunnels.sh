#!/usr/bin/env bash
# Tunnels against HAProxy (both nbthread 1, loopback only): mode tcp in front of Redis
# (redis-benchmark SET/GET, -P 1 and -P 16) and WebSocket tunnels (round trips, idle memory).
# usage: scripts/bench-tunnels.sh [ROUNDS]     (needs redis-server, redis-benchmark, haproxy,
#        python3-websockets: scripts/lib/deps.sh installs them for the test suite)
# Each round runs HAProxy then SwiftLB, then SwiftLB then HAProxy (ABBA). Prints one line per
# run and the figures to copy into docs/benchmarks.md.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-2}
for tool in redis-server redis-benchmark haproxy python3; do
    command -v "$tool" >/dev/null || { echo "bench-tunnels.sh: $tool is missing (scripts/lib/deps.sh installs it)" >&2; exit 2; }
done
# shellcheck source=lib/deps.sh
. scripts/lib/deps.sh
deps_build_release
WORK=$(mktemp -d /tmp/swiftlb-bench-tunnels.XXXXXX)
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

REDIS=18379 WSBACK=18302
redis-server --port "$REDIS" --bind 127.0.0.1 --save '' --appendonly no --daemonize no > "$WORK/redis.log" 2>&1 &
PIDS+=($!)
python3 Tests/fixtures/ws_server.py "$WSBACK" ws1 > "$WORK/ws.log" 2>&1 &
PIDS+=($!)

# One configuration in HAProxy's syntax for both proxies; only the ports differ.
config() {  # TCP_PORT WS_PORT
    cat <<EOF
global
    maxconn 9000
    nbthread 1
defaults
    timeout connect 2s
    timeout client 60s
    timeout server 60s
    timeout tunnel 1h
listen redis
    mode tcp
    bind 127.0.0.1:$1
    server r1 127.0.0.1:$REDIS
frontend ws
    mode http
    bind 127.0.0.1:$2
    default_backend wsb
backend wsb
    mode http
    server w1 127.0.0.1:$WSBACK
EOF
}
config 18300 18301 > "$WORK/haproxy.cfg"
config 18310 18311 > "$WORK/swiftlb.cfg"
haproxy -f "$WORK/haproxy.cfg" > "$WORK/haproxy.log" 2>&1 &
HAPROXY=$!; PIDS+=("$HAPROXY")
.build/release/swiftlb run -c "$WORK/swiftlb.cfg" > "$WORK/swiftlb.log" 2>&1 &
SWIFTLB=$!; PIDS+=("$SWIFTLB")
for port in 18300 18301 18310 18311 "$REDIS" "$WSBACK"; do
    for _ in $(seq 100); do (echo > "/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
done

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
TICKS=$(getconf CLK_TCK)

# redis-benchmark through PROXY: rps, p99 and requests per second of the proxy's CPU.
redis_run() {  # NAME PID PORT PIPELINE
    local before after csv rps p99 cpu
    before=$(cpu_ticks "$2")
    csv=$(timeout 120 redis-benchmark -h 127.0.0.1 -p "$3" -c 50 -n 200000 -t set,get -P "$4" --csv 2>/dev/null)
    after=$(cpu_ticks "$2")
    rps=$(echo "$csv" | awk -F',' 'NR>1 {gsub(/"/,""); s+=$2; n++} END {printf "%.0f", s/n}')
    p99=$(echo "$csv" | awk -F',' 'NR>1 {gsub(/"/,""); if ($7+0>m+0) m=$7} END {print m}')
    cpu=$(awk -v t="$((after - before))" -v k="$TICKS" 'BEGIN {printf "%.2f", t/k}')
    printf '%-8s redis -P %-3s %9s req/s  p99 %6s ms  proxy cpu %6ss  req/core-s %s\n' "$1" "$4" "$rps" "$p99" "$cpu" \
        "$(awk -v n=400000 -v c="$cpu" 'BEGIN {if (c>0) printf "%.0f", n/c; else print "-"}')"
}
ws_run() {  # NAME PORT
    printf '%-8s websocket rtt 50 tunnels 5 s: %s\n' "$1" "$(python3 scripts/bench_ws.py rtt "ws://127.0.0.1:$2/" 50 5)"
}
ws_idle() {  # NAME PORT PID
    printf '%-8s websocket idle: %s\n' "$1" "$(python3 scripts/bench_ws.py idle "ws://127.0.0.1:$2/" 1000 "$3")"
}

for round in $(seq "$ROUNDS"); do
    echo "round $round"
    for order in haproxy swiftlb swiftlb haproxy; do
        if [ "$order" = haproxy ]; then pid=$HAPROXY tcp=18300 ws=18301; else pid=$SWIFTLB tcp=18310 ws=18311; fi
        redis_run "$order" "$pid" "$tcp" 1
        redis_run "$order" "$pid" "$tcp" 16
        ws_run "$order" "$ws"
    done
done
ws_idle haproxy 18301 "$HAPROXY"
ws_idle swiftlb 18311 "$SWIFTLB"
