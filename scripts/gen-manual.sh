#!/usr/bin/env bash
# Regenerates docs/swiftlb.1, the man page, from the command line's own help (abstracts,
# discussions, options) with swift-argument-parser's GenerateManual plugin, offline: the
# plugin builds the package (debug, to reuse the usual build) and runs
# `swiftlb --experimental-dump-help`. Run it after changing a command's help; commit the result.
#   scripts/gen-manual.sh
set -euo pipefail
cd "$(dirname "$0")/.."
case "${1:-}" in
    -h|--help) sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    "") ;;
    *) echo "scripts/gen-manual.sh: no arguments expected (got '$1')" >&2; exit 2 ;;
esac
# shellcheck source=lib/deps.sh
. scripts/lib/deps.sh
deps_install build || { echo "scripts/gen-manual.sh: cannot install what the build needs (see above)" >&2; exit 1; }
swift package generate-manual --configuration debug --date "$(date -u +%Y-%m-%d)" >/dev/null
generated=.build/plugins/GenerateManual/outputs/swiftlb/swiftlb.1
{
    printf '.\\" Regenerate with scripts/gen-manual.sh (swift package generate-manual); do not edit.\n'
    cat "$generated"
} > docs/swiftlb.1
echo "docs/swiftlb.1 written"
