#!/usr/bin/env bash
# Two builds of PearIRC side by side on the same machine, run alternately (old, new, old, new, ...) so drifting machine
# load hits both alike: `pear-bench irc` (against the pearircd next to each pear-bench) and `pear-bench p2p`.
#   bash Tests/bench/compare-builds.sh OLD_BIN_DIR NEW_BIN_DIR [ROUNDS]
# Each BIN_DIR holds a release pearircd and pear-bench, e.g. from
#   git worktree add --detach ../old <commit> && (cd ../old && swift build -c release --product pearircd &&
#   swift build -c release --product pear-bench)   # then ../old/.build/release
set -euo pipefail
OLD="$1"; NEW="$2"; ROUNDS="${3:-3}"
for bin in "$OLD" "$NEW"; do
  for tool in pearircd pear-bench; do
    [ -x "$bin/$tool" ] || { echo "missing $bin/$tool" >&2; exit 1; }
  done
done
for round in $(seq 1 "$ROUNDS"); do
  for side in old new; do
    bin="$OLD"; [ "$side" = new ] && bin="$NEW"
    echo "# round $round $side irc"
    "$bin/pear-bench" irc --label "$side"
    echo "# round $round $side p2p"
    "$bin/pear-bench" p2p
  done
done
