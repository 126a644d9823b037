#!/usr/bin/env bash
# Builds the release binary the way every script runs it (scripts/lib/deps.sh,
# SWIFTLB_RELEASE_BUILD: the Swift runtime linked in, no dynamic exclusivity checks, lld with
# packed relative relocations where the toolchain and glibc allow),
# installing the C libraries it links first if they are missing (as root). Prints its path.
#   scripts/build.sh && .build/release/swiftlb check -c lb.conf
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=lib/deps.sh
. scripts/lib/deps.sh
deps_install build || { echo "scripts/build.sh: cannot install what the build needs (see above)" >&2; exit 1; }
deps_build_release >&2
echo "$PWD/.build/release/swiftlb"
