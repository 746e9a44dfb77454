'use strict'
// udx-secret-peer.js — the Node side of the live secret-stream-over-UDX interop test: a udx-native stream wrapped in
// @hyperswarm/secret-stream (responder, Noise XX) with protomux on top, as a Hyperswarm connection is. It opens the
// protomux channel "pear/echo" (id 07, raw handshake) and sends every raw message of type 0 back; every unordered
// secret-stream datagram (a UDX MESSAGE packet) it receives goes back prefixed with "echo:".
//
//   NODE_PATH=<reference tree>/node_modules node udx-secret-peer.js [--id N] [--ttl SECONDS]
//
// 1. Prints {"port": P, "id": N, "publicKey": "<hex>"}.
// 2. Reads {"port": Q, "id": R} from stdin, connects the stream to R at 127.0.0.1:Q, and prints {"connected": true}.
// 3. Prints {"opened": "<hex of the peer's channel handshake>"} when the channel opens, and
//    {"closed": true, "echoed": n, "datagrams": d, "remotePublicKey": "<hex>", "error": null|"..."} when the stream
//    closes; exits.

const UDX = require('udx-native')
const SecretStream = require('@hyperswarm/secret-stream')
const Protomux = require('protomux')
const c = require('compact-encoding')

const HOST = '127.0.0.1'
let id = 1
let ttl = 60
for (let i = 2; i < process.argv.length; i++) {
  if (process.argv[i] === '--id') id = Number(process.argv[++i])
  else if (process.argv[i] === '--ttl') ttl = Number(process.argv[++i])
  else { process.stderr.write('udx-secret-peer: unknown argument ' + process.argv[i] + '\n'); process.exit(2) }
}

const out = (obj) => process.stdout.write(JSON.stringify(obj) + '\n')
const udx = new UDX()
const socket = udx.createSocket()
socket.bind(0, HOST)
const raw = udx.createStream(id)
const keyPair = SecretStream.keyPair()
out({ port: socket.address().port, id, publicKey: keyPair.publicKey.toString('hex') })

let echoed = 0
let datagrams = 0
let finished = false
function finish (error) {
  if (finished) return
  finished = true
  out({ closed: true, echoed, datagrams, remotePublicKey: stream && stream.remotePublicKey ? stream.remotePublicKey.toString('hex') : null, error: error ? String(error.message || error) : null })
  process.exit(error ? 1 : 0)
}
setTimeout(() => finish(new Error('ttl')), ttl * 1000).unref()

let stream = null
let input = ''
process.stdin.on('data', (data) => {
  input += data
  const newline = input.indexOf('\n')
  if (newline < 0 || stream) return
  const request = JSON.parse(input.slice(0, newline))
  raw.connect(socket, request.id, request.port, HOST)
  out({ connected: true })
  stream = new SecretStream(false, raw, { keyPair })
  const mux = new Protomux(stream)
  const channel = mux.createChannel({
    protocol: 'pear/echo',
    id: Buffer.from([7]),
    handshake: c.raw,
    onopen (handshake) { out({ opened: Buffer.from(handshake).toString('hex') }) }
  })
  const message = channel.addMessage({
    encoding: c.raw,
    onmessage (bytes) { echoed++; message.send(bytes) }
  })
  channel.open(Buffer.from('node says hi'))
  stream.on('message', (plain) => { datagrams++; stream.send(Buffer.concat([Buffer.from('echo:'), plain])) })
  stream.on('error', finish)
  stream.on('end', () => stream.end())
  // Exit once the UDX stream itself is done (both ENDs acked): secret-stream's own 'close' can come before our END
  // packet has left, and exiting then would leave the Swift side waiting for it.
  raw.on('close', () => finish(null))
})
