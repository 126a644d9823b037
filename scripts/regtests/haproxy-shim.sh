#!/usr/bin/env bash
# haproxy's command line on top of swiftlb, so that VTest (which runs $HAPROXY_PROGRAM) can
# drive SwiftLB through HAProxy's reg-tests. scripts/regtests/run.sh points HAPROXY_PROGRAM here.
#
# What VTest runs:   $HAPROXY_PROGRAM [-c|-d|-D] [-W [-S fd@N]] [$HAPROXY_ARGS] -f CFG [-p PIDFILE]
#              and:  $HAPROXY_PROGRAM -cc 'EXPR'       (a test's `feature cmd`)
# What this runs:    swiftlb check -c CFG               (-c)
#                    swiftlb run -c CFG                 (-d, -D, -W: all in the foreground)
#
# swiftlb is exec'd, not run as a child: it keeps this process id, so the SIGINT, SIGTERM or
# SIGKILL VTest sends reaches it directly, and VTest sees swiftlb's own exit status (0 after a
# graceful stop, 1 for a refused configuration), with nothing in between to get them wrong.
# Several -f files (or a directory of *.cfg, as haproxy reads it) are concatenated, in order,
# into one file under $TMPDIR (VTest's per-test directory when run.sh runs it).
#
# Options swiftlb has no equivalent for are named on stderr (VTest keeps it in the test log)
# and otherwise ignored, so the test fails on the missing behaviour, not on the command line:
#   -S fd@N   HAProxy's master CLI (the -mcli commands)
#   -dX       HAProxy's debug switches (-dM, -de, -dr ...)  -q        quiet
# -L NAME (the local peer name of the peers sections) is passed to swiftlb as -L NAME.
#
# SWIFTLB: the swiftlb binary (default: .build/release/swiftlb of this checkout).
# -cc EXPR is answered for the reference haproxy of profile.sh (version 2.6.12, Debian's
# features): the tests SwiftLB runs are exactly the ones that haproxy runs.
set -u

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=profile.sh
. "$here/profile.sh"
SWIFTLB=${SWIFTLB:-$here/../../.build/release/swiftlb}

shim_note() { printf '[NOTICE] haproxy-shim: %s\n' "$*" >&2; }
shim_fail() { printf '[ALERT] haproxy-shim: %s\n' "$*" >&2; exit 1; }

# haproxy -cc: 0 when the condition holds, 1 when not, 2 when it cannot be evaluated.
# Each predicate call is replaced by 1 or 0; what remains (digits, ! && || and parentheses)
# is shell arithmetic with the same meaning.
evaluate_condition() {
    local expr=$1 call name arg value
    local re='(defined|feature|streq|strneq|version_atleast|version_before|openssl_version_atleast|openssl_version_before|ssllib_name_startswith)\(([^()]*)\)'
    while [[ $expr =~ $re ]]; do
        call=${BASH_REMATCH[0]} name=${BASH_REMATCH[1]} arg=${BASH_REMATCH[2]}
        value=0
        case $name in
            defined)                 [[ $arg =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] && [ -n "${!arg+x}" ] && value=1 ;;
            feature)                 ref_has_feature "$arg" && value=1 ;;
            streq)                   [ "${arg%%,*}" = "${arg#*,}" ] && value=1 ;;
            strneq)                  [ "${arg%%,*}" != "${arg#*,}" ] && value=1 ;;
            version_atleast)         ref_version_atleast "$arg" && value=1 ;;
            version_before)          ref_version_atleast "$arg" || value=1 ;;
            openssl_version_atleast) [ "$(ref_version_number "$REF_OPENSSL_VERSION")" -ge "$(ref_version_number "$arg")" ] && value=1 ;;
            openssl_version_before)  [ "$(ref_version_number "$REF_OPENSSL_VERSION")" -lt "$(ref_version_number "$arg")" ] && value=1 ;;
            ssllib_name_startswith)  [[ $REF_SSLLIB_NAME == "$arg"* ]] && value=1 ;;
        esac
        expr=${expr/"$call"/$value}
    done
    local result
    # The expression text is expanded into $(( )) on purpose (only 0/1, ( ) ! & | pass the
    # pattern), inside a command substitution so that a syntax error is caught, not fatal.
    # shellcheck disable=SC2004,SC2116
    if [[ ! $expr =~ ^[01()!\&\|\ ]*[01][01()!\&\|\ ]*$ ]] || ! result=$(echo "$(( $expr ))" 2>/dev/null); then
        printf '[ALERT] haproxy-shim: cannot evaluate the condition %s\n' "'$1'" >&2
        exit 2
    fi
    [ "$result" -ne 0 ] && exit 0
    exit 1
}

mode=foreground
files=()
pidfile=
peer_args=()
while [ $# -gt 0 ]; do
    case $1 in
        -cc)      [ $# -ge 2 ] || shim_fail "-cc needs a condition"; evaluate_condition "$2" ;;
        -c)       mode=check ;;
        -d|-D|-W|-Ws|-db) ;;      # foreground in every case (-D: VTest reads the pidfile)
        -d?*)     shim_note "ignoring HAProxy debug option $1" ;;
        -q)       ;;
        -f)       [ $# -ge 2 ] || shim_fail "-f needs a file"; files+=("$2"); shift ;;
        -p)       [ $# -ge 2 ] || shim_fail "-p needs a file"; pidfile=$2; shift ;;
        -S)       [ $# -ge 2 ] || shim_fail "-S needs an address"; shim_note "no master CLI in SwiftLB: ignoring -S $2"; shift ;;
        -L)       [ $# -ge 2 ] || shim_fail "-L needs a name"; peer_args=(-L "$2"); shift ;;
        -v|-vv|-V) echo "haproxy-shim for swiftlb ($SWIFTLB), answering as HAProxy version $REF_VERSION"; exit 0 ;;
        --)       shift; files+=("$@"); break ;;
        *)        shim_fail "unsupported haproxy option '$1' (usage: $0 [-c|-d|-D] [-W] -f CFG [-f CFG...] [-p PIDFILE] | -cc EXPR)" ;;
    esac
    shift
done
[ ${#files[@]} -gt 0 ] || shim_fail "no configuration file (-f CFG)"
[ -x "$SWIFTLB" ] || shim_fail "swiftlb binary not found at $SWIFTLB (set SWIFTLB)"

# haproxy reads a directory argument as its *.cfg files in lexical order.
inputs=()
for f in "${files[@]}"; do
    if [ -d "$f" ]; then
        while IFS= read -r -d '' g; do inputs+=("$g"); done < <(find "$f" -maxdepth 1 -name '*.cfg' -type f -print0 | sort -z)
    else
        inputs+=("$f")
    fi
done
[ ${#inputs[@]} -gt 0 ] || shim_fail "no *.cfg file in ${files[*]}"
config=${inputs[0]}
if [ ${#inputs[@]} -gt 1 ]; then
    for f in "${inputs[@]}"; do [ -r "$f" ] || shim_fail "cannot read $f"; done
    # Lives in $TMPDIR (VTest's per-test directory, removed with it): after exec no one is
    # left to delete it (-c deletes it). swiftlb's errors name this file; a comment line says
    # where each part starts.
    config=$(mktemp "${TMPDIR:-/tmp}/haproxy-shim.XXXXXX.cfg") || shim_fail "cannot create a temporary file"
    for f in "${inputs[@]}"; do
        printf '# haproxy-shim: from %s\n' "$f"
        cat "$f"
        printf '\n'
    done > "$config"
    shim_note "configuration files ${inputs[*]} concatenated into $config"
fi

if [ "$mode" = check ]; then
    status=0
    "$SWIFTLB" check -c "$config" "${peer_args[@]}" || status=$?
    [ "$config" = "${inputs[0]}" ] || rm -f "$config"
    exit $status
fi
# VTest waits for the pidfile of -D/-W runs to name this process: it is this one after exec.
if [ -n "$pidfile" ]; then
    echo $$ > "$pidfile" || shim_fail "cannot write the pidfile $pidfile"
fi
exec "$SWIFTLB" run -c "$config" "${peer_args[@]}"
