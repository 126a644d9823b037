#!/usr/bin/env bash
# The whole test suite: parser unit tests, then the proxy against real nginx, Python and
# scripted backends on loopback, driving the built `swiftlb` binary. Needs nginx, curl and
# python3 (.ci/run installs them). Every server a test starts listens on 127.0.0.1 only.
set -euo pipefail
cd "$(dirname "$0")/.."
swift build --build-tests
swift test --skip-build "$@"
