# shellcheck shell=bash
# Driver for ../shared/lab/vip-failover.sh: SwiftLB's `vrrp` section as the VIP daemon.
# Sourced by vip-failover.sh (which provides LAB_* from lab.env, LAB_STATE, log(), BG_PIDS);
# the interface is the one drivers/keepalived.sh documents. scripts/vip-failover.sh builds
# SwiftLB and runs the lab with this driver.
#
# Profiles: uc-<advert> (unicast heartbeats to the other lb), e.g. uc-100ms, uc-1s, uc-20ms, and
# mc-<advert> (no unicast_peer: authenticated multicast to 224.0.0.18, like keepalived's mc-*
# profiles; no peer link then, so a KILL is taken over by the heartbeat timeout).
# Each instance runs a config with only `global` and `vrrp`: the lab's probe talks to the
# lab's own TCP server on :9000, so what is measured is the VIP moving, as for keepalived.
# Besides the UDP heartbeat the instances keep their TCP peer link on the same port number
# (5112): a SIGKILLed lb1 is taken over through it (issue #15), in the uc-* profiles. The
# capture filter keeps to the heartbeat and ARP, which is what analyze.py reads.

SWIFTLB_BIN=${SWIFTLB_BIN:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/.build/release/swiftlb}
# DRV_* and HB_MS are the driver interface: vip-failover.sh reads them after sourcing this file.
# shellcheck disable=SC2034
DRV_NAME="swiftlb-$("$SWIFTLB_BIN" --version 2>/dev/null)"
# shellcheck disable=SC2034
DRV_PROFILES_DEFAULT="uc-100ms uc-1s"
# shellcheck disable=SC2034
DRV_CAP_FILTER='udp port 5112 or arp'
SLB_LIFE=${SLB_LIFE:-2700}   # each instance exits by itself after this (timeout)

_slb_conf() {  # node prio profile
  local n=$1 prio=$2 adv=${3#*-} peer heartbeat
  [ "$n" = lb1 ] && peer=$LAB_NET.${LAB_IP[lb2]} || peer=$LAB_NET.${LAB_IP[lb1]}
  case $3 in
    uc-*) heartbeat="    unicast_src_ip $LAB_NET.${LAB_IP[$n]}
    unicast_peer $peer";;
    mc-*) heartbeat="    mcast_src_ip $LAB_NET.${LAB_IP[$n]}";;
    *)    return 1;;
  esac
  # shellcheck disable=SC2034  # HB_MS: read by vip-failover.sh
  case $adv in
    *ms) HB_MS=${adv%ms};;
    *s)  HB_MS=$(( ${adv%s} * 1000 ));;
    *)   return 1;;
  esac
  cat > "$LAB_STATE/slb-$n.conf" <<CONF
global
    pidfile $LAB_STATE/slb-$n.pid
    stats socket $LAB_STATE/slb-$n.sock

vrrp lab_vip
    interface $LAB_IF
    virtual_router_id 51
    priority $prio
    advert_int $adv
$heartbeat
    virtual_ipaddress $LAB_VIP/$LAB_PREFIX dev $LAB_IF
    auth_key_file $LAB_STATE/slb-vrrp.key
CONF
}
_slb_pid() { local f="$LAB_STATE/slb-$1.pid"; [ -s "$f" ] && echo "$(<"$f")"; }

drv_prepare() {  # profile
  [ -x "$SWIFTLB_BIN" ] || { log "no $SWIFTLB_BIN: build it first (scripts/vip-failover.sh does)"; return 1; }
  case $1 in uc-*|mc-*) ;; *) log "swiftlb profiles are uc-<advert> or mc-<advert>, e.g. uc-100ms, mc-1s"; return 1;; esac
  [ -s "$LAB_STATE/slb-vrrp.key" ] || { head -c 32 /dev/urandom | base64 > "$LAB_STATE/slb-vrrp.key"; chmod 600 "$LAB_STATE/slb-vrrp.key"; }
  _slb_conf lb1 150 "$1" && _slb_conf lb2 100 "$1" || return 1
  local n
  for n in lb1 lb2; do
    "$SWIFTLB_BIN" check -c "$LAB_STATE/slb-$n.conf" > "$LAB_STATE/slb-$n.cfgtest" 2>&1 \
      || { log "swiftlb check failed for $n ($1):"; cat "$LAB_STATE/slb-$n.cfgtest" >&2; return 1; }
  done
}
drv_start() {  # node
  local n=$1
  rm -f "$LAB_STATE/slb-$n.pid"
  ip netns exec "$n" timeout "$SLB_LIFE" "$SWIFTLB_BIN" run -c "$LAB_STATE/slb-$n.conf" >> "$LAB_STATE/slb-$n.log" 2>&1 &
  BG_PIDS+=($!); disown $!
  for _ in $(seq 1 50); do [ -s "$LAB_STATE/slb-$n.pid" ] && return 0; sleep 0.1; done
  log "swiftlb in $n did not start:"; tail -n 5 "$LAB_STATE/slb-$n.log" >&2; return 1
}
drv_signal() {  # node TERM|KILL — one process: KILL sends nothing and leaves the VIP behind
  local p; p=$(_slb_pid "$1")
  [ -n "$p" ] && kill -"$2" "$p" 2>/dev/null
  return 0
}
drv_wait_gone() {  # node
  local p; p=$(_slb_pid "$1")
  for _ in $(seq 1 100); do { [ -z "$p" ] || ! kill -0 "$p" 2>/dev/null; } && break; sleep 0.1; done
  rm -f "$LAB_STATE/slb-$1.pid"   # left stale by SIGKILL
}
drv_alive() { local p; p=$(_slb_pid "$1"); [ -n "$p" ] && kill -0 "$p" 2>/dev/null; }
