#!/usr/bin/env bash
# Brings what scripts/regtests/run.sh needs onto this machine, OUTSIDE the checkout:
#   VTest                   built in $VTEST_DIR (default /work/vtest) from $VTEST_GIT
#   HAProxy's reg-tests     Debian's haproxy 2.6.12 source package in $HAPROXY_SRC
#                           (default /work/haproxy-src), with a deb-src line if none exists
#   socat, openssl          VTest's feature checks of the ssl tests
# Idempotent: what is already there is left alone. Debian packages need root (scripts/lib/deps.sh).
#
#   VTEST_GIT=/path/to/VTest.git scripts/regtests/setup.sh     # default: github.com/vtest/VTest
set -eu

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../lib/deps.sh
. "$here/../lib/deps.sh"
# shellcheck source=profile.sh
. "$here/profile.sh"

VTEST_DIR=${VTEST_DIR:-/work/vtest}
VTEST_GIT=${VTEST_GIT:-https://github.com/vtest/VTest.git}
HAPROXY_SRC=${HAPROXY_SRC:-/work/haproxy-src}

REGTESTS_DEPS=(
    gcc make git      # building VTest
    libpcre2-dev      # VTest's regex expectations
    zlib1g-dev        # VTest's gzip bodies
    socat             # `feature cmd "command -v socat"` of the ssl tests (they talk to the CLI)
    openssl           # `feature cmd "command -v openssl"` of the ssl tests
    dpkg-dev          # apt-get source unpacks with dpkg-source
)
deps_apt "${REGTESTS_DEPS[@]}"

if [ ! -x "$VTEST_DIR/vtest" ]; then
    [ -d "$VTEST_DIR/.git" ] || git clone -q "$VTEST_GIT" "$VTEST_DIR"
    nice -n 10 make -C "$VTEST_DIR" vtest >/dev/null
fi
echo "VTest: $VTEST_DIR/vtest"

if ! compgen -G "$HAPROXY_SRC/haproxy-$REF_VERSION/reg-tests" >/dev/null; then
    if ! apt-cache showsrc haproxy 2>/dev/null | grep -q "^Version: $REF_VERSION-"; then
        [ "$(id -u)" = 0 ] || { echo "setup.sh: no deb-src for haproxy $REF_VERSION; run as root to add one" >&2; exit 1; }
        . /etc/os-release
        list=/etc/apt/sources.list.d/swiftlb-regtests-src.sources
        echo "setup.sh: adding $list (deb-src for $VERSION_CODENAME)"
        printf 'Types: deb-src\nURIs: http://deb.debian.org/debian\nSuites: %s %s-updates\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n\nTypes: deb-src\nURIs: http://deb.debian.org/debian-security\nSuites: %s-security\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
            "$VERSION_CODENAME" "$VERSION_CODENAME" "$VERSION_CODENAME" > "$list"
        apt-get update -qq
    fi
    mkdir -p "$HAPROXY_SRC"
    # The installed haproxy's exact revision first; a mirror may lack it (a security update
    # published elsewhere), then the newest revision of the same upstream version.
    installed=$(dpkg-query -W -f='${Version}' haproxy 2>/dev/null || true)
    versions=$( { [ -n "$installed" ] && echo "$installed"
                  apt-cache showsrc haproxy | sed -n "s/^Version: \($REF_VERSION-.*\)/\1/p" | sort -rV; } | awk '!seen[$0]++')
    got=
    for v in $versions; do
        if (cd "$HAPROXY_SRC" && apt-get source -qq "haproxy=$v" >/dev/null 2>&1); then got=$v; break; fi
        echo "setup.sh: haproxy $v: source not downloadable here, trying the next revision"
    done
    [ -n "$got" ] || { echo "setup.sh: could not get haproxy $REF_VERSION's source" >&2; exit 1; }
    echo "haproxy source: $got"
fi
echo "reg-tests: $(compgen -G "$HAPROXY_SRC/haproxy-$REF_VERSION/reg-tests")"
