#!/usr/bin/env bash
# Delete the HipChat stack and its data: containers, network and the named volumes (Redis,
# Postgres and NFS data are lost). Images and $SWIFTLB_DATA (certificate, passwords, VIP key)
# are kept; scripts/nuke.sh removes those too. Asks first unless -y.
#
#   scripts/del_stack.sh [-f standalone|ha] [-y|--yes] [--dry-run] [-h|--help]
#
#   -f standalone|ha  which stack (default standalone: docker/docker-compose.yml)
#   -y, --yes         do not ask
#   --dry-run         print the docker command, run nothing
#
# Only what compose created for this stack's project (hipchat or hipchat-ha) is touched.
set -euo pipefail
# shellcheck source=lib/stack.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/stack.sh"
stack_parse "file yes" "$@"
stack_require_docker
$STACK_YES || stack_confirm "Delete the $STACK_PROJECT stack's containers, network and volumes (its Redis, Postgres and NFS data)?"
stack_compose down --volumes --remove-orphans --timeout 40
$STACK_DRY_RUN || stack_say "deleted the $STACK_PROJECT stack; images and $SWIFTLB_DATA are kept"
