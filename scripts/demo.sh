#!/usr/bin/env bash
# The main job: two SwiftLB instances sharing the HipChat VIP, in network namespaces.
#
# Builds SwiftLB, creates namespaces on one bridge — lb1 (.11), lb2 (.12), three HipChat
# stand-ins be1-be3 at 192.168.122.100-102, a client (.50) — writes a hipc.pem, starts both
# instances with the repository's lb.conf (paths and interface adapted; lb2 with priority 100
# and the peer's address swapped), maps hipchat.example.test to the VIP 192.168.122.10 in
# the client's hosts file, fetches https://hipchat.example.test/ from the client, stops lb1
# (SIGTERM) while the client keeps fetching every 10 ms, and shows lb2 answering, how long
# the takeover took and what each instance logged. Everything is torn down on exit, Ctrl-C
# or failure. 192.168.122.x exists only inside these namespaces. Run as root.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "scripts/demo.sh: run as root (it creates network namespaces)" >&2; exit 1; }
# shellcheck source=lib/deps.sh
. scripts/lib/deps.sh
deps_install build demo || { echo "scripts/demo.sh: cannot install what the demo needs (see above)" >&2; exit 1; }

PREFIX=slbdemo                      # namespace names: slbdemo-lb1, slbdemo-client, ...
NET=192.168.122
VIP=$NET.10
declare -A IP=([lb1]=11 [lb2]=12 [be1]=100 [be2]=101 [be3]=102 [client]=50)
NODES="lb1 lb2 be1 be2 be3 client"
WORK=$(mktemp -d /tmp/swiftlb-demo.XXXXXX)
PIDS=()
declare -A PID

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
in_ns() { local n=$1; shift; ip netns exec "$PREFIX-$n" "$@"; }

cleanup() {
    set +e
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
    for _ in $(seq 50); do
        alive=0; for p in "${PIDS[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
        [ $alive = 0 ] && break; sleep 0.1
    done
    for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; done
    for n in $NODES net; do ip netns del "$PREFIX-$n" 2>/dev/null; done
    rm -rf "/etc/netns/$PREFIX-client" "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say "building swiftlb (release)"
deps_build_release
BIN=$PWD/.build/release/swiftlb

say "network namespaces on one bridge: lb1 lb2 be1 be2 be3 client in $NET.0/24, VIP $VIP"
for n in $NODES net; do ip netns del "$PREFIX-$n" 2>/dev/null || true; done
ip netns add "$PREFIX-net"
ip -n "$PREFIX-net" link add br0 type bridge stp_state 0 forward_delay 0
ip -n "$PREFIX-net" link set br0 up
for n in $NODES; do
    ip netns add "$PREFIX-$n"
    in_ns "$n" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
    ip -n "$PREFIX-$n" link set lo up
    ip -n "$PREFIX-net" link add "vb-$n" type veth peer name eth0 netns "$PREFIX-$n"
    ip -n "$PREFIX-net" link set "vb-$n" master br0 up
    ip -n "$PREFIX-$n" addr add "$NET.${IP[$n]}/24" dev eth0
    ip -n "$PREFIX-$n" link set eth0 up
    printf '  %-7s %s\n' "$n" "$NET.${IP[$n]}"
done

say "three HipChat stand-ins on port 80 (scripts/node_app.py)"
for i in 1 2 3; do
    ip netns exec "$PREFIX-be$i" timeout 600 python3 scripts/node_app.py "node$i" 0.0.0.0 80 & PIDS+=($!)
done
for i in 1 2 3; do
    for _ in $(seq 50); do in_ns client curl -sf -o /dev/null "http://$NET.$((99 + i))/" && break; sleep 0.1; done
done

say "hipc.pem for hipchat.example.test (scripts/gen-cert.sh) and the heartbeat key"
scripts/gen-cert.sh hipchat.example.test "$WORK/hipc.pem"
head -c 32 /dev/urandom | base64 > "$WORK/vrrp.key"
chmod 600 "$WORK/vrrp.key"

# lb.conf as shipped, with its paths moved into this demo's directory. lb2 is the same file
# with priority 100 and the two heartbeat addresses swapped. Each instance names itself in a
# response header so the client can tell who answered.
for n in lb1 lb2; do
    sed -e "s|/etc/swiftlb/hipc.pem|$WORK/hipc.pem|" \
        -e "s|/etc/swiftlb/vrrp.key|$WORK/vrrp.key|" \
        -e "s|/run/swiftlb/admin.sock|$WORK/$n.sock|" \
        -e "s|^global$|global\n    pidfile $WORK/$n.pid|" \
        -e "s|^frontend hipchat_https$|frontend hipchat_https\n    http-response set-header X-SwiftLB-Node $n|" \
        lb.conf > "$WORK/$n.conf"
done
sed -i -e 's/^    priority 150$/    priority 100/' \
       -e "s/^    unicast_src_ip $NET.11$/    unicast_src_ip $NET.12/" \
       -e "s/^    unicast_peer $NET.12$/    unicast_peer $NET.11/" "$WORK/lb2.conf"
echo "lb2.conf differs from lb1.conf in:"
{ diff "$WORK/lb1.conf" "$WORK/lb2.conf" || true; } | grep '^>' | sed 's/^> /  /'
"$BIN" check -c "$WORK/lb1.conf" && "$BIN" check -c "$WORK/lb2.conf"

say "starting swiftlb in lb2 (priority 100), then in lb1 (priority 150)"
for n in lb2 lb1; do
    ip netns exec "$PREFIX-$n" timeout 600 "$BIN" run -c "$WORK/$n.conf" > "$WORK/$n.access.log" 2> "$WORK/$n.log" & PIDS+=($!); PID[$n]=$!
    for _ in $(seq 100); do [ -s "$WORK/$n.pid" ] && break; sleep 0.1; done
    [ -s "$WORK/$n.pid" ] || { echo "swiftlb in $n did not start:"; cat "$WORK/$n.log"; exit 1; }
done
for _ in $(seq 100); do ip -n "$PREFIX-lb1" -4 addr show dev eth0 | grep -q "inet $VIP/" && break; sleep 0.1; done
ip -n "$PREFIX-lb1" -4 addr show dev eth0 | grep -q "inet $VIP/" || { echo "lb1 did not take the VIP"; cat "$WORK/lb1.log"; exit 1; }
# lb2 was master until lb1 preempted it; it keeps the VIP a moment longer (make-before-break,
# at most 1 s) so that a client that still has its ARP answer is served meanwhile. The client
# below starts once lb1 alone holds it: a first connection made in that moment could go to lb2
# and be cut when it lets go.
for _ in $(seq 50); do ip -n "$PREFIX-lb2" -4 addr show dev eth0 | grep -q "inet $VIP/" || break; sleep 0.1; done
ip -n "$PREFIX-lb2" -4 addr show dev eth0 | grep -q "inet $VIP/" && { echo "lb2 did not let go of the VIP"; cat "$WORK/lb2.log"; exit 1; }
grep -h "vrrp hipchat_vip:" "$WORK/lb2.log" "$WORK/lb1.log" | sed 's/^/  /'
echo "  VIP on: lb1 [$(ip -n "$PREFIX-lb1" -4 -br addr show dev eth0 | cut -c33-)], lb2 [$(ip -n "$PREFIX-lb2" -4 -br addr show dev eth0 | cut -c33-)]"

say "the client resolves hipchat.example.test to the VIP (/etc/netns/$PREFIX-client/hosts)"
mkdir -p "/etc/netns/$PREFIX-client"
printf '127.0.0.1\tlocalhost\n%s\thipchat.example.test\n' "$VIP" > "/etc/netns/$PREFIX-client/hosts"
in_ns client getent hosts hipchat.example.test | sed 's/^/  /'
CURL=(curl -s --max-time 5 --cacert "$WORK/hipc.pem")

say "from the client: http:// redirects, https://hipchat.example.test/ answers through lb1"
in_ns client "${CURL[@]}" -o /dev/null -D - http://hipchat.example.test/ | grep -iE "^HTTP|^location" | sed 's/^/  /'
for _ in 1 2 3; do
    in_ns client "${CURL[@]}" -D "$WORK/h" https://hipchat.example.test/ | sed 's/^/  /'
    grep -i "^x-swiftlb-node" "$WORK/h" | sed 's/^/    /'
done

say "the client fetches https://hipchat.example.test/ every 10 ms; stopping lb1 (SIGTERM)"
ip netns exec "$PREFIX-client" timeout 60 python3 scripts/vip_probe.py https://hipchat.example.test/ --cafile "$WORK/hipc.pem" \
    --header X-SwiftLB-Node --out "$WORK/probe.txt" --duration 30 & PROBE=$!; PIDS+=("$PROBE")
for _ in $(seq 100); do grep -q " lb1$" "$WORK/probe.txt" 2>/dev/null && break; sleep 0.05; done
sleep 1
T_STOP=$(date +%s.%N)
kill -TERM "${PID[lb1]}"
for _ in $(seq 200); do [ "$(tail -n1 "$WORK/probe.txt" | awk '{print $3}')" = lb2 ] && break; sleep 0.05; done
wait "${PID[lb1]}" 2>/dev/null && echo "  lb1 exited with status 0"
sleep 1
kill "$PROBE"; wait "$PROBE" 2>/dev/null || true
python3 - "$WORK/probe.txt" "$T_STOP" <<'PY'
import sys
rows = [l.split() for l in open(sys.argv[1]) if len(l.split()) == 3]
t_stop = float(sys.argv[2])
after = [r for r in rows if float(r[0]) >= t_stop]
first_lb2 = next((float(r[0]) for r in after if r[2] == "lb2"), None)
last_lb1 = max((float(r[1]) for r in rows if r[2] == "lb1"), default=None)
refused = [r[2] for r in after if r[2].startswith("FAIL:connect_")]
reset = [r[2] for r in after if r[2].startswith("FAIL") and not r[2].startswith("FAIL:connect_")]
print(f"  {len(rows)} requests in all, {len(after)} after SIGTERM; answered by lb1 until "
      f"{(last_lb1 - t_stop) * 1000:+.0f} ms, by lb2 from {(first_lb2 - t_stop) * 1000:+.0f} ms after SIGTERM"
      if first_lb2 and last_lb1 else "  lb2 never answered")
print(f"  connections refused or unanswered: {len(refused)} {sorted(set(refused)) if refused else ''}")
print(f"  requests reset in flight: {len(reset)}" + (" (open on lb1 when the client's ARP entry moved to lb2:"
      " VRRP moves the address, not open connections)" if reset else ""))
PY

say "and once more by hand: https://hipchat.example.test/ now answers through lb2"
in_ns client "${CURL[@]}" -D "$WORK/h" https://hipchat.example.test/ | sed 's/^/  /' || echo "  (the request failed)"
grep -i "^x-swiftlb-node" "$WORK/h" | sed 's/^/    /'
echo "  VIP on: lb1 [$(ip -n "$PREFIX-lb1" -4 -br addr show dev eth0 | cut -c33-)], lb2 [$(ip -n "$PREFIX-lb2" -4 -br addr show dev eth0 | cut -c33-)]"

say "what the two instances logged about the VIP"
grep -h "vrrp hipchat_vip:\|SIGTERM\|stopped" "$WORK/lb1.log" | sed 's/^/  lb1: /'
grep -h "vrrp hipchat_vip:" "$WORK/lb2.log" | sed 's/^/  lb2: /'

say "swiftlb ctl -s lb2.sock show vrrp"
"$BIN" ctl -s "$WORK/lb2.sock" show vrrp | sed 's/^/  /'
say "done; tearing the namespaces down"
