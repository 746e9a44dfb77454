'use strict'
// swarm-room-peer.js — the Node side of the live room interop test (SwarmRoomInteropTests): a Hyperswarm 4 peer
// (hyperdht, protomux, hypercore 11 from the reference tree) that finds a `pearircd run` gateway by a room's
// discovery topic on a local test DHT, takes the room the gateway offers and replicates the room's logs.
//
//   NODE_PATH=<reference tree>/node_modules node swarm-room-peer.js <bootstrapPort> <discoveryTopicHex> <roomTopicHex>
//
// Only 127.0.0.1:<bootstrapPort> is ever used as bootstrap (never the public network). Prints one JSON object a line:
//   {"joined": "<discovery topic hex>", "publicKey": "<our swarm key hex>"}   once the first announce/lookup flushed
//   {"connection": "<remote key hex>"}                                     for each swarm connection
//   {"offered": "<channel id hex>", "remoteKey": "<hex>"}                  the gateway opened pearirc/room/v1 on it
//                                                                          (answered only when the id is <roomTopicHex>)
//   {"opened": "<channel id hex>", "hello": "<the gateway's handshake hex>"}   the channel is open on both sides
//   {"writers": ["<key hex>", ...]}                                        each `writers` message (type 0)
//   {"writer": "<key hex>", "length": n, "blocks": ["<block hex>", ...]}  each writer's hypercore, replicated (again
//                                                                          each time it grows)
//   {"error": "..."}                                                       whatever went wrong
// and runs until stdin closes or SIGTERM.

const Hyperswarm = require('hyperswarm')
const Hypercore = require('hypercore')
const Protomux = require('protomux')
const c = require('compact-encoding')
const b4a = require('b4a')
const crypto = require('crypto')
const fs = require('fs')
const os = require('os')
const path = require('path')

const PROTOCOL = 'pearirc/room/v1'
const TIMEOUT = 30000

const out = (obj) => process.stdout.write(JSON.stringify(obj) + '\n')
const hex = (bytes) => b4a.toString(bytes, 'hex')
const fail = (err) => out({ error: String((err && err.stack) || err) })

const [bootstrapPort, discoveryHex, roomHex] = process.argv.slice(2)
if (!bootstrapPort || !/^[0-9a-f]{64}$/.test(discoveryHex || '') || !/^[0-9a-f]{64}$/.test(roomHex || '')) {
  process.stderr.write('usage: swarm-room-peer.js <bootstrapPort> <discoveryTopicHex> <roomTopicHex>\n')
  process.exit(2)
}

// Our hello: uint version 1, fixed32 "own writer" — a random key, as this peer keeps no log of its own.
const ownWriter = crypto.randomBytes(32)
const hello = b4a.concat([c.encode(c.uint, 1), ownWriter])
const writersEncoding = c.array(c.fixed32)

const storage = fs.mkdtempSync(path.join(os.tmpdir(), 'pearirc-swarm-room-peer-'))
const cores = new Map() // writer key hex -> Hypercore
const swarm = new Hyperswarm({ bootstrap: [{ host: '127.0.0.1', port: Number(bootstrapPort) }] })

swarm.on('connection', (socket) => {
  socket.on('error', () => {})
  const remoteKey = hex(socket.remotePublicKey)
  out({ connection: remoteKey })
  const mux = Protomux.from(socket)
  // Notified for pearirc/room/v1 opens with any id; the channel must be created (and opened) before this returns,
  // or protomux rejects the remote's open.
  mux.pair({ protocol: PROTOCOL }, (id) => {
    out({ offered: hex(id), remoteKey })
    // Only the room this peer came for is answered; any other stays unanswered (protomux rejects it).
    if (hex(id) !== roomHex) return
    const channel = mux.createChannel({
      protocol: PROTOCOL,
      id,
      handshake: c.raw,
      messages: [{ encoding: c.raw, onmessage: (bytes) => onWriters(bytes, socket) }],
      onopen: (handshake) => out({ opened: hex(id), hello: hex(handshake) }),
      onclose: () => out({ closed: hex(id), remoteKey })
    })
    if (channel === null) return out({ error: 'channel ' + hex(id) + ' already open on this connection' })
    channel.open(hello)
  })
})

function onWriters (bytes, socket) {
  let keys
  try {
    keys = c.decode(writersEncoding, bytes)
  } catch (err) {
    return fail(err)
  }
  out({ writers: keys.map(hex) })
  for (const key of keys) {
    if (b4a.equals(key, ownWriter)) continue // our hello's key, echoed back: there is no log behind it
    replicateWriter(key, socket).catch(fail)
  }
}

async function replicateWriter (key, socket) {
  const id = hex(key)
  let core = cores.get(id)
  const fresh = !core
  if (fresh) {
    core = new Hypercore(path.join(storage, id), key)
    cores.set(id, core)
  }
  // Hypercore attaches to the connection's Protomux (the one Protomux.from(socket) made above).
  core.replicate(socket)
  if (!fresh) return
  await core.ready()
  // Wait for the gateway's hypercore/alpha channel for this core before asking for its length.
  if (core.peers.length === 0) await withTimeout(new Promise((resolve) => core.once('peer-add', resolve)), 'no peer for ' + id)
  await withTimeout(core.update({ wait: true }), 'update of ' + id)
  await printWriter(core)
  // Lines written later: hypercore follows the gateway's length (eager upgrades) and appends; print the log again.
  core.on('append', () => printWriter(core).catch(fail))
}

async function printWriter (core) {
  const length = core.length
  const blocks = []
  for (let i = 0; i < length; i++) blocks.push(hex(await core.get(i, { timeout: TIMEOUT })))
  out({ writer: hex(core.key), length, blocks })
}

function withTimeout (promise, what) {
  let timer
  const timeout = new Promise((resolve, reject) => {
    timer = setTimeout(() => reject(new Error('timed out: ' + what)), TIMEOUT)
  })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}

let stopping = false
async function stop () {
  if (stopping) return
  stopping = true
  try {
    await swarm.destroy()
    for (const core of cores.values()) await core.close()
  } catch (err) {
    fail(err)
  }
  fs.rmSync(storage, { recursive: true, force: true })
  process.exit(0)
}

process.stdin.on('data', () => {})
process.stdin.on('end', stop)
process.stdin.on('close', stop)
process.on('SIGTERM', stop)
process.on('SIGINT', stop)
process.on('unhandledRejection', fail)

const discovery = swarm.join(b4a.from(discoveryHex, 'hex'), { server: true, client: true })
discovery.flushed().then(() => out({ joined: discoveryHex, publicKey: hex(swarm.keyPair.publicKey) }), fail)
