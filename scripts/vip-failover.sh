#!/bin/bash
# Measure SwiftLB's VIP takeover in the shared failover lab, the same way as keepalived's:
#   scripts/vip-failover.sh [vip-failover.sh options]     e.g. -n 3 -o /tmp/swiftlb-vip.md
# Builds SwiftLB (release), then runs ../shared/lab/vip-failover.sh with scripts/lab/swiftlb-driver.sh.
# As root. LAB_DIR overrides where the shared lab lives.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
LAB_DIR=${LAB_DIR:-$ROOT/../shared/lab}
[ -x "$LAB_DIR/vip-failover.sh" ] || { echo "no failover lab at $LAB_DIR (set LAB_DIR)" >&2; exit 1; }
# shellcheck source=lib/deps.sh
. "$ROOT/scripts/lib/deps.sh"
# tcpdump: the lab captures GARPs and heartbeats; iputils-ping: its link checks.
if ! { deps_install build demo && deps_apt tcpdump iputils-ping; }; then
    echo "scripts/vip-failover.sh: cannot install what the lab needs (see above)" >&2; exit 1
fi
(cd "$ROOT" && deps_build -c release --product swiftlb)
exec "$LAB_DIR/vip-failover.sh" -d "$ROOT/scripts/lab/swiftlb-driver.sh" "$@"
