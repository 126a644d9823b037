#!/usr/bin/env bash
# The image's HEALTHCHECK (installed as /usr/local/bin/swiftlb-healthcheck): GET lb.conf's
# `monitor-uri` on loopback, which SwiftLB answers itself, and succeed on a 200 only. No curl
# in the runtime image: bash's /dev/tcp is enough for one HTTP/1.0 request.
#   SWIFTLB_HEALTH_PORT   the frontend with the monitor-uri (default 80; the Kubernetes
#                         manifests bind 8080)
#   SWIFTLB_HEALTH_PATH   the monitor-uri (default /healthz)
#   SWIFTLB_HEALTH_HOST   default 127.0.0.1
set -euo pipefail
host=${SWIFTLB_HEALTH_HOST:-127.0.0.1}
port=${SWIFTLB_HEALTH_PORT:-80}
path=${SWIFTLB_HEALTH_PATH:-/healthz}

if ! { exec 3<>"/dev/tcp/$host/$port"; } 2>/dev/null; then
    echo "unhealthy: nothing accepts connections on $host:$port" >&2
    exit 1
fi
printf 'GET %s HTTP/1.0\r\nHost: %s\r\nUser-Agent: swiftlb-healthcheck\r\n\r\n' "$path" "$host" >&3
status=''
if ! IFS= read -r -t 3 status <&3; then
    echo "unhealthy: no answer from $host:$port$path within 3 s" >&2
    exit 1
fi
exec 3<&-
status=${status%$'\r'}
case $status in
    "HTTP/1."[01]" 200"*) echo "healthy: $status"; exit 0 ;;
    *) echo "unhealthy: $host:$port$path answered '$status'" >&2; exit 1 ;;
esac
