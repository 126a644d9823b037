#!/usr/bin/env bash
# HAProxy 2.6.12's reg-tests (VTest .vtc files) run against swiftlb: SwiftLB's conformance suite.
# See docs/conformance.md.
#
#   scripts/regtests/run.sh [-j N] [--reference] [SWIFTLB] [TEST.vtc|DIR ...]
#
#   SWIFTLB       the swiftlb binary (default: .build/release/swiftlb of this checkout)
#   TEST/DIR      run only these (default: the directories listed in REGTEST_DIRS below)
#   -j N          VTest jobs in parallel (default 1; keep it at 1-2 on a shared machine)
#   --reference   run the same selection against HAProxy itself ($HAPROXY_REFERENCE,
#                 default: haproxy on the PATH); it should pass all of them
#
# Environment (nothing of VTest or HAProxy is kept in this repository):
#   VTEST_PROGRAM     VTest's binary                 (default /work/vtest/vtest)
#   HAPROXY_SRC       haproxy's source tree, or the directory holding it, with reg-tests/
#                     (default /work/haproxy-src: `apt-get source haproxy` puts
#                     haproxy-2.6.12/ there)
#   REGTESTS_RESULTS  the per-test result list      (default /tmp/swiftlb-regtests/results.tsv)
#   REGTESTS_TYPES    test types, as run-regtests.sh (default default,bug,devel,slow)
#
# Selects the tests as HAProxy's scripts/run-regtests.sh does (REGTEST_TYPE, REQUIRE_VERSION,
# REQUIRE_VERSION_BELOW, REQUIRE_OPTION(S), REQUIRE_SERVICE(S), EXCLUDE_TARGET(S)) for the
# reference build of profile.sh, runs them with VTest as it does (-k -t 10 -b 2M), with
# HAPROXY_PROGRAM=haproxy-shim.sh, and prints "N passed, M failed". The result list has one
# line per test: test, result (passed|failed|skipped|timeout), swiftlb's first [ALERT] line,
# VTest's first failure line. The logs of failed tests stay under the run directory it names.
# Exit status: 0 when every test passed, 1 when some failed, 0 with a "skipped:" message when
# VTest or the tests are not on this machine, 2 on a usage error.
set -u

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
# shellcheck source=profile.sh
. "$here/profile.sh"

# The part of the suite SwiftLB is measured on (issue #16): HTTP, rules, cookies, checks,
# stickiness, connections, captures, logs, TLS.
REGTEST_DIRS="http-messaging http-rules http-cookies checks stickiness connection http-capture log ssl"

usage() { sed -n '4,11p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

jobs=1 reference=false swiftlb='' targets=()
while [ $# -gt 0 ]; do
    case $1 in
        -j)          [ $# -ge 2 ] || usage; jobs=$2; shift ;;
        --reference) reference=true ;;
        -h|--help)   usage ;;
        -*)          echo "run.sh: unknown option $1" >&2; usage ;;
        *.vtc|*/)    targets+=("$1") ;;
        *)           if [ -d "$1" ]; then targets+=("$1"); elif [ -z "$swiftlb" ]; then swiftlb=$1; else usage; fi ;;
    esac
    shift
done
[[ $jobs =~ ^[1-9][0-9]*$ ]] || { echo "run.sh: -j wants a positive number" >&2; exit 2; }

VTEST_PROGRAM=${VTEST_PROGRAM:-/work/vtest/vtest}
HAPROXY_SRC=${HAPROXY_SRC:-/work/haproxy-src}
REGTESTS_RESULTS=${REGTESTS_RESULTS:-/tmp/swiftlb-regtests/results.tsv}
REGTESTS_TYPES=${REGTESTS_TYPES:-default,bug,devel,slow}

# --- what this machine has -------------------------------------------------------------
suite=
for d in "$HAPROXY_SRC/reg-tests" "$HAPROXY_SRC"/haproxy-*/reg-tests; do
    [ -d "$d" ] && { suite=$d; break; }
done
if [ ! -x "$VTEST_PROGRAM" ] || [ -z "$suite" ]; then
    echo "skipped: HAProxy's reg-tests need VTest (VTEST_PROGRAM=$VTEST_PROGRAM$([ -x "$VTEST_PROGRAM" ] || echo ': missing'))" \
         "and haproxy's source with reg-tests/ (HAPROXY_SRC=$HAPROXY_SRC$([ -n "$suite" ] || echo ': missing')); see docs/conformance.md"
    exit 0
fi
if $reference; then
    program=${HAPROXY_REFERENCE:-$(command -v haproxy || true)}
    [ -x "$program" ] || { echo "run.sh: --reference needs haproxy (HAPROXY_REFERENCE)" >&2; exit 2; }
    version=$("$program" -v | sed -n 's/^HA-\{0,1\}Proxy version \([^ ]*\).*/\1/p')
    [[ $version == "$REF_VERSION"* ]] || echo "run.sh: warning: $program is haproxy $version, the profile is $REF_VERSION" >&2
else
    swiftlb=${swiftlb:-$repo/.build/release/swiftlb}
    [ -x "$swiftlb" ] || { echo "run.sh: no swiftlb binary at $swiftlb (build it: scripts/build.sh)" >&2; exit 2; }
    export SWIFTLB
    SWIFTLB=$(cd "$(dirname "$swiftlb")" && pwd)/$(basename "$swiftlb")
    program=$here/haproxy-shim.sh
fi
case $(realpath -m "$REGTESTS_RESULTS") in
    "$repo"/*) echo "run.sh: REGTESTS_RESULTS must be outside the checkout ($repo)" >&2; exit 2 ;;
esac

# --- which tests apply (scripts/run-regtests.sh's _findtests, for the profile's build) --
# The first requirement of a comma list ("A,B|C": A, and B or C) that CHECK refuses; fails
# when all are met.
first_unmet() {
    local item alt items alts
    IFS=, read -ra items <<< "$1"
    for item in "${items[@]}"; do
        [ -n "$item" ] || continue
        IFS='|' read -ra alts <<< "$item"
        for alt in "${alts[@]}"; do "$2" "$alt" && continue 2; done
        echo "$item"
        return 0
    done
    return 1
}

# Prints the reason a test does not apply, or nothing when it does.
why_not() {
    local file=$1 line key value type=default
    local version='' below='' options='' services='' excluded=''
    while IFS= read -r line; do
        key=${line%%=*} value=${line#*=}
        case $key in
            '#REQUIRE_VERSION')       version=$value ;;
            '#REQUIRE_VERSION_BELOW') below=$value ;;
            '#REQUIRE_OPTIONS')       options="$options,$value" ;;
            '#REQUIRE_OPTION')        options="$options,${value%,*}" ;;   # "NAME, comment"
            '#REQUIRE_SERVICES')      services="$services,$value" ;;
            '#REQUIRE_SERVICE')       services="$services,${value%,*}" ;;
            '#EXCLUDE_TARGETS')       excluded="$excluded,$value" ;;
            '#EXCLUDE_TARGET')        excluded="$excluded,${value%,*}" ;;
            '#REGTEST_TYPE')          type=$value ;;
        esac
    done < <(grep '^#[0-9A-Z_]*=' "$file")
    if [[ ! ",$REGTESTS_TYPES," == *",$type,"* && ! ",$REGTESTS_TYPES," == *",any,"* ]]; then
        echo "type '$type' excluded"; return
    fi
    [ -n "$version" ] && ! ref_version_atleast "$version" && { echo "requires version $version"; return; }
    [ -n "$below" ] && ref_version_atleast "$below" && { echo "requires a version below $below"; return; }
    local item missing
    IFS=, read -ra items <<< "$excluded"
    for item in "${items[@]}"; do
        [ "$item" = "$REF_TARGET" ] && { echo "target $REF_TARGET excluded"; return; }
    done
    missing=$(first_unmet "$options" ref_has_feature) && { echo "requires option $missing"; return; }
    missing=$(first_unmet "$services" ref_has_service) && { echo "requires service $missing"; return; }
}

if [ ${#targets[@]} -eq 0 ]; then
    for d in $REGTEST_DIRS; do targets+=("$suite/$d"); done
fi
tests=() not_applicable=0
while IFS= read -r t; do
    reason=$(why_not "$t")
    if [ -n "$reason" ]; then
        not_applicable=$((not_applicable + 1))
        echo "  does not apply: ${t#"$suite"/} ($reason)"
    else
        tests+=("$t")
    fi
done < <(find "${targets[@]}" -name '*.vtc' -type f | sort)
[ ${#tests[@]} -gt 0 ] || { echo "run.sh: no test applies among ${targets[*]}" >&2; exit 2; }

# --- run ---------------------------------------------------------------------------------
mkdir -p "$(dirname "$REGTESTS_RESULTS")"
rundir=$(mktemp -d "${TMPDIR:-/tmp}/swiftlb-regtests.XXXXXX")
echo "${#tests[@]} tests apply ($not_applicable do not) from $suite; program $program${SWIFTLB:+ -> $SWIFTLB}"
echo "VTest: $VTEST_PROGRAM -j $jobs; logs of failed tests under $rundir"
# VTest's job directories (and the shim's concatenated configurations) go into TMPDIR.
TMPDIR=$rundir HAPROXY_PROGRAM=$program \
    "$VTEST_PROGRAM" -b $((2 << 20)) -k -t 10 -l -j "$jobs" "${tests[@]}" > "$rundir/vtest.out" 2>&1
vtest_status=$?
# VTest kills a timed-out test's process group, swiftlb included; anything still running
# with a configuration of this run is ours: stop it by its pid.
for pid in $(pgrep -f -- " -c $rundir/" || true); do
    echo "run.sh: stopping leftover process $pid: $(tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null)" >&2
    kill -TERM "$pid" 2>/dev/null || true
done

# --- results -----------------------------------------------------------------------------
# The logs VTest left (failed tests only), by test, and of each its first blocking [ALERT]
# and VTest's first failure line (causes.py reads swiftlb's records back together).
declare -A logs=() alerts=() failures=()
for dir in "$rundir"/vtc.*; do
    [ -f "$dir/INFO" ] && logs[$(sed -n 's/^Test case: //p' "$dir/INFO")]=$dir/LOG
done
if [ ${#logs[@]} -gt 0 ]; then
    if command -v python3 >/dev/null; then
        while IFS=$'\x1f' read -r log alert failure; do
            alerts[$log]=$alert failures[$log]=$failure
        done < <(python3 -B "$here/causes.py" --first "${logs[@]}")
    else
        echo "run.sh: no python3: the result list names no causes" >&2
    fi
fi

passed=0 failed=0 skipped=0
{
    printf 'test\tresult\tfirst [ALERT] of the program\tfirst VTest failure\n'
    for t in "${tests[@]}"; do
        # A timed-out test has two lines: "TIMED OUT (kill -9)", then "FAILED".
        line=$(grep -F "#    top  TEST $t " "$rundir/vtest.out")
        case $line in
            *"TIMED OUT"*)   result=timeout; failed=$((failed + 1)) ;;
            *" passed ("*)   result=passed;  passed=$((passed + 1)) ;;
            *" skipped ("*)  result=skipped; skipped=$((skipped + 1)) ;;
            *)               result=failed;  failed=$((failed + 1)) ;;
        esac
        alert='' failure=''
        if [ "$result" = failed ] || [ "$result" = timeout ]; then
            if [ -n "${logs[$t]:-}" ]; then
                alert=${alerts[${logs[$t]}]:-} failure=${failures[${logs[$t]}]:-}
            fi
            if [ -z "$failure" ] && [ $result = timeout ]; then failure="VTest killed it after 10 s (-t 10)"; fi
            [ -n "$failure" ] || failure="VTest: ${line:-no result line}"
        fi
        printf '%s\t%s\t%s\t%s\n' "${t#"$suite"/}" "$result" "$alert" "$failure"
    done
} > "$REGTESTS_RESULTS"

[ $skipped -gt 0 ] && echo "$skipped skipped by VTest's feature checks (e.g. socat missing): see the result list"
echo "results: $REGTESTS_RESULTS"
[ $failed -gt 0 ] && echo "causes:  scripts/regtests/causes.py $rundir"
echo "$passed passed, $failed failed"
# Keep the run directory only for what failed (VTest already removed the passed tests' ones).
if [ $failed -eq 0 ] && [ $vtest_status -eq 0 ]; then rm -rf "$rundir"; fi
[ $vtest_status -eq 0 ] || [ $failed -gt 0 ] || echo "run.sh: VTest exited with $vtest_status (see $rundir/vtest.out)" >&2
[ $failed -eq 0 ]
