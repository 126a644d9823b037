#!/usr/bin/env bash
# The main job, loopback edition: build SwiftLB, start three stand-in HipChat nodes on
# 127.0.0.1, put SwiftLB in front of them with the repository's lb.conf (its backend
# addresses and port rewritten to loopback), send traffic, show the spread and the access
# log, stop one node and show SwiftLB answering 502 once then routing around it, then stop
# SwiftLB gracefully. Everything is torn down on exit, Ctrl-C or failure.
#
# scripts/demo.sh is the main job (the VIP failover in network namespaces); this one shows
# the proxy alone and needs root only to install what is missing (scripts/lib/deps.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
WORK=$(mktemp -d /tmp/swiftlb-demo.XXXXXX)
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

# shellcheck source=lib/deps.sh
. scripts/lib/deps.sh
deps_install build demo
say "building swiftlb (release)"
deps_build -c release --product swiftlb
BIN=.build/release/swiftlb

say "starting three stand-in HipChat nodes on 127.0.0.1:28101-28103"
for i in 1 2 3; do
    python3 scripts/node_app.py "node$i" 127.0.0.1 $((28100 + i)) & PIDS+=($!)
done
for i in 1 2 3; do
    for _ in $(seq 50); do curl -sf -o /dev/null "http://127.0.0.1:$((28100 + i))/" && break; sleep 0.1; done
done

say "writing a self-signed hipc.pem for hipchat.example.test (scripts/gen-cert.sh)"
scripts/gen-cert.sh hipchat.example.test "$WORK/hipc.pem"

# lb.conf as shipped, with the 192.168.122.x nodes, :80, :443, the certificate and the
# control socket moved to this demo's loopback ports and directory.
sed -e 's/192\.168\.122\.100:80/127.0.0.1:28101/' \
    -e 's/192\.168\.122\.101:80/127.0.0.1:28102/' \
    -e 's/192\.168\.122\.102:80/127.0.0.1:28103/' \
    -e 's/^\(    bind \):80$/\1127.0.0.1:28080/' \
    -e 's/^\(    bind \):443 /\1127.0.0.1:28443 /' \
    -e "s|/etc/swiftlb/hipc.pem|$WORK/hipc.pem|" \
    -e "s|/run/swiftlb/admin.sock|$WORK/admin.sock|" \
    -e '/^# The floating VIP/,$d' lb.conf > "$WORK/lb.conf"
# (the vrrp section is cut: a VIP needs root and the namespaces of scripts/demo.sh)
grep -E '^\s+(bind|server)' "$WORK/lb.conf"

say "swiftlb check -c lb.conf"
"$BIN" check -c "$WORK/lb.conf"

say "starting swiftlb on 127.0.0.1:28080 (redirects to https) and 127.0.0.1:28443 (TLS)"
"$BIN" run -c "$WORK/lb.conf" > "$WORK/access.log" 2> "$WORK/swiftlb.log" & LB=$!; PIDS+=("$LB")
for _ in $(seq 50); do curl -sf -o /dev/null -k https://127.0.0.1:28443/ && break; sleep 0.1; done

say "http://hipchat.example.test/ answers with a redirect to https"
curl -s -o /dev/null -D - --resolve hipchat.example.test:28080:127.0.0.1 http://hipchat.example.test:28080/ | grep -iE "^HTTP|^location"

CURL=(curl -s --max-time 5 --cacert "$WORK/hipc.pem" --resolve hipchat.example.test:28443:127.0.0.1)
URL=https://hipchat.example.test:28443/
say "three browsers, each without a cookie: leastconn spreads them, SwiftLB pins each with a cookie"
for b in 1 2 3; do
    "${CURL[@]}" -c "$WORK/browser$b.jar" "$URL"
done
say "each browser again, three times, with its cookie: always the same node"
for b in 1 2 3; do
    for _ in 1 2 3; do "${CURL[@]}" -b "$WORK/browser$b.jar" "$URL"; done
done

say "stopping node2"
kill "${PIDS[1]}"; wait "${PIDS[1]}" 2>/dev/null || true
printf 'status codes seen by the three browsers right after: '
for b in 1 2 3; do
    "${CURL[@]}" -o /dev/null -w '%{http_code} ' -b "$WORK/browser$b.jar" -c "$WORK/browser$b.jar" "$URL"
done
echo "(node2's browser is redispatched: the refused connection is retried on another node)"
for _ in $(seq 50); do grep -q "node2 is DOWN" "$WORK/swiftlb.log" && break; sleep 0.2; done
grep "is DOWN" "$WORK/swiftlb.log" | tail -1
say "the browsers again: node2's browser now sticks to its new node"
for b in 1 2 3; do "${CURL[@]}" -b "$WORK/browser$b.jar" "$URL"; done

say "access log (HAProxy httplog format)"
sleep 0.2
tail -n 8 "$WORK/access.log"

say "SIGTERM: graceful stop"
kill -TERM "$LB"
wait "$LB" && echo "swiftlb exited with status 0"
tail -n 2 "$WORK/swiftlb.log"
