#!/usr/bin/env bash
# Remove everything the HipChat stacks put on this host: both stacks' containers, networks and
# named volumes (compose projects hipchat and hipchat-ha, found by their labels), the images
# their containers ran (unless a container of something else uses one) and the SwiftLB image
# built here ($SWIFTLB_IMAGE), and the data directory $SWIFTLB_DATA (certificate, passwords,
# VIP key). Nothing else: never another project's container, image or volume. Asks first.
#
#   scripts/nuke.sh [-f|--force] [--dry-run] [-h|--help]
#
#   -f, --force   do not ask
#   --dry-run     print what would be removed and the commands, run nothing
set -euo pipefail
# shellcheck source=lib/stack.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/stack.sh"
stack_parse "force" "$@"
stack_require_docker
projects=(hipchat hipchat-ha)

# What is there, by project label (read-only; skipped in a dry run, which runs no docker).
images=("$SWIFTLB_IMAGE")
if ! $STACK_DRY_RUN; then
    for project in "${projects[@]}"; do
        filter=label=com.docker.compose.project=$project
        mapfile -t found < <(docker ps -a --filter "$filter" --format '{{.Image}}')
        images+=("${found[@]}")
        stack_say "$project: $(docker ps -aq --filter "$filter" | wc -l) container(s), $(docker volume ls -q --filter "$filter" | wc -l) volume(s), $(docker network ls -q --filter "$filter" | wc -l) network(s)"
    done
    mapfile -t images < <(printf '%s\n' "${images[@]}" | sort -u)
fi
stack_say "images: ${images[*]}"
# The data directory is removed only if it holds what init_stack.sh writes there and nothing
# else: a SWIFTLB_DATA pointing at some other directory is refused, not emptied.
data=false
if [ -d "$SWIFTLB_DATA" ]; then
    stray=$(find "$SWIFTLB_DATA" -mindepth 1 -maxdepth 1 ! -name certs ! -name secrets -printf '%f ' 2>/dev/null)
    [ -z "$stray" ] || stack_die "$SWIFTLB_DATA holds more than init_stack.sh wrote (${stray% }): not removing it; remove it yourself or set SWIFTLB_DATA"
    data=true
    stack_say "data directory: $SWIFTLB_DATA"
fi
$STACK_YES || stack_confirm "Remove both HipChat stacks' containers, networks, volumes, the images above and $SWIFTLB_DATA?"

for project in "${projects[@]}"; do
    if [ "$project" = hipchat-ha ]; then stack_set ha; else stack_set standalone; fi
    stack_compose down --volumes --remove-orphans --timeout 40
    # Whatever compose no longer names (a service or volume since removed from the file).
    filter=label=com.docker.compose.project=$project
    if $STACK_DRY_RUN; then
        printf '+ %s\n' "docker rm -f \$(docker ps -aq --filter $filter)"
        printf '+ %s\n' "docker volume rm \$(docker volume ls -q --filter $filter)"
        printf '+ %s\n' "docker network rm \$(docker network ls -q --filter $filter)"
        continue
    fi
    mapfile -t left < <(docker ps -aq --filter "$filter")
    [ ${#left[@]} -eq 0 ] || docker rm -f "${left[@]}" >/dev/null
    mapfile -t left < <(docker volume ls -q --filter "$filter")
    [ ${#left[@]} -eq 0 ] || docker volume rm "${left[@]}" >/dev/null
    mapfile -t left < <(docker network ls -q --filter "$filter")
    [ ${#left[@]} -eq 0 ] || docker network rm "${left[@]}" >/dev/null
done

for image in "${images[@]}"; do
    if ! $STACK_DRY_RUN; then
        docker image inspect "$image" >/dev/null 2>&1 || continue
        users=$(docker ps -a --filter "ancestor=$image" --format '{{.Names}}' | tr '\n' ' ')
        if [ -n "$users" ]; then
            stack_say "keeping image $image: used by ${users% } (not this stack's)"
            continue
        fi
    fi
    stack_run docker image rm "$image"
done
! $data || stack_run rm -rf -- "$SWIFTLB_DATA"
$STACK_DRY_RUN || stack_say "done"
