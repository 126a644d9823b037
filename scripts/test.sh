#!/usr/bin/env bash
# The whole test suite: installs what is missing (the C libraries, nginx, redis, haproxy,
# postgres, wrk, testssl.sh, nftables, Python's websockets and cryptography; see
# scripts/lib/deps.sh), builds, then runs every test: parser and unit tests, the proxy
# against real peers on loopback, and the VIP scenarios in network namespaces (as root).
# Every server a test starts listens on 127.0.0.1 or inside a namespace the test creates.
#   scripts/test.sh                       # everything
#   scripts/test.sh --filter ErrorTests   # arguments go to `swift test`
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=lib/deps.sh
. scripts/lib/deps.sh
deps_install build test || { echo "scripts/test.sh: cannot install what the tests need (see above)" >&2; exit 1; }
deps_build --build-tests
# The release binary too: AllocationTests counts what production runs.
deps_build_release
swift test --skip-build "$@"
