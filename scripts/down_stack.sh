#!/usr/bin/env bash
# Stop the HipChat stack: its containers and network go, its data stays (the named volumes of
# Redis, Postgres and NFS, and $SWIFTLB_DATA's certificate and secrets); scripts/init_stack.sh
# brings it back as it was.
#
#   scripts/down_stack.sh [-f standalone|ha] [--dry-run] [-h|--help]
#
#   -f standalone|ha  which stack (default standalone: docker/docker-compose.yml)
#   --dry-run         print the docker command, run nothing
#
# SwiftLB gets SIGTERM and up to 40 s (hard-stop-after is 30 s): in the ha stack the VIP
# holder hands the address over before it drains.
set -euo pipefail
# shellcheck source=lib/stack.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/stack.sh"
stack_parse "file" "$@"
stack_require_docker
stack_say "stopping the $STACK_PROJECT stack ($STACK_FILE); volumes and $SWIFTLB_DATA are kept"
stack_compose down --remove-orphans --timeout 40
