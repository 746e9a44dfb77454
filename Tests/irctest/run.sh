#!/usr/bin/env bash
# Runs the irctest conformance suite against `pearircd run --standalone` (or, with CONTROLLER=inspircd, against
# Debian's InspIRCd through irctest's own controller) and prints per-specification counts (pear_report.py).
#
#   Tests/irctest/run.sh [extra pytest args]
#
# Environment:
#   IRCTEST_DIR   an irctest work tree (default: .build/irctest, cloned at IRCTEST_COMMIT if missing)
#   PEARIRCD      the pearircd binary (default: `swift build --show-bin-path`/pearircd)
#   CONTROLLER    pearircd (default) or any irctest controller module name, e.g. irctest.controllers.inspircd
#   PEAR_REPORT   also write the counts and every test's outcome as JSON to this file
# Needs python3 with pytest (not 9.0.0), pytest-xdist, filelock, ecdsa (pip install pytest pytest-xdist filelock ecdsa).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
IRCTEST_COMMIT="${IRCTEST_COMMIT:-b00c039766f5c497920dd787f7cb0e0005bd5ce0}"
IRCTEST_DIR="${IRCTEST_DIR:-$root/.build/irctest}"
if [ ! -f "$IRCTEST_DIR/conftest.py" ]; then
  git clone --quiet https://github.com/progval/irctest "$IRCTEST_DIR"
  git -C "$IRCTEST_DIR" checkout --quiet "$IRCTEST_COMMIT"
fi
if [ -z "${PEARIRCD:-}" ]; then
  PEARIRCD="$(cd "$root" && swift build --show-bin-path)/pearircd"
fi
export PEARIRCD
controller="${CONTROLLER:-pearircd}"
[ "$controller" = "pearircd" ] && controller="pearircd_controller"
export PYTHONPATH="$here${PYTHONPATH:+:$PYTHONPATH}"
# The selection irctest's README uses for InspIRCd and Solanum (no Ergo-only, deprecated or strict tests), and
# no Sable-only test classes either (they need Sable's history server and faketime).
selection='not Ergo and not Sable and not deprecated and not strict'
jobs="${JOBS:-4}"
cd "$IRCTEST_DIR"
exec python3 -m pytest -p no:cacheprovider -p pear_report --controller "$controller" -k "$selection" \
  -n "$jobs" -q -rfE "$@"
