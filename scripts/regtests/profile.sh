# shellcheck shell=bash
# REF_* are read by the scripts that source this file.
# shellcheck disable=SC2034

# The HAProxy build SwiftLB stands in for during HAProxy's reg-tests: Debian bookworm's
# haproxy 2.6.12 (`haproxy -vv`). Sourced by run.sh (which tests apply, as HAProxy's
# scripts/run-regtests.sh decides from REQUIRE_* and EXCLUDE_TARGETS) and by haproxy-shim.sh
# (VTest's `feature cmd "$HAPROXY_PROGRAM -cc '...'"` checks). One profile for both, so the
# tests SwiftLB is measured on are exactly the ones this haproxy runs and passes: a feature
# SwiftLB lacks must show up as a failed test, never as a skipped one.

REF_VERSION=2.6.12
REF_TARGET=linux-glibc
# `haproxy -vv | grep '^Feature list'` of Debian's 2.6.12-1+deb12u4, verbatim.
REF_FEATURES="-51DEGREES +ACCEPT4 +BACKTRACE -CLOSEFROM +CPU_AFFINITY +CRYPT_H -DEVICEATLAS +DL -ENGINE +EPOLL -EVPORTS +GETADDRINFO -KQUEUE +LIBCRYPT +LINUX_SPLICE +LINUX_TPROXY +LUA -MEMORY_PROFILING +NETFILTER +NS -OBSOLETE_LINKER +OPENSSL +OT -PCRE +PCRE2 +PCRE2_JIT -PCRE_JIT +POLL +PRCTL -PROCCTL +PROMEX -QUIC +RT +SLZ -STATIC_PCRE -STATIC_PCRE2 +SYSTEMD +TFO +THREAD +THREAD_DUMP +TPROXY -WURFL -ZLIB"
REF_SERVICES="prometheus-exporter"
REF_SSLLIB_NAME="OpenSSL"
REF_OPENSSL_VERSION=3.0.0   # SwiftLB links the system's OpenSSL 3 too

# A version as one integer, comparable with -lt/-ge: major, minor, patch (3 digits each),
# then the stage (dev < rc < release) and its number. "2.5-dev0" < "2.5.0" <= "2.6.12".
ref_version_number() {
    local v=$1 stage=9 n=0 a b c
    case $v in
        *-dev*) stage=1; n=${v##*-dev}; v=${v%%-dev*} ;;
        *-rc*)  stage=5; n=${v##*-rc};  v=${v%%-rc*} ;;
        *-*)    v=${v%%-*} ;;
    esac
    IFS=. read -r a b c _ <<< "$v"
    n=${n%%[!0-9]*}
    printf '%d%03d%03d%d%03d\n' "${a:-0}" "${b:-0}" "${c:-0}" "$stage" "${n:-0}"
}

ref_version_atleast() { [ "$(ref_version_number "$REF_VERSION")" -ge "$(ref_version_number "$1")" ]; }

# Whether the reference build has FEATURE (a name of the Feature list, without +/-).
ref_has_feature() { case " $REF_FEATURES " in *" +$1 "*) return 0 ;; *) return 1 ;; esac; }
ref_has_service() { case " $REF_SERVICES " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }
