'use strict'
// dht-peer.js — the Node side of the live HyperDHT interop tests (hyperdht 6.33 from the reference tree).
//
//   NODE_PATH=<reference tree>/node_modules node dht-peer.js testnet [N]   # a Node test net of N (6) persistent nodes
//   NODE_PATH=<reference tree>/node_modules node dht-peer.js client PORT  # a Node client of OUR network at 127.0.0.1:PORT
//
// testnet prints {"bootstrap": P} (its first node, 127.0.0.1:P). Both then read JSON commands, one per line, from
// stdin, with a client DHT node of their own (bootstrapped from the test net, or from our node at PORT):
//   {"announce": "<topic hex>"}  -> {"announced": "<public key hex>"}   (a fresh key pair; waits for the commit)
//   {"lookup": "<topic hex>"}    -> {"found": ["<public key hex>", ...]}
//   {"bench": N}                 -> {"announceMs": [...], "lookupMs": [...]}   (N announces of fresh topics, each
//                                   looked up right after; wall milliseconds of each)
//   {"benchConnect": N}          -> {"connectMs": [...]}  (N times: a fresh server on a second DHT node of the same
//                                   net, then connect to it by key and time until the first echoed byte; with
//                                   "firewalled": true both ends punch)
//   {"listen": true}             -> {"listening": "<public key hex>"}  (a HyperDHT server that echoes what it gets)
//   {"connect": "<key hex>", "say": "text"} -> {"echo": "text"}  (found and handshaken through the DHT, then over the stream)
//   {"listenMux": true}          -> {"listening": "<key hex>"}  (a server whose connections run protomux channel
//                                   "pear/echo" (id 07, handshake "node says hi") and echo each message), and
//                                   {"served": "<client key hex>"} for each connection
//   {"connectMux": "<key hex>", "say": "text"} -> {"echo": "text", "handshake": "<server's channel handshake>"}
//   {"join": "<topic hex>", "say": "text"}  -> {"joined": true} once its announce and lookup are flushed, then
//                                   {"heard": "<what the first Hyperswarm peer said>"}  (a Hyperswarm of this node's
//                                   DHT joins the topic as client and server and says `text` to peers)
//   {"relayServer": true}        -> {"relay": "<key hex>"}  (a blind-relay 1.6 server on a DHT node of its own)
// listenMux and connectMux also take "firewalled": true (on a DHT node of their own that never runs the quick
// firewall check, as hyperdht's "force holepunch" test: both sides then punch; the client also turns off
// localConnection and fastOpen), "noPunch": true (the holepunch hook refuses), and "relayThrough": "<key hex>".
// and exit at the end of stdin. Only 127.0.0.1 is ever used.

const DHT = require('hyperdht')
const RelayServer = require('blind-relay').Server
const Protomux = require('protomux')
const c = require('compact-encoding')

// protomux channel "pear/echo" on a connection; calls back with each message and the peer's open handshake.
function echoChannel (socket, onmessage, onopen) {
  const mux = Protomux.from(socket)
  const channel = mux.createChannel({ protocol: 'pear/echo', id: Buffer.from([7]), handshake: c.raw, onopen })
  const message = channel.addMessage({ encoding: c.raw, onmessage: (bytes) => onmessage(bytes, message) })
  channel.open(Buffer.from('node says hi'))
  return message
}
const createTestnet = require('hyperdht/testnet')

const out = (obj) => process.stdout.write(JSON.stringify(obj) + '\n')
const mode = process.argv[2]

async function main () {
  let testnet = null
  let bootstrap
  if (mode === 'testnet') {
    testnet = await createTestnet(Number(process.argv[3] || 6), { host: '127.0.0.1' })
    bootstrap = testnet.bootstrap
    out({ bootstrap: bootstrap[0].port })
  } else if (mode === 'client') {
    bootstrap = [{ host: '127.0.0.1', port: Number(process.argv[3]) }]
  } else {
    process.stderr.write('dht-peer: mode testnet or client\n')
    process.exit(2)
  }
  const dht = new DHT({ bootstrap, host: '127.0.0.1' })
  await dht.fullyBootstrapped()
  const others = []
  // A node of its own for one command: firewalled ones never run the quick firewall check, so they punch.
  async function ownNode (firewalled) {
    const node = new DHT(firewalled ? { bootstrap, host: '127.0.0.1', ephemeral: true, quickFirewall: false } : { bootstrap, host: '127.0.0.1' })
    others.push(node)
    await node.fullyBootstrapped()
    return node
  }
  function connectionOptions (command, client) {
    const options = {}
    if (command.noPunch) options.holepunch = () => false
    if (command.relayThrough) options.relayThrough = Buffer.from(command.relayThrough, 'hex')
    if (client && command.firewalled) { options.localConnection = false; options.fastOpen = false }
    return options
  }

  let input = ''
  let queue = Promise.resolve()
  process.stdin.on('data', (data) => {
    input += data
    let newline
    while ((newline = input.indexOf('\n')) >= 0) {
      const line = input.slice(0, newline)
      input = input.slice(newline + 1)
      if (line.trim()) queue = queue.then(() => handle(JSON.parse(line)))
    }
  })
  process.stdin.on('end', () => {
    queue.then(async () => {
      for (const node of others) await node.destroy()
      await dht.destroy()
      if (testnet) await testnet.destroy()
      process.exit(0)
    })
  })

  async function handle (command) {
    try {
      if (command.announce) {
        const keyPair = DHT.keyPair()
        await dht.announce(Buffer.from(command.announce, 'hex'), keyPair).finished()
        out({ announced: keyPair.publicKey.toString('hex') })
      } else if (command.bench) {
        const announceMs = []
        const lookupMs = []
        for (let i = 0; i < command.bench; i++) {
          const topic = DHT.hash(Buffer.from('bench/' + i + '/' + Math.random()))
          const keyPair = DHT.keyPair()
          let start = process.hrtime.bigint()
          await dht.announce(topic, keyPair).finished()
          announceMs.push(Number(process.hrtime.bigint() - start) / 1e6)
          start = process.hrtime.bigint()
          for await (const reply of dht.lookup(topic)) { if (reply.peers.length) break }
          lookupMs.push(Number(process.hrtime.bigint() - start) / 1e6)
        }
        out({ announceMs, lookupMs })
      } else if (command.benchConnect) {
        // "firewalled": both ends on nodes that never run the quick firewall check, so every connect punches.
        const other = command.firewalled ? await ownNode(true) : new DHT({ bootstrap, host: '127.0.0.1' })
        const client = command.firewalled ? await ownNode(true) : dht
        if (!command.firewalled) await other.fullyBootstrapped()
        const connectMs = []
        for (let i = 0; i < command.benchConnect; i++) {
          const server = other.createServer((socket) => {
            socket.on('error', () => {})
            socket.on('data', (data) => socket.write(data))
          })
          await server.listen(DHT.keyPair())
          const start = process.hrtime.bigint()
          const socket = client.connect(server.publicKey, command.firewalled ? { localConnection: false } : {})
          socket.on('error', () => {})
          socket.write(Buffer.from('x'))
          await new Promise((resolve) => socket.once('data', resolve))
          connectMs.push(Number(process.hrtime.bigint() - start) / 1e6)
          socket.destroy()
          await server.close()
        }
        if (!command.firewalled) await other.destroy()
        out({ connectMs })
      } else if (command.listen) {
        const server = dht.createServer((socket) => {
          socket.on('data', (data) => socket.write(data))
          socket.on('error', () => {})
        })
        await server.listen(DHT.keyPair())
        out({ listening: server.publicKey.toString('hex') })
      } else if (command.connect) {
        const socket = dht.connect(Buffer.from(command.connect, 'hex'))
        socket.on('error', (err) => out({ error: String(err && err.message || err) }))
        socket.write(command.say)
        const echo = await new Promise((resolve) => socket.once('data', resolve))
        out({ echo: echo.toString() })
        socket.destroy()
      } else if (command.relayServer) {
        const node = await ownNode(false)
        const relay = new RelayServer({ createStream (o) { return node.createRawStream({ ...o, framed: true }) } })
        const server = node.createServer((socket) => {
          socket.on('error', () => {})
          relay.accept(socket, { id: socket.remotePublicKey }).on('error', () => {})
        })
        await server.listen(DHT.keyPair())
        out({ relay: server.publicKey.toString('hex') })
      } else if (command.listenMux) {
        const node = command.firewalled ? await ownNode(true) : dht
        const server = node.createServer(connectionOptions(command, false), (socket) => {
          socket.on('error', () => {})
          out({ served: socket.remotePublicKey.toString('hex') })
          echoChannel(socket, (bytes, message) => message.send(bytes))
        })
        await server.listen(DHT.keyPair())
        out({ listening: server.publicKey.toString('hex') })
      } else if (command.connectMux) {
        const node = command.firewalled ? await ownNode(true) : dht
        const socket = node.connect(Buffer.from(command.connectMux, 'hex'), connectionOptions(command, true))
        socket.on('error', (err) => out({ error: String(err && err.message || err) }))
        let handshake = null
        const echo = await new Promise((resolve) => {
          const message = echoChannel(socket, (bytes) => resolve(bytes), (h) => { handshake = h })
          message.send(Buffer.from(command.say))
        })
        out({ echo: Buffer.from(echo).toString(), handshake: handshake && Buffer.from(handshake).toString() })
        socket.destroy()
      } else if (command.join) {
        const Hyperswarm = require('hyperswarm')
        const swarm = new Hyperswarm({ dht })
        const heard = new Promise((resolve) => {
          swarm.on('connection', (socket) => {
            socket.on('error', () => {})
            socket.write(command.say)
            socket.once('data', (data) => resolve(data.toString()))
          })
        })
        await swarm.join(Buffer.from(command.join, 'hex'), { client: true, server: true }).flushed()
        out({ joined: true })
        out({ heard: await heard })
      } else if (command.lookup) {
        const found = new Set()
        for await (const reply of dht.lookup(Buffer.from(command.lookup, 'hex'))) {
          for (const peer of reply.peers) found.add(peer.publicKey.toString('hex'))
        }
        out({ found: [...found] })
      }
    } catch (err) {
      out({ error: String(err && err.message || err) })
    }
  }
}

setTimeout(() => { out({ error: 'ttl' }); process.exit(1) }, 120000).unref()
main().catch((err) => { out({ error: String(err && err.message || err) }); process.exit(1) })
