#!/usr/bin/env python3
"""Peer-to-peer end-to-end test with real IRC clients: irssi on gateway A (over TLS) and WeeChat on gateway B (over
plain text), all driven inside tmux the same way as clients.py. Two runs: the two `pearircd run` gateways joined by
`--peer` over loopback TCP, then meeting through a local test net of six `pearircd dht-node --persistent`s only
(the room found by name on the DHT, the connection by key over UDX); secret-stream + protomux + hypercore
replication in both.

Checks: both clients register and join one channel; each sees the other arrive (a remote JOIN with the peer's key
fingerprint as host); messages cross both ways; a /me action crosses; a nick change on A shows up on B; a topic set
on either side shows on the other; WeeChat's rejoin on B replays the history with each line under the nick its author
had when writing it; a new client with another nick on A is what B sees of A's user.

Usage: p2p_clients.py [--pearircd PATH] [--timeout SECONDS] [--keep]
Exits 0 on success, 1 on a failed check, 2 when a required program is missing.
"""

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

from clients import CHANNEL, CheckFailed, Tmux, missing_requirement, parse_options, report_failure, start_clients


# Never the public DHT: a gateway or node without a local --bootstrap refuses to start.
ENVIRONMENT = dict(os.environ, PEARIRC_FORBID_PUBLIC_BOOTSTRAP="1")


def start_gateway(binary, directory, name, peer_port, timeout, history_on_join=0, bootstrap=None):
    """Starts `pearircd run` with its own data directory, dialling `peer_port` or joining the DHT through the node
    at `bootstrap` (else off the DHT); returns (process, ports by kind)."""
    data = os.path.join(directory, f"data-{name}")
    arguments = [binary, "run", "--port", "0", "--tls-port", "0", "--no-web", "--data-dir", data, "--peer-host", "127.0.0.1",
                 "--peer-port", "0", "--history-on-join", str(history_on_join)]
    if bootstrap is not None:
        arguments += ["--dht-host", "127.0.0.1", "--bootstrap", f"127.0.0.1:{bootstrap}"]
    else:
        arguments += ["--no-dht"]
    if peer_port is not None:
        arguments += ["--peer", f"127.0.0.1:{peer_port}"]
    process = subprocess.Popen(
        arguments, stdout=subprocess.PIPE, stderr=open(os.path.join(directory, f"pearircd-{name}.log"), "w"),
        text=True, start_new_session=True, env=ENVIRONMENT,
    )
    ports = {}
    deadline = time.monotonic() + timeout
    while "plain" not in ports or "tls" not in ports:
        if time.monotonic() > deadline or process.poll() is not None:
            raise CheckFailed(f"gateway {name} did not print its listening ports")
        words = process.stdout.readline().split()
        if len(words) == 4 and words[0] == "listening":
            ports[words[1]] = int(words[3])
    return process, ports


def start_test_net(binary, directory, size, timeout):
    """Starts `size` persistent `pearircd dht-node`s on 127.0.0.1, the first on its own and the others bootstrapping
    from it; returns (processes, the first one's port)."""
    processes = []
    first = None
    for index in range(size):
        arguments = [binary, "dht-node", "--host", "127.0.0.1", "--port", "0", "--persistent"]
        if first is not None:
            arguments += ["--bootstrap", f"127.0.0.1:{first}"]
        process = subprocess.Popen(
            arguments, stdout=subprocess.PIPE, stderr=open(os.path.join(directory, f"dht-{index}.log"), "w"),
            text=True, start_new_session=True, env=ENVIRONMENT,
        )
        processes.append(process)
        deadline = time.monotonic() + timeout
        while True:
            if time.monotonic() > deadline or process.poll() is not None:
                raise CheckFailed(f"dht node {index} did not print its port")
            words = process.stdout.readline().split()
            if len(words) == 4 and words[:2] == ["listening", "dht"]:
                first = first if first is not None else int(words[3])
                break
    return processes, first


def stop(process):
    if process is not None and process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def main():
    options = parse_options(__doc__.split("\n")[0], default_timeout=30.0)
    if missing_requirement(options, "e2e-p2p"):
        return 2
    for swarm in (False, True):
        status = run(options, swarm)
        if status != 0:
            return status
    return 0


def run(options, swarm):
    """One run: B dials A by address, or (`swarm`) both only know a local DHT test net."""
    label = "e2e-p2p-swarm" if swarm else "e2e-p2p"
    directory = tempfile.mkdtemp(prefix=f"pearirc-{label}-")
    tmux = Tmux(directory)
    gateways = []
    started = time.monotonic()
    step = "start"
    try:
        bootstrap = None
        if swarm:
            step = "start a test net of six DHT nodes"
            nodes, bootstrap = start_test_net(options.pearircd, directory, 6, 60)
            gateways.extend(nodes)
        step = "start two gateways, meeting on the DHT" if swarm else "start two gateways, B dialling A"
        a, a_ports = start_gateway(options.pearircd, directory, "a", None, 60, bootstrap=bootstrap)
        gateways.append(a)
        # B replays history on join (for the rejoin check); A does not.
        b, b_ports = start_gateway(options.pearircd, directory, "b", None if swarm else a_ports["peers"], 60,
                                   history_on_join=50, bootstrap=bootstrap)
        gateways.append(b)
        print(f"{label}: gateway A irc tls {a_ports['tls']}, gateway B irc plain {b_ports['plain']}")
        os.makedirs(os.path.join(directory, "a"))
        os.makedirs(os.path.join(directory, "b"))
        alice, bob = start_clients(
            tmux, directory, (os.path.join(directory, "a"), a_ports["tls"]), (os.path.join(directory, "b"), b_ports["plain"]),
            options.timeout)
        token = secrets.token_hex(4)

        def check(name):
            nonlocal step
            step = name
            print(f"{label}: {name}")

        check("irssi registers on A, WeeChat on B")
        alice.wait_for("Welcome to the PearIRC Network, alice", what="irssi's RPL_WELCOME")
        bob.wait_for("Welcome to the PearIRC Network, bob", what="WeeChat's RPL_WELCOME")

        check("both join; each sees the other arrive from the other gateway")
        alice.type(f"/join {CHANNEL}")
        alice.wait_for(f"has joined {CHANNEL}")
        bob.type(f"/join {CHANNEL}")
        # A remote member's host is a fingerprint of its key under .pear (WeeChat also shows the real name).
        bob.wait_for("(pear@", f"has joined {CHANNEL}", what="alice's remote JOIN on B")
        alice.wait_for("[pear@", f"has joined {CHANNEL}", what="bob's remote JOIN on A")

        check("irssi on A -> WeeChat on B")
        bob.watch_channel()
        alice.type(f"/msg {CHANNEL} hello from irssi on A {token}")
        bob.wait_for(f"hello from irssi on A {token}", what="alice's line on B")

        check("WeeChat on B -> irssi on A")
        alice.watch_channel()
        bob.type(f"/msg {CHANNEL} hello from weechat on B {token}")
        alice.wait_for(f"hello from weechat on B {token}")

        check("/me crosses")
        bob.watch_channel()
        alice.type(f"/me waves {token}")
        bob.wait_for(f"waves {token}")

        check("a private message from irssi on A reaches WeeChat on B, and the answer comes back")
        bob.type("/query alice")
        alice.type(f"/msg bob psst from irssi {token}")
        bob.wait_for(f"psst from irssi {token}", what="alice's private message on B")
        alice.type("/query bob")
        bob.type(f"/msg alice psst back from weechat {token}")
        alice.wait_for(f"psst back from weechat {token}", what="bob's private message on A")
        alice.watch_channel()
        bob.watch_channel()

        check("a nick change on A shows up on B")
        bob.watch_channel()
        alice.type(f"/nick alicia")
        bob.wait_for("alicia")

        check("a topic set on A shows on B, and one set on B shows on A")
        bob.watch_channel()
        alice.type(f"/topic set by irssi {token}")
        bob.wait_for(f"set by irssi {token}", what="A's topic on B")
        alice.watch_channel()
        bob.type(f"/topic set by weechat {token}")
        alice.wait_for(f"set by weechat {token}", what="B's topic on A")

        check("WeeChat rejoins on B: the replayed history shows each line under its author's nick at the time")
        alice.watch_channel()
        bob.type(f"/part {CHANNEL}")
        alice.wait_for("has left", what="bob's PART on A")
        bob.type("/buffer clear")
        bob.type(f"/join {CHANNEL}")
        # Written by alice before she became alicia, and by bob: never under today's nick or the reader's.
        bob.wait_for_pattern(rf"\balice\b\W+hello from irssi on A {token}", what="alice's line replayed as alice")
        bob.wait_for_pattern(rf"\bbob\b\W+hello from weechat on B {token}", what="bob's line replayed as bob")
        alice.wait_for("has joined", what="bob's rejoin on A")

        check("a new client with another nick on A is what B sees of A's user")
        bob.watch_channel()
        with socket.create_connection(("127.0.0.1", a_ports["plain"]), timeout=options.timeout) as raw:
            raw.sendall(f"NICK carol\r\nUSER carol 0 * :Carol\r\nJOIN {CHANNEL}\r\n"
                        f"PRIVMSG {CHANNEL} :hello from carol {token}\r\n".encode())
            bob.wait_for_pattern(rf"\bcarol\b\W+hello from carol {token}", what="carol's line on B under her nick")
            raw.sendall(b"QUIT :done\r\n")

        print(f"{label}: passed in {time.monotonic() - started:.1f} s")
        return 0
    except CheckFailed as failure:
        report_failure(label, step, failure, [(f"gateway {name}", os.path.join(directory, f"pearircd-{name}.log")) for name in ("a", "b")], lines=20)
        return 1
    finally:
        tmux.kill()
        for process in reversed(gateways):
            stop(process)
        if not options.keep:
            shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
