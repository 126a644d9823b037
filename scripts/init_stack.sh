#!/usr/bin/env bash
# Start the HipChat stack in containers with SwiftLB in front (docker/).
#
#   scripts/init_stack.sh [-f standalone|ha] [--dry-run] [--no-build] [-h|--help]
#
#   -f standalone  docker/docker-compose.yml (default): NFSv4, Redis, Postgres, one SwiftLB
#                  with hipc.pem on :80/:443 and the stats page on 127.0.0.1:1936
#   -f ha          docker/docker-compose-ha.yml: two SwiftLB sharing the VIP 172.29.20.10,
#                  Redis x3 + Sentinel behind VIP:9000, Postgres primary + standby behind
#                  VIP:5430, NFSv4; stats pages on 127.0.0.1:1936 (lb1) and :1937 (lb2)
#   --dry-run      check and print every step; write nothing, run no docker command
#   --no-build     use the image $SWIFTLB_IMAGE as it is (default swiftlb:local)
#
# Steps: docker and compose present and the daemon reachable; the stack's network free; the
# published ports free; the data directory ($SWIFTLB_DATA, default docker/data) with
# certs/hipc.pem (a self-signed one from scripts/gen-cert.sh when missing; yours is checked
# for a key and a certificate), the Postgres passwords and, for ha, the VIP heartbeat key;
# the image built; compose up; the health of SwiftLB waited for (120 s at most); what runs
# and where. HIPCHAT_NODE1..3=ADDR:PORT point SwiftLB at real HipChat nodes; unset, three
# stand-in nodes start. HTTP_PORT, HTTPS_PORT, STATS_PORT (and STATS_PORT_LB2) move the
# published ports; HIPCHAT_NAME names the generated certificate (hipchat.example.test).
# Stop with scripts/down_stack.sh, delete with del_stack.sh, remove everything with nuke.sh.
set -euo pipefail
# shellcheck source=lib/stack.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/stack.sh"

# The uid/gid SwiftLB runs as in the image (docker/Dockerfile) and the postgres image's.
SWIFTLB_UID=10001
POSTGRES_UID=999
stack_parse "file build" "$@"

if [ "$STACK_KIND" = ha ]; then subnet=172.29.20.0/24; net_name=hipchat-ha; else subnet=172.29.10.0/24; net_name=hipchat; fi
$STACK_DRY_RUN && stack_say "dry run: nothing is written and no docker command runs"
stack_say "stack: $STACK_KIND ($STACK_FILE, compose project $STACK_PROJECT)"
problems=()
problem() {
    if $STACK_DRY_RUN; then stack_say "PROBLEM: $* (a real run stops here)"; problems+=("$*"); else stack_die "$*"; fi
}

# 1. docker, compose, the daemon.
stack_require_docker
running=false
if ! $STACK_DRY_RUN && [ -n "$(docker ps -q --filter "label=com.docker.compose.project=$STACK_PROJECT")" ]; then
    running=true
    stack_say "the $STACK_PROJECT stack is already running: compose up recreates what changed"
fi

# 2. The stack's network: no route of the host may cover it, unless it is ours already.
if command -v ip >/dev/null 2>&1 && ! $running; then
    gateway=${subnet%.0/24}.1
    route=$(ip -4 route show to match "$gateway" 2>/dev/null | grep -v '^default' | head -n 1 || true)
    if [ -n "$route" ] && ! ip -4 route show to match "$gateway" | grep -q "br-"; then
        problem "the stack's network $subnet overlaps a route of this host ($route): change the subnet in $STACK_FILE and its lb.conf"
    else
        stack_say "network $net_name $subnet: free"
    fi
fi

# 3. The published ports (each by the variable that moves it).
if [ "$STACK_KIND" = ha ]; then
    port_vars=(STATS_PORT=1936 STATS_PORT_LB2=1937)
else
    port_vars=(HTTP_PORT=80 HTTPS_PORT=443 STATS_PORT=1936)
fi
if ! $running; then
    for entry in "${port_vars[@]}"; do
        var=${entry%%=*}
        port=${!var:-${entry#*=}}
        if ! [[ $port =~ ^[0-9]+$ ]] || [ "$port" -lt 1 ] || [ "$port" -gt 65535 ]; then
            stack_die "$var='$port' is not a port number" 2
        fi
        holder=''
        command -v ss >/dev/null 2>&1 && holder=$(ss -H -ltnp "sport = :$port" 2>/dev/null | head -n 1 || true)
        if [ -n "$holder" ]; then
            who=$(grep -o 'users:(("[^"]*",pid=[0-9]*' <<< "$holder" | sed 's/users:(("\([^"]*\)",pid=\([0-9]*\)/\1 (pid \2)/' || true)
            problem "port $port is in use${who:+ by $who}: stop that or set $var to a free port"
        else
            stack_say "port $port ($var): free"
        fi
    done
fi

# 4. The host can serve NFS (the nfs service runs the kernel's nfsd).
if ! grep -qw nfsd /proc/filesystems 2>/dev/null && [ ! -d /sys/module/nfsd ]; then
    stack_say "note: the kernel's nfsd module is not loaded; the nfs service needs it (modprobe nfsd)"
fi

# 5. The data directory: certificate, passwords, heartbeat key.
certs=$SWIFTLB_DATA/certs secrets=$SWIFTLB_DATA/secrets pem=$SWIFTLB_DATA/certs/hipc.pem
stack_say "data directory: $SWIFTLB_DATA"
stack_run mkdir -p "$certs" "$secrets"
stack_run chmod 700 "$secrets"

# A file only the given uid (or root) reads, when we are root to arrange it.
own() {
    local uid=$1 file=$2
    if [ "$uid" = 0 ] && [ "$(stat -c %u "$file" 2>/dev/null || echo 0)" = 0 ]; then
        return 0
    elif [ "$(id -u)" = 0 ]; then
        stack_run chown "$uid:$uid" "$file"
    elif ! $STACK_DRY_RUN; then
        stack_say "note: not root, so $file stays owned by $(id -un); the container reads it as uid $uid (sudo chown $uid:$uid $file)"
    fi
}

# A file SwiftLB reads: owned by root, group 10001, mode 640. The HA stack starts SwiftLB as
# root without CAP_DAC_OVERRIDE (cap_drop ALL), which reads it as its owner before dropping
# to 10001; after the drop, and in the standalone stack that runs as 10001:10001 from the
# start, reloads read it through the group.
swiftlb_reads() {
    local file=$1
    if [ "$(id -u)" = 0 ]; then
        stack_run chown "0:$SWIFTLB_UID" "$file"
    elif ! $STACK_DRY_RUN; then
        stack_say "note: not root, so $file stays owned by $(id -un); the containers read it as root and as group $SWIFTLB_UID (sudo chown 0:$SWIFTLB_UID $file)"
    fi
    stack_run chmod 640 "$file"
}

if [ -e "$pem" ]; then
    if [ ! -r "$pem" ]; then
        problem "the certificate $pem cannot be read ($(stat -c '%U:%G %a' "$pem" 2>/dev/null || echo 'no permission')): fix its permissions or remove it to get a self-signed one"
    elif ! grep -q -- '-----BEGIN CERTIFICATE-----' "$pem" || ! grep -Eq -- '-----BEGIN (RSA |EC |ENCRYPTED )?PRIVATE KEY-----' "$pem"; then
        problem "the certificate $pem needs the private key and the certificate chain in one PEM (the seed's hipc.pem layout)"
    else
        stack_say "certificate: $pem (yours, kept)"
    fi
else
    stack_say "certificate: none at $pem, a self-signed one for ${HIPCHAT_NAME:-hipchat.example.test}"
    stack_run "$STACK_ROOT/scripts/gen-cert.sh" "${HIPCHAT_NAME:-hipchat.example.test}" "$pem"
fi
[ -e "$pem" ] || $STACK_DRY_RUN || stack_die "no certificate at $pem after gen-cert.sh"
swiftlb_reads "$pem"

# A secret of 32 random bytes, base64, written once.
secret() {
    local file=$1 uid=$2
    if [ -e "$file" ]; then
        [ -r "$file" ] || problem "$file cannot be read"
        stack_say "secret: $file (kept)"
    else
        stack_say "secret: $file (new)"
        if $STACK_DRY_RUN; then
            printf '+ %s\n' "head -c 32 /dev/urandom | base64 > $(printf '%q' "$file")"
        else
            (umask 077; head -c 32 /dev/urandom | base64 > "$file")
        fi
    fi
    own "$uid" "$file"
    stack_run chmod 600 "$file"
}
# The postgres image reads POSTGRES_PASSWORD_FILE as root, pg1's init script reads the
# replication password as postgres.
secret "$secrets/postgres_password" 0
if [ "$STACK_KIND" = ha ]; then
    secret "$secrets/replication_password" "$POSTGRES_UID"
    secret "$secrets/vrrp.key" 0
    swiftlb_reads "$secrets/vrrp.key"
fi

# 6. The stand-in HipChat nodes, unless the real ones are named.
if [ -n "${HIPCHAT_NODE1:-}" ] && [ -n "${HIPCHAT_NODE2:-}" ] && [ -n "${HIPCHAT_NODE3:-}" ]; then
    stack_say "HipChat nodes: $HIPCHAT_NODE1 $HIPCHAT_NODE2 $HIPCHAT_NODE3"
else
    export COMPOSE_PROFILES=standin
    stack_say "HipChat nodes: the three stand-ins (set HIPCHAT_NODE1..3=ADDR:PORT for real ones)"
fi

if [ ${#problems[@]} -gt 0 ]; then
    stack_say "${#problems[@]} problem(s) found; the steps a real run would take next:"
fi

# 7. The image (BuildKit: docker/Dockerfile checks the shipped configurations while building).
if $STACK_BUILD; then
    stack_say "building $SWIFTLB_IMAGE from docker/Dockerfile (the first build fetches the Swift toolchain image: minutes)"
    stack_run env DOCKER_BUILDKIT=1 docker build -f "$STACK_ROOT/docker/Dockerfile" -t "$SWIFTLB_IMAGE" "$STACK_ROOT"
fi

# 8. Up, then SwiftLB's health.
stack_compose up -d --no-build --remove-orphans
if [ "$STACK_KIND" = ha ]; then lbs=(hipchat-ha-lb1 hipchat-ha-lb2); else lbs=(hipchat-swiftlb); fi
for lb in "${lbs[@]}"; do
    if $STACK_DRY_RUN; then
        printf '+ %s\n' "docker inspect -f '{{.State.Health.Status}}' $lb   # until healthy, 120 s at most"
        continue
    fi
    status=starting
    for _ in $(seq 1 60); do
        status=$(docker inspect -f '{{if .State.Health}}{{.State.Health.Status}}{{else}}{{.State.Status}}{{end}}' "$lb" 2>/dev/null || echo missing)
        case $status in healthy|unhealthy|exited|dead|missing) break ;; esac
        sleep 2
    done
    if [ "$status" != healthy ]; then
        docker logs --tail 30 "$lb" >&2 || true
        stack_die "$lb is $status after 120 s (its last log lines are above)"
    fi
    stack_say "$lb: healthy"
done

# 9. What runs, and where.
stack_compose ps
if [ "$STACK_KIND" = ha ]; then
    cat <<TEXT

HipChat        https://172.29.20.10/   (the VIP, from this host; lb1 holds it, lb2 takes it over)
Redis master   172.29.20.10:9000       (Sentinel promotes, SwiftLB follows role:master)
Postgres       172.29.20.10:5430       (the primary; promote pg2 and SwiftLB follows)
Stats pages    http://127.0.0.1:${STATS_PORT:-1936}/ (lb1)   http://127.0.0.1:${STATS_PORT_LB2:-1937}/ (lb2)
Who holds the VIP:  docker exec -u 0 hipchat-ha-lb1 swiftlb ctl -s /run/swiftlb/admin.sock show vrrp
TEXT
else
    cat <<TEXT

HipChat        https://localhost:${HTTPS_PORT:-443}/   (http://localhost:${HTTP_PORT:-80}/ redirects there)
Stats page     http://127.0.0.1:${STATS_PORT:-1936}/
Redis          hipchat-redis, 172.29.10.21:6379    Postgres  hipchat-postgres, 172.29.10.31:5432
Runtime API:   docker exec hipchat-swiftlb swiftlb ctl -s /run/swiftlb/admin.sock show stat
TEXT
fi
if [ ${#problems[@]} -gt 0 ]; then
    stack_say "dry run found ${#problems[@]} problem(s):"
    printf '  - %s\n' "${problems[@]}"
    exit 1
fi
