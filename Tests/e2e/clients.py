#!/usr/bin/env python3
"""End-to-end test with real IRC clients: irssi (over TLS) and WeeChat (over plain text) against
`pearircd run --standalone`, both driven inside tmux.

Typing goes through `tmux send-keys`, reading through `tmux capture-pane`; every step waits for text on a screen
with a timeout (never a fixed sleep). Checks: both clients register, join one channel, exchange messages both ways,
and each sees the other's JOIN, PART and QUIT.

Usage: clients.py [--pearircd PATH] [--timeout SECONDS] [--keep]
Needs irssi, weechat (weechat-curses or weechat-headless is not enough: the curses UI is what we read) and tmux on
PATH. Exits 0 on success, 1 on a failed check, 2 when a required program is missing.
"""

import argparse
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time

CHANNEL = "#pear"


class CheckFailed(Exception):
    pass


class Tmux:
    """A private tmux server (its own socket), so nothing touches the user's sessions."""

    def __init__(self, directory):
        self.socket = os.path.join(directory, "tmux.sock")

    def run(self, *args, check=True):
        return subprocess.run(
            ["tmux", "-u", "-S", self.socket, *args], check=check, capture_output=True, text=True
        )

    def start(self, name, command, env):
        exports = " ".join(f"{key}={value}" for key, value in env.items())
        self.run("new-session", "-d", "-s", name, "-x", "200", "-y", "50", f"env {exports} {command}")
        self.run("set-option", "-t", name, "remain-on-exit", "on")

    def type(self, name, text):
        self.run("send-keys", "-t", name, "-l", text)
        self.run("send-keys", "-t", name, "Enter")

    def screen(self, name):
        result = self.run("capture-pane", "-p", "-J", "-t", name, check=False)
        return result.stdout if result.returncode == 0 else ""

    def kill(self):
        """Stops every client and waits (up to 5 s) until their processes are gone, so nothing writes into the
        temporary directory after it is removed (WeeChat saves its configuration when it gets SIGHUP)."""
        panes = self.run("list-panes", "-a", "-F", "#{pane_pid}", check=False).stdout.split()
        self.run("kill-server", check=False)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and any(os.path.exists(f"/proc/{pid}") for pid in panes):
            time.sleep(0.05)


class Client:
    def __init__(self, tmux, name, timeout, clear_command, focus_command, echo_command):
        self.tmux = tmux
        self.echo_command = echo_command
        self.name = name
        self.timeout = timeout
        self.clear_command = clear_command
        self.focus_command = focus_command

    def type(self, text):
        self.tmux.type(self.name, text)

    def screen(self):
        return self.tmux.screen(self.name)

    def wait_for(self, *needles, what=None):
        """Waits until every needle is on this client's screen."""
        deadline = time.monotonic() + self.timeout
        screen = ""
        while time.monotonic() < deadline:
            screen = self.screen()
            if all(needle in screen for needle in needles):
                return screen
            time.sleep(0.05)
        raise CheckFailed(
            f"{self.name}: timed out waiting for {what or needles!r}\n--- {self.name}'s screen ---\n{screen}"
        )

    def wait_for_pattern(self, pattern, what=None):
        """Waits until the regular expression matches this client's screen; returns the match."""
        deadline = time.monotonic() + self.timeout
        screen = ""
        while time.monotonic() < deadline:
            screen = self.screen()
            found = re.search(pattern, screen)
            if found:
                return found
            time.sleep(0.05)
        raise CheckFailed(
            f"{self.name}: timed out waiting for {what or pattern!r}\n--- {self.name}'s screen ---\n{screen}"
        )

    def watch_channel(self):
        """Shows the channel window, emptied, so the next wait sees only new lines."""
        self.type(self.focus_command)
        self.type(self.clear_command)
        marker = f"ready-{secrets.token_hex(3)}"
        # Keys are handled in order, so the marker on screen proves focus and clear both happened.
        self.type(f"{self.echo_command} {marker}")
        self.wait_for(marker, what=f"{self.name}'s window to be cleared")


def start_server(binary, directory, timeout):
    data = os.path.join(directory, "data")
    process = subprocess.Popen(
        [binary, "run", "--standalone", "--port", "0", "--tls-port", "0", "--data-dir", data,
         "--history-on-join", "0"],
        stdout=subprocess.PIPE, stderr=open(os.path.join(directory, "pearircd.log"), "w"), text=True,
        start_new_session=True,
    )
    ports = {}
    deadline = time.monotonic() + timeout
    while len(ports) < 2:
        if time.monotonic() > deadline or process.poll() is not None:
            raise CheckFailed("pearircd did not print its listening ports")
        line = process.stdout.readline()
        words = line.split()
        if len(words) == 4 and words[0] == "listening":
            ports[words[1]] = int(words[3])
    return process, ports["plain"], ports["tls"]


def irssi_config(directory, nick, tls_port):
    home = os.path.join(directory, "irssi")
    os.makedirs(home)
    with open(os.path.join(home, "config"), "w") as config:
        config.write(f"""
servers = (
  {{ address = "127.0.0.1"; chatnet = "pear"; port = "{tls_port}"; use_tls = "yes"; tls_verify = "no";
     autoconnect = "yes"; }}
);
chatnets = {{ pear = {{ type = "IRC"; }}; }};
settings = {{
  core = {{ real_name = "Alice Irssi"; user_name = "{nick}"; nick = "{nick}"; }};
  "fe-common/core" = {{ autocreate_own_query = "no"; beep_msg_level = ""; }};
  # No client-side flood delay: every command goes out at once (pearircd exempts loopback from flood control).
  "irc/core" = {{ cmd_queue_speed = "0msec"; cmds_max_at_once = "1000"; }};
}};
""")
    return f"irssi --home={home}"


def weechat_command(directory, nick, plain_port):
    home = os.path.join(directory, "weechat")
    os.makedirs(home)
    commands = ";".join([
        "/set weechat.look.buffer_time_format %H:%M:%S",
        f"/server add pear 127.0.0.1/{plain_port}",
        f"/set irc.server.pear.nicks {nick}",
        f"/set irc.server.pear.username {nick}",
        "/set irc.server.pear.realname Bob_WeeChat",
        "/set irc.server.pear.autoreconnect off",
        # No client-side flood delay (pearircd exempts loopback from flood control).
        "/set irc.server.pear.anti_flood_prio_high 0",
        "/set irc.server.pear.anti_flood_prio_low 0",
        "/connect pear",
    ])
    return f"weechat --dir {home} --run-command '{commands}'"


def start_clients(tmux, home, alice, bob, timeout):
    """irssi as alice over TLS and WeeChat as bob over plain text, in tmux. `alice` and `bob` are each
    (config directory, port); returns their `Client`s."""
    env = {"LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "TERM": "tmux-256color", "HOME": home}
    tmux.start("alice", irssi_config(alice[0], "alice", alice[1]), env)
    tmux.start("bob", weechat_command(bob[0], "bob", bob[1]), env)
    return (Client(tmux, "alice", timeout, "/clear", f"/window goto {CHANNEL}", "/echo"),
            Client(tmux, "bob", timeout, "/buffer clear", f"/buffer {CHANNEL}", "/print"))


def report_failure(label, step, failure, logs, lines=30):
    """Prints which check failed and why, then the tail of each log (name, path) that exists."""
    print(f"{label}: FAILED at '{step}': {failure}", file=sys.stderr)
    for name, path in logs:
        if os.path.exists(path):
            print(f"--- {name} log (tail) ---", file=sys.stderr)
            with open(path) as handle:
                print("".join(handle.readlines()[-lines:]), file=sys.stderr)


def parse_options(description, default_timeout=20.0):
    """The options every e2e script takes: --pearircd, --timeout, --keep."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--pearircd", default=os.environ.get("PEARIRCD", ".build/debug/pearircd"))
    parser.add_argument("--timeout", type=float, default=default_timeout,
                        help="seconds to wait for each expected screen")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (logs, configs)")
    return parser.parse_args()


def missing_requirement(options, label):
    """Prints what is missing (irssi, weechat, tmux, the pearircd binary) and returns True, or returns False."""
    for program in ("irssi", "weechat", "tmux"):
        if shutil.which(program) is None:
            print(f"{label}: {program} is not installed (apt-get install -y irssi weechat-curses tmux)",
                  file=sys.stderr)
            return True
    if not os.access(options.pearircd, os.X_OK):
        print(f"{label}: no pearircd at {options.pearircd}", file=sys.stderr)
        return True
    return False


def main():
    options = parse_options(__doc__.split("\n")[0])
    if missing_requirement(options, "e2e"):
        return 2

    directory = tempfile.mkdtemp(prefix="pearirc-e2e-")
    tmux = Tmux(directory)
    server = None
    started = time.monotonic()
    step = "start"
    try:
        step = "start pearircd"
        server, plain_port, tls_port = start_server(options.pearircd, directory, 60)
        print(f"e2e: pearircd on plain {plain_port}, tls {tls_port}")
        alice, bob = start_clients(tmux, directory, (directory, tls_port), (directory, plain_port), options.timeout)
        token = secrets.token_hex(4)

        def check(name):
            nonlocal step
            step = name
            print(f"e2e: [{time.monotonic() - started:5.1f} s] {name}", flush=True)

        check("both clients register (irssi over TLS, WeeChat over plain)")
        alice.wait_for("Welcome to the PearIRC Network, alice", what="irssi's RPL_WELCOME")
        bob.wait_for("Welcome to the PearIRC Network, bob", what="WeeChat's RPL_WELCOME")

        check("alice joins")
        alice.type(f"/join {CHANNEL}")
        alice.wait_for(f"alice [~alice@127.0.0.1] has joined {CHANNEL}")

        check("bob joins, alice sees it")
        alice.watch_channel()
        bob.type(f"/join {CHANNEL}")
        bob.wait_for(f"(~bob@127.0.0.1) has joined {CHANNEL}", "alice", what="bob's own JOIN and alice in NAMES")
        alice.wait_for(f"bob [~bob@127.0.0.1] has joined {CHANNEL}")

        check("alice -> bob message")
        bob.watch_channel()
        alice.type(f"/msg {CHANNEL} hello from irssi {token}")
        bob.wait_for(f"hello from irssi {token}")

        check("bob -> alice message")
        alice.watch_channel()
        bob.type(f"/msg {CHANNEL} hello from weechat {token}")
        alice.wait_for(f"hello from weechat {token}")

        check("alice parts and rejoins, bob sees both")
        bob.watch_channel()
        alice.type(f"/part {CHANNEL} alice-part-{token}")
        bob.wait_for(f"(~alice@127.0.0.1) has left {CHANNEL} (alice-part-{token})")
        bob.watch_channel()
        alice.type(f"/join {CHANNEL}")
        bob.wait_for(f"(~alice@127.0.0.1) has joined {CHANNEL}")

        check("bob parts and rejoins, alice sees both")
        alice.watch_channel()
        bob.type(f"/part {CHANNEL} bob-part-{token}")
        alice.wait_for(f"bob [~bob@127.0.0.1] has left {CHANNEL} [bob-part-{token}]")
        alice.watch_channel()
        bob.type(f"/join {CHANNEL}")
        alice.wait_for(f"bob [~bob@127.0.0.1] has joined {CHANNEL}")

        check("bob quits and reconnects, alice sees both")
        alice.watch_channel()
        bob.type(f"/disconnect pear bob-quit-{token}")
        alice.wait_for(f"bob [~bob@127.0.0.1] has quit [Quit: bob-quit-{token}]")
        alice.watch_channel()
        bob.type("/connect pear")
        bob.type(f"/join {CHANNEL}")
        alice.wait_for(f"bob [~bob@127.0.0.1] has joined {CHANNEL}")

        check("alice quits, bob sees it")
        bob.watch_channel()
        alice.type(f"/quit alice-quit-{token}")
        bob.wait_for(f"(~alice@127.0.0.1) has quit (Quit: alice-quit-{token})")

        bob.type("/quit")
        print(f"e2e: passed in {time.monotonic() - started:.1f} s")
        return 0
    except CheckFailed as failure:
        report_failure("e2e", step, failure, [("pearircd", os.path.join(directory, "pearircd.log"))])
        return 1
    finally:
        tmux.kill()
        if server is not None and server.poll() is None:
            os.killpg(server.pid, signal.SIGTERM)
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait()
        if options.keep:
            print(f"e2e: kept {directory}")
        else:
            shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
