#!/usr/bin/env python3
"""IRC load generator: fan-out throughput, latency and idle-connection memory of an IRC server (standard library only).

Works against any server (pearircd, InspIRCd, ngircd...) so figures can be compared on one machine:

  loadgen.py --pearircd PATH                       # starts `pearircd run --standalone` on a free port itself
  loadgen.py --port 6667 --server-pid PID          # an already running server (PID for the RSS figure)

What it measures, printed one figure a line as `name value unit parameters` (docs/style.md, rule 10):
  fanout.delivered   messages delivered per second: --clients clients join one channel, each sends --messages
                     PRIVMSGs (paced by --rate per client, 0 = as fast as possible); every message reaches every
                     other member, so deliveries = clients * (clients - 1) * messages.
  fanout.latency.p50 / .p99   send-to-receive time of each delivery, in milliseconds (the send time travels in the
                     message text; one clock, one machine).
  idle.rss           server resident memory (VmRSS) with --idle registered, idle connections (needs the server PID).
  idle.rss_per_conn  (rss with idle connections − rss before) / idle.
Lines are read until every expected delivery arrived or --timeout passed; missing deliveries are reported
(`fanout.missing`), never silently ignored. Flood control must be off or exempt for the load (pearircd exempts
loopback by default).
"""

import argparse
import asyncio
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

WELCOME = re.compile(rb"^(?:@\S+ )?:\S+ 001 ")


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


class Client:
    def __init__(self, nick):
        self.nick = nick
        self.reader = None
        self.writer = None

    async def connect(self, host, port):
        self.reader, self.writer = await asyncio.open_connection(host, port, limit=1 << 20)
        self.writer.write(f"NICK {self.nick}\r\nUSER {self.nick} 0 * :load\r\n".encode())
        await self.writer.drain()
        while True:
            line = await self.reader.readline()
            if not line:
                raise RuntimeError(f"{self.nick}: connection closed during registration")
            if line.startswith(b"PING"):
                self.writer.write(b"PONG" + line[4:])
            if WELCOME.match(line):
                return

    async def send(self, text):
        self.writer.write(text.encode() + b"\r\n")
        await self.writer.drain()

    async def sync(self, token):
        """Waits for the answer to a PING: everything the server sent before it has been read."""
        await self.send(f"PING :{token}")
        while True:
            line = await self.reader.readline()
            if not line or (b"PONG" in line and token.encode() in line):
                return

    def close(self):
        if self.writer:
            self.writer.close()


async def fanout(options, host, port):
    clients = [Client(f"load{index}") for index in range(options.clients)]
    await asyncio.gather(*(client.connect(host, port) for client in clients))
    for client in clients:
        await client.send(f"JOIN {options.channel}")
    for client in clients:
        await client.sync("joined")
    expected_each = (options.clients - 1) * options.messages
    latencies = []
    received = [0] * options.clients
    pattern = re.compile(rb" PRIVMSG \S+ :?t=(\d+) ")

    async def read(index, client):
        while received[index] < expected_each:
            line = await client.reader.readline()
            if not line:
                return
            if line.startswith(b"PING"):
                client.writer.write(b"PONG" + line[4:].rstrip() + b"\r\n")
                continue
            match = pattern.search(line)
            if match:
                latencies.append((time.monotonic_ns() - int(match.group(1))) / 1e6)
                received[index] += 1

    async def write(client):
        interval = 1 / options.rate if options.rate > 0 else 0
        for number in range(options.messages):
            client.writer.write(f"PRIVMSG {options.channel} :t={time.monotonic_ns()} {number} {'x' * options.size}\r\n".encode())
            if interval:
                await client.writer.drain()
                await asyncio.sleep(interval)
        await client.writer.drain()

    start = time.monotonic()
    readers = [asyncio.create_task(read(index, client)) for index, client in enumerate(clients)]
    await asyncio.gather(*(write(client) for client in clients))
    try:
        await asyncio.wait_for(asyncio.gather(*readers), timeout=options.timeout)
    except asyncio.TimeoutError:
        pass
    elapsed = time.monotonic() - start
    for client in clients:
        client.close()
    delivered = sum(received)
    expected = expected_each * options.clients
    parameters = f"clients={options.clients} messages={options.messages} size={options.size} rate={options.rate}"
    print(f"fanout.delivered {delivered / elapsed:.0f} msg/s {parameters}")
    if latencies:
        latencies.sort()
        p50 = latencies[len(latencies) // 2]
        p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
        print(f"fanout.latency.p50 {p50:.2f} ms {parameters}")
        print(f"fanout.latency.p99 {p99:.2f} ms {parameters}")
    if delivered < expected:
        print(f"fanout.missing {expected - delivered} msg {parameters}")
    return delivered == expected


async def idle(options, host, port, pid):
    before = rss_kib(pid)
    clients = []
    for start in range(0, options.idle, 100):
        batch = [Client(f"idle{index}") for index in range(start, min(options.idle, start + 100))]
        await asyncio.gather(*(client.connect(host, port) for client in batch))
        clients += batch
    await clients[-1].sync("idle")
    after = rss_kib(pid)
    print(f"idle.rss {after / 1024:.1f} MiB connections={options.idle}")
    print(f"idle.rss_per_conn {(after - before) / options.idle:.1f} KiB connections={options.idle}")
    for client in clients:
        client.close()


def start_pearircd(binary, directory):
    process = subprocess.Popen(
        [binary, "run", "--standalone", "--port", "0", "--no-tls", "--history-on-join", "0",
         "--data-dir", os.path.join(directory, "data")],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        words = process.stdout.readline().split()
        if len(words) == 4 and words[:2] == ["listening", "plain"]:
            return process, int(words[3])
        if process.poll() is not None:
            break
    process.kill()
    raise RuntimeError("pearircd did not start")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pearircd", help="start this pearircd binary (standalone, free port)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=6667)
    parser.add_argument("--server-pid", type=int, help="the server's PID, for the RSS figures")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--messages", type=int, default=100)
    parser.add_argument("--size", type=int, default=40, help="padding bytes per message")
    parser.add_argument("--rate", type=float, default=0, help="messages per second per client (0: unpaced)")
    parser.add_argument("--idle", type=int, default=1000, help="idle connections for the RSS figure (0: skip)")
    parser.add_argument("--channel", default="#load")
    parser.add_argument("--timeout", type=float, default=60)
    options = parser.parse_args()

    directory = tempfile.mkdtemp(prefix="pearirc-load-")
    server = None
    try:
        port, pid = options.port, options.server_pid
        if options.pearircd:
            server, port = start_pearircd(options.pearircd, directory)
            pid = server.pid
        complete = asyncio.run(fanout(options, options.host, port))
        if options.idle > 0 and pid:
            asyncio.run(idle(options, options.host, port, pid))
        return 0 if complete else 1
    finally:
        if server is not None:
            server.terminate()
            server.wait()
        shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
