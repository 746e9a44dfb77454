#!/usr/bin/env python3
"""Logging in to a gateway with real IRC clients (issue 20): a `pearircd run` gateway with one account (added with
`pearircd account add` before it starts), irssi logging in with SASL PLAIN over TLS and WeeChat with SASL
SCRAM-SHA-256 over plain text, both driven inside tmux as in clients.py; and a client that does not log in.

Checks: both clients are welcomed logged in to the account, and made IRC operators (the account is an admin); being
connections of one account, they are one person (what a bouncer gives): WeeChat, which asked for another nick, is
welcomed under irssi's, a room joined from one is joined in the other, and each shows the lines sent from the other;
a connection that does not log in is told 464 and closed; one that sends a wrong PASS is refused the same way.

Usage: login_clients.py [--pearircd PATH] [--timeout SECONDS] [--keep]
Exits 0 on success, 1 on a failed check, 2 when a required program is missing.
"""

import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time

from clients import CHANNEL, CheckFailed, Client, Tmux, missing_requirement, parse_options, report_failure
from p2p_clients import ENVIRONMENT, start_gateway, stop

ACCOUNT = "root"


def irssi_config(directory, nick, tls_port, password):
    home = os.path.join(directory, "irssi")
    os.makedirs(home)
    with open(os.path.join(home, "config"), "w") as config:
        config.write(f"""
servers = (
  {{ address = "127.0.0.1"; chatnet = "pear"; port = "{tls_port}"; use_tls = "yes"; tls_verify = "no";
     autoconnect = "yes"; }}
);
chatnets = {{ pear = {{ type = "IRC"; sasl_mechanism = "PLAIN"; sasl_username = "{ACCOUNT}";
                       sasl_password = "{password}"; }}; }};
settings = {{
  core = {{ real_name = "Alice Irssi"; user_name = "{nick}"; nick = "{nick}"; }};
  "fe-common/core" = {{ autocreate_own_query = "no"; beep_msg_level = ""; }};
  "irc/core" = {{ cmd_queue_speed = "0msec"; cmds_max_at_once = "1000"; }};
}};
""")
    return f"irssi --home={home}"


def weechat_command(directory, nick, plain_port, password):
    home = os.path.join(directory, "weechat")
    os.makedirs(home)
    commands = ";".join([
        f"/server add pear 127.0.0.1/{plain_port}",
        f"/set irc.server.pear.nicks {nick}",
        f"/set irc.server.pear.username {nick}",
        "/set irc.server.pear.autoreconnect off",
        "/set irc.server.pear.anti_flood_prio_high 0",
        "/set irc.server.pear.anti_flood_prio_low 0",
        "/set irc.server.pear.sasl_mechanism scram_sha256",
        f"/set irc.server.pear.sasl_username {ACCOUNT}",
        f"/set irc.server.pear.sasl_password {password}",
        "/set irc.server.pear.sasl_fail disconnect",
        "/connect pear",
    ])
    return f"weechat --dir {home} --run-command '{commands}'"


def refused(port, lines, timeout):
    """Sends `lines` on a raw connection; returns what came back once the server closed it."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as connection:
        connection.sendall("".join(line + "\r\n" for line in lines).encode())
        received = b""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            chunk = connection.recv(4096)
            if not chunk:
                return received.decode(errors="replace")
            received += chunk
    raise CheckFailed(f"the server kept a connection that did not log in open; it said:\n{received!r}")


def read_until(port, lines, needle, timeout, then=("QUIT",)):
    """Sends `lines` on a raw connection; returns what came back up to and including `needle`; then sends `then` and
    waits for the server to close the connection (so the server has handled them)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as connection:
        connection.sendall("".join(line + "\r\n" for line in lines).encode())
        received = b""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and needle.encode() not in received:
            try:
                chunk = connection.recv(4096)
            except TimeoutError:
                break
            if not chunk:
                break
            received += chunk
        if needle.encode() not in received:
            raise CheckFailed(f"expected {needle!r}, got:\n{received.decode(errors='replace')}")
        connection.sendall("".join(line + "\r\n" for line in then).encode())
        while time.monotonic() < deadline and connection.recv(4096):
            pass
        return received.decode(errors="replace")


def shown_in_channel(client, needle, what):
    """Waits until the channel's window exists and shows `needle` (a JOIN made from another client opens the window
    without switching to it, so the client is asked to show it until it can)."""
    deadline = time.monotonic() + client.timeout
    while time.monotonic() < deadline:
        client.type(client.focus_command)
        if needle in client.screen():
            return
        time.sleep(0.2)
    raise CheckFailed(f"timed out waiting for {what}; the screen shows:\n{client.screen()}")


def main():
    options = parse_options(__doc__.split("\n")[0], default_timeout=30.0)
    if missing_requirement(options, "e2e-login"):
        return 2
    directory = tempfile.mkdtemp(prefix="pearirc-e2e-login-")
    tmux = Tmux(directory)
    gateway = None
    started = time.monotonic()
    step = "add the account"
    try:
        password = "pw-" + secrets.token_hex(6)
        data = os.path.join(directory, "data-a")
        added = subprocess.run([options.pearircd, "account", "add", ACCOUNT, "--data-dir", data], input=password + "\n",
                               capture_output=True, text=True, env=ENVIRONMENT, timeout=60)
        if added.returncode != 0:
            raise CheckFailed(f"pearircd account add failed: {added.stdout}{added.stderr}")
        step = "start the gateway"
        gateway, ports = start_gateway(options.pearircd, directory, "a", None, 60, history_on_join=50)
        print(f"e2e-login: gateway irc plain {ports['plain']}, tls {ports['tls']}")

        def check(name):
            nonlocal step
            step = name
            print(f"e2e-login: [{time.monotonic() - started:5.1f} s] {name}", flush=True)

        check("a client that does not log in is refused")
        answer = refused(ports["plain"], ["NICK nobody", "USER nobody 0 * :nobody"], options.timeout)
        if " 464 " not in answer or "log in" not in answer:
            raise CheckFailed(f"expected 464 asking to log in, got:\n{answer}")
        check("a wrong PASS is refused")
        answer = refused(ports["plain"], [f"PASS {ACCOUNT}:wrong", "NICK guesser", "USER guesser 0 * :guesser"], options.timeout)
        if " 464 " not in answer or "Password incorrect" not in answer:
            raise CheckFailed(f"expected 464 Password incorrect, got:\n{answer}")

        check("irssi logs in with SASL PLAIN over TLS, WeeChat with SCRAM-SHA-256 over plain text")
        env = {"LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "TERM": "tmux-256color", "HOME": directory}
        os.makedirs(os.path.join(directory, "a"))
        os.makedirs(os.path.join(directory, "b"))
        tmux.start("alice", irssi_config(os.path.join(directory, "a"), "alice", ports["tls"], password), env)
        alice = Client(tmux, "alice", options.timeout, "/clear", f"/window goto {CHANNEL}", "/echo")
        alice.wait_for(f"You are now logged in as {ACCOUNT}", "Welcome to the PearIRC Network, alice",
                       what="irssi logged in and welcomed")
        # Started after irssi is in: WeeChat's connection joins the account's person, under irssi's nick.
        tmux.start("bob", weechat_command(os.path.join(directory, "b"), "bob", ports["plain"], password), env)
        bob = Client(tmux, "bob", options.timeout, "/buffer clear", f"/buffer {CHANNEL}", "/print")
        bob.wait_for(f"You are now logged in as {ACCOUNT}", "Welcome to the PearIRC Network, alice",
                     what="WeeChat logged in and welcomed as the account's person (alice)")

        check("both are IRC operators (the account is the gateway's admin)")
        alice.wait_for("You are now an IRC operator", what="irssi's RPL_YOUREOPER")
        bob.wait_for("You are now an IRC operator", what="WeeChat's RPL_YOUREOPER")

        check("a room joined from irssi is joined in WeeChat too")
        alice.type(f"/join {CHANNEL}")
        alice.wait_for(f"has joined {CHANNEL}")
        shown_in_channel(bob, f"has joined {CHANNEL}", "WeeChat shown the JOIN its person made from irssi")

        check("each shows the lines sent from the other")
        token = secrets.token_hex(4)
        bob.watch_channel()
        alice.type(f"/msg {CHANNEL} from irssi {token}")
        bob.wait_for(f"from irssi {token}")
        alice.watch_channel()
        bob.type(f"/msg {CHANNEL} from weechat {token}")
        alice.wait_for(f"from weechat {token}")

        check("a client connecting later gets the lines said since a client of the account left")
        # A client of the account that comes and goes: once the gateway has closed it, its departure is noted.
        gone = read_until(ports["plain"], [f"PASS {ACCOUNT}:{password}", "NICK brief", "USER brief 0 * :brief"],
                          " 376 ", options.timeout, then=["QUIT :gone"])
        if " 001 alice " not in gone:
            raise CheckFailed(f"expected the connection welcomed as alice, got:\n{gone}")
        alice.watch_channel()
        alice.type(f"/msg {CHANNEL} while you were out {token}")
        alice.wait_for(f"while you were out {token}")
        answer = read_until(ports["plain"], [f"PASS {ACCOUNT}:{password}", "NICK later", "USER later 0 * :later"],
                            f"while you were out {token}", options.timeout)
        if f"JOIN {CHANNEL}" not in answer or " 001 alice " not in answer:
            raise CheckFailed(f"expected the connection welcomed as alice and joined to {CHANNEL}, got:\n{answer}")
        if f"from irssi {token}" in answer:
            raise CheckFailed(f"the replay went back past the departure:\n{answer}")

        if os.environ.get("E2E_SHOW_SCREENS"):
            print(alice.screen(), bob.screen(), sep="\n--- bob ---\n")
        alice.type("/quit")
        bob.type("/quit")
        print(f"e2e-login: passed in {time.monotonic() - started:.1f} s")
        return 0
    except CheckFailed as failure:
        report_failure("e2e-login", step, failure, [("gateway", os.path.join(directory, "pearircd-a.log"))])
        return 1
    finally:
        tmux.kill()
        stop(gateway)
        if options.keep:
            print(f"e2e-login: kept {directory}")
        else:
            shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
