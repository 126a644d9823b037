#!/usr/bin/env bash
# What the stack scripts share (scripts/init_stack.sh, down_stack.sh, del_stack.sh, nuke.sh):
# which stack, docker and compose found or named as missing, and every docker command either
# run or, with --dry-run, only printed. Sourced; the caller has `set -euo pipefail`.
#
# Two stacks, each a compose project of its own (its containers, network and volumes carry
# the label com.docker.compose.project=NAME, which is how nothing else is ever touched):
#   standalone   docker/docker-compose.yml      project hipchat
#   ha           docker/docker-compose-ha.yml   project hipchat-ha

STACK_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
STACK_DRY_RUN=false
STACK_KIND=standalone
# Where init_stack.sh keeps what is not in git: certs/hipc.pem, secrets/*. Absolute, so the
# compose files (which default to docker/data) and the scripts agree from any directory.
export SWIFTLB_DATA=${SWIFTLB_DATA:-$STACK_ROOT/docker/data}
export SWIFTLB_IMAGE=${SWIFTLB_IMAGE:-swiftlb:local}

stack_say() { printf '%s: %s\n' "${0##*/}" "$*"; }
stack_die() { printf '%s: %s\n' "${0##*/}" "$1" >&2; exit "${2:-1}"; }
# The usage text is the script's header comment, from line 2 to the first line that is not one.
stack_usage() { sed -n '2,/^[^#]/{/^#/s/^# \{0,1\}//p}' "$0"; }

# -f standalone|ha (also the compose file's name) into STACK_KIND, STACK_FILE, STACK_PROJECT.
stack_select() {
    case $1 in
        standalone|docker-compose.yml|docker/docker-compose.yml) STACK_KIND=standalone ;;
        ha|docker-compose-ha.yml|docker/docker-compose-ha.yml) STACK_KIND=ha ;;
        *) stack_die "unknown stack '$1': use -f standalone (docker/docker-compose.yml) or -f ha (docker/docker-compose-ha.yml)" 2 ;;
    esac
    stack_set "$STACK_KIND"
}

stack_set() {
    STACK_KIND=$1
    if [ "$STACK_KIND" = ha ]; then
        STACK_FILE=$STACK_ROOT/docker/docker-compose-ha.yml STACK_PROJECT=hipchat-ha
    else
        STACK_FILE=$STACK_ROOT/docker/docker-compose.yml STACK_PROJECT=hipchat
    fi
}
stack_set standalone

# A command as one line a shell would read back.
stack_quote() { local out='' a; for a in "$@"; do out+=" $(printf '%q' "$a")"; done; printf '%s' "${out# }"; }

# Runs a command, or with --dry-run prints it ("+ docker …") and runs nothing.
stack_run() {
    if $STACK_DRY_RUN; then printf '+ %s\n' "$(stack_quote "$@")"; return 0; fi
    "$@"
}

# docker on PATH and its daemon reachable, and a compose: the plugin (`docker compose`) or
# Debian's docker-compose. Sets STACK_COMPOSE (an array). With --dry-run nothing is run:
# what is missing is said, and `docker compose` stands in.
stack_require_docker() {
    STACK_COMPOSE=()
    if ! command -v docker >/dev/null 2>&1; then
        if $STACK_DRY_RUN; then
            stack_say "note: docker is not on PATH; a real run stops here"
            STACK_COMPOSE=(docker compose); return 0
        fi
        stack_die "docker is not installed (no 'docker' on PATH): install Docker Engine and its CLI (Debian: apt-get install docker.io docker-compose), then run again"
    fi
    if docker compose version >/dev/null 2>&1; then
        STACK_COMPOSE=(docker compose)
    elif command -v docker-compose >/dev/null 2>&1; then
        STACK_COMPOSE=(docker-compose)
        # docker-compose 1.x builds through the docker CLI only when asked (BuildKit).
        export DOCKER_BUILDKIT=1 COMPOSE_DOCKER_CLI_BUILD=1
    elif $STACK_DRY_RUN; then
        stack_say "note: neither 'docker compose' nor docker-compose is installed; a real run stops here"
        STACK_COMPOSE=(docker compose); return 0
    else
        stack_die "no compose: install the Compose plugin ('docker compose') or Debian's docker-compose (apt-get install docker-compose)"
    fi
    $STACK_DRY_RUN && return 0
    local info
    if ! info=$(docker info --format '{{.ServerVersion}}' 2>&1); then
        stack_die "docker cannot reach a Docker daemon${DOCKER_HOST:+ at $DOCKER_HOST}: ${info##*$'\n'} (is the engine running? are you root or in the docker group?)"
    fi
}

# The compose command for the selected stack: stack_compose up -d …
stack_compose() { stack_run "${STACK_COMPOSE[@]}" -p "$STACK_PROJECT" -f "$STACK_FILE" "$@"; }

# The question before something is deleted; --dry-run and -f/--yes skip it. No terminal
# (stdin closed, CI) means no.
stack_confirm() {
    local answer=''
    $STACK_DRY_RUN && return 0
    printf '%s [y/N] ' "$1" >&2
    IFS= read -r answer || true
    case $answer in y|Y|yes|YES) return 0 ;; esac
    stack_say "nothing removed"
    exit 1
}

# The scripts' arguments. ALLOWED names the options the caller takes besides --dry-run and
# --help: "file" (-f standalone|ha), "yes" (-y/--yes), "force" (-f/--force: nuke.sh's -f
# means force), "build" (--no-build). Sets STACK_YES and STACK_BUILD.
#   stack_parse "file yes" "$@"
# shellcheck disable=SC2034  # STACK_YES and STACK_BUILD are the caller's to read
stack_parse() {
    local allowed=" $1 "
    shift
    STACK_YES=false STACK_BUILD=true
    while [ $# -gt 0 ]; do
        case $1 in
            --dry-run|-n) STACK_DRY_RUN=true ;;
            -h|--help) stack_usage; exit 0 ;;
            -f|--force|--file)
                if [[ $allowed == *" force "* && $1 != --file ]]; then
                    STACK_YES=true
                elif [[ $allowed == *" file "* && $1 != --force ]]; then
                    [ $# -ge 2 ] || stack_die "$1 needs a stack: standalone or ha" 2
                    stack_select "$2"
                    shift
                else
                    stack_die "unknown argument '$1' (see --help)" 2
                fi ;;
            -y|--yes) [[ $allowed == *" yes "* ]] || stack_die "unknown argument '$1' (see --help)" 2; STACK_YES=true ;;
            --no-build) [[ $allowed == *" build "* ]] || stack_die "unknown argument '$1' (see --help)" 2; STACK_BUILD=false ;;
            *) stack_die "unknown argument '$1' (see --help)" 2 ;;
        esac
        shift
    done
}
