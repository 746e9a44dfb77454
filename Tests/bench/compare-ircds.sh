#!/usr/bin/env bash
# The IRC front end's benchmark side by side (issue 5): the same load from `pear-bench irc` against pearircd
# (standalone), InspIRCd 3 and ngircd from Debian, one after the other on this machine.
#   bash Tests/bench/compare-ircds.sh [pear-bench options, e.g. --clients 50 --messages 100 --idle 1000]
# Needs: apt-get install -y inspircd ngircd. Flood control is configured away in both (penalties, fake lag,
# per-IP limits, DNS and ident lookups), as pearircd exempts loopback; send queues are generous.
set -euo pipefail
cd "$(dirname "$0")/../.."
swift build -c release ${SCRATCH:+--scratch-path "$SCRATCH"} --product pearircd >&2
swift build -c release ${SCRATCH:+--scratch-path "$SCRATCH"} --product pear-bench >&2
swift build -c release ${SCRATCH:+--scratch-path "$SCRATCH"} --product nio-floor >&2
BIN="$(swift build -c release ${SCRATCH:+--scratch-path "$SCRATCH"} --show-bin-path)"
WORK="$(mktemp -d /tmp/pear-ircd-compare.XXXXXX)"
SERVER_PID=""
cleanup() {
  if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() {
  for _ in $(seq 1 200); do
    if python3 -c "import socket,sys; socket.create_connection(('127.0.0.1',$1),0.2)" 2>/dev/null; then return 0; fi
    sleep 0.05
  done
  echo "server did not open port $1" >&2; return 1
}
stop_server() { kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=""; }

echo "# pearircd $("$BIN/pearircd" version 2>/dev/null || true)"
"$BIN/pear-bench" irc --label pearircd "$@"
# The floor under pearircd's memory: the least IRC server SwiftNIO allows (Sources/nio-floor), linked the same way.
echo "# nio-floor"
"$BIN/pear-bench" floor "$@"

if command -v inspircd >/dev/null; then
  PORT=$(free_port)
  mkdir -p "$WORK/insp"
  cat > "$WORK/insp/inspircd.conf" <<CONF
<server name="insp.bench" description="bench" network="bench">
<admin name="bench" nick="bench" email="bench@localhost">
<bind address="127.0.0.1" port="$PORT" type="clients">
<connect allow="*" resolvehostnames="no" useident="no" localmax="100000" globalmax="100000" maxchans="50"
    timeout="60" pingfreq="10m" hardsendq="8M" softsendq="8M" recvq="8M" threshold="1000000"
    commandrate="1000000000" fakelag="no">
<performance softlimit="10000" somaxconn="1024">
<files motd="$WORK/insp/motd">
<pid file="$WORK/insp/inspircd.pid">
<log method="file" type="* -USERINPUT -USEROUTPUT" level="default" target="$WORK/insp/inspircd.log">
<module name="cap">
<module name="ircv3">
<module name="ircv3_servertime">
<module name="ircv3_msgid">
CONF
  echo "bench" > "$WORK/insp/motd"
  ROOTFLAG=""; [ "$(id -u)" = "0" ] && ROOTFLAG="--runasroot"
  inspircd --nofork --config="$WORK/insp/inspircd.conf" $ROOTFLAG >"$WORK/insp/stdout" 2>&1 &
  SERVER_PID=$!
  wait_port "$PORT"
  echo "# $(inspircd --version 2>&1 | head -1)"
  "$BIN/pear-bench" irc --port "$PORT" --server-pid "$SERVER_PID" --label inspircd "$@"
  stop_server
fi

if command -v ngircd >/dev/null; then
  PORT=$(free_port)
  mkdir -p "$WORK/ngircd"
  echo "bench" > "$WORK/ngircd/motd"
  cat > "$WORK/ngircd/ngircd.conf" <<CONF
[Global]
    Name = ngircd.bench
    Info = bench
    Listen = 127.0.0.1
    Ports = $PORT
    MotdFile = $WORK/ngircd/motd
    PidFile = $WORK/ngircd/ngircd.pid
[Limits]
    MaxConnections = 0
    MaxConnectionsIP = 0
    MaxJoins = 0
    MaxNickLength = 32
    MaxPenaltyTime = 0
    PingTimeout = 600
    PongTimeout = 600
[Options]
    DNS = no
    Ident = no
    PAM = no
    MorePrivacy = no
CONF
  ngircd --nodaemon --config "$WORK/ngircd/ngircd.conf" >"$WORK/ngircd/stdout" 2>&1 &
  SERVER_PID=$!
  wait_port "$PORT"
  echo "# $(ngircd --version | head -1)"
  "$BIN/pear-bench" irc --port "$PORT" --server-pid "$SERVER_PID" --label ngircd "$@"
  stop_server
fi
