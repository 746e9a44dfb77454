#!/usr/bin/env python3
"""Writes the seed corpus of each fuzz target into DIRECTORY/<target>/, from the reference vectors
(Tests/TestVectors/Vectors) and a few hand-made inputs for our own formats.

Usage: make-seeds.py DIRECTORY"""

import json
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
VECTORS = os.path.join(HERE, "..", "Tests", "TestVectors", "Vectors")


def load(name):
    with open(os.path.join(VECTORS, name + ".json")) as handle:
        return json.load(handle)


def hex_strings(value, minimum=2):
    """Every even-length hex string in a JSON value (recursively), as bytes."""
    found = []
    if isinstance(value, str):
        if len(value) >= 2 * minimum and len(value) % 2 == 0:
            try:
                found.append(bytes.fromhex(value))
            except ValueError:
                pass
    elif isinstance(value, list):
        for item in value:
            found += hex_strings(item, minimum)
    elif isinstance(value, dict):
        for item in value.values():
            found += hex_strings(item, minimum)
    return found


def uint(value):
    """compact-encoding uint."""
    if value < 0xFD:
        return bytes([value])
    if value <= 0xFFFF:
        return b"\xfd" + struct.pack("<H", value)
    if value <= 0xFFFFFFFF:
        return b"\xfe" + struct.pack("<I", value)
    return b"\xff" + struct.pack("<Q", value)


def string(text):
    data = text.encode()
    return uint(len(data)) + data


def zbase32(data):
    """z-base-32, as HyperLog's ZBase32 writes it (5 bits at a time, most significant first, no padding)."""
    alphabet = "ybndrfg8ejkmcpqxot1uwisza345h769"
    bits = "".join(f"{byte:08b}" for byte in data)
    bits += "0" * (-len(bits) % 5)
    return "".join(alphabet[int(bits[i:i + 5], 2)] for i in range(0, len(bits), 5)).encode()


def room_entry(kind, lamport, text, heads=()):
    """Version 1 room entry (docs/protocol.md): version, kind, timestamp, lamport, heads, text, msgid."""
    body = bytes([1, kind]) + uint(1_700_000_000_000) + uint(lamport) + uint(len(heads))
    for key, length in heads:
        body += key + uint(length)
    return body + string(text) + string("ab12cd34ef56.id-1")


# The record kinds of the dht-message target (its first byte, after 0x40), as FuzzTargets.swift reads them.
HYPERDHT_KINDS = {"handshake": 0, "holepunch": 1, "noisePayload": 2, "holepunchPayload": 3, "peer": 4, "peers": 5,
                  "lookupRawReply": 6, "announce": 7, "mutablePutRequest": 8, "mutableGetResponse": 9}


def seeds():
    wire = load("hypercore-wire")
    types = wire["messageTypes"]
    replication = []
    proofs = []
    for sample in wire["samples"]:
        if "hex" not in sample or sample.get("message") not in types:
            continue
        data = bytes.fromhex(sample["hex"])
        replication.append(bytes([types.index(sample["message"])]) + data)
        if sample["message"] == "data":
            proofs.append(data)
    handshakes = [bytes.fromhex(s["hex"]) for s in wire["samples"] if s.get("message") == "handshake" and "hex" in s]
    replication += [bytes([0]) + h for h in handshakes]
    mux = load("protomux")
    frames = [bytes.fromhex(h) for key in ("decryptedMessagesAtResponder", "decryptedMessagesAtInitiator") for h in mux[key]]
    stream = hex_strings(load("secret-stream")["cases"], minimum=8)
    key = bytes(range(32))
    return {
        "irc-line": [
            b"NICK alice", b"USER alice 0 * :Alice", b"@label=x;+typing=active :a!b@c PRIVMSG #rust :hello there",
            b"CAP REQ :echo-message labeled-response", b"CHATHISTORY BEFORE #c msgid=abc 50",
            b"@time=2026-01-01T00:00:00.000Z PRIVMSG #c :\x01ACTION waves\x01",
        ],
        "room-entry": [
            room_entry(0, 5, "hello"), room_entry(4, 1, "alice"), room_entry(5, 2, ""),
            room_entry(3, 9, "a topic", heads=[(key, 7)]), room_entry(7, 1, "proof"),
        ],
        "room-wire": [key, uint(2) + key + bytes(reversed(key))],
        "replication-message": replication,
        "proof": proofs or [b""],
        "protomux": frames,
        "secret-stream-handshake": stream,
        "secret-stream-frames": stream,
        "udx-packet": [bytes.fromhex(c["hex"]) for key in ("constructed", "captured") for c in load("udx")[key]],
        "dht-message": [bytes.fromhex(m["hex"]) for m in load("hyperdht")["dhtRpc"]["messages"]]
        + [bytes([0x40 + HYPERDHT_KINDS[m["message"].split(" ")[0]]]) + bytes.fromhex(m["hex"])
           for m in load("hyperdht")["messages"] if m["message"].split(" ")[0] in HYPERDHT_KINDS]
        # blind-relay 1.6: pair {bitfield isInitiator, token, id, seq} and unpair {bitfield, token}.
        + [bytes([0x4a, 1]) + bytes([0xab]) * 32 + bytes([5, 0]), bytes([0x4b, 0]) + bytes([0xcd]) * 32],
        # Random-nonce seals cannot be made here without libsodium: a version byte, a nonce and some bytes (the target
        # seals every input itself and checks the round trip).
        "sealed-entry": [bytes([1]) + bytes(24) + bytes(range(40)), room_entry(0, 5, "hello")],
        # RoomInvite("#team", 0..31) as RoomInvite prints it.
        "people-hello": [uint(0), uint(1) + bytes(range(32)) + bytes(64), uint(2) + bytes(192), uint(300)],
        "room-invite": [b"pearirc:" + zbase32(bytes([1]) + string("#team") + bytes(range(32))), b"pearirc:", b"pearirc:yy"],
        # Records for a stream: datagrams (type, data offset, then rwnd, seq, ack, body), time, writes, reads.
        "udx-stream": [
            bytes([0, 16, 1, 0]) + (1 << 20).to_bytes(4, "little") + (0).to_bytes(4, "little")
            + (0).to_bytes(4, "little") + b"ab"
            + bytes([0, 16, 1, 0]) + (1 << 20).to_bytes(4, "little") + (2).to_bytes(4, "little")
            + (0).to_bytes(4, "little") + b"cd"
            + bytes([2, 5]) + b"hello" + bytes([1, 40]) + bytes([3, 10]),
            bytes([0, 12, 4, 8]) + (0).to_bytes(8, "little") + bytes([1, 200]) * 3,
        ],
    }


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    for target, inputs in seeds().items():
        directory = os.path.join(sys.argv[1], target)
        os.makedirs(directory, exist_ok=True)
        for number, data in enumerate(inputs):
            with open(os.path.join(directory, f"seed-{number}"), "wb") as handle:
                handle.write(data)
    return 0


if __name__ == "__main__":
    sys.exit(main())
