'use strict'
// udx-bench.js — the Node reference side of `pear-bench udx`: one process, two udx-native streams on 127.0.0.1
// connected to each other, BYTES sent one way in 64 KiB writes (respecting back-pressure), timed until the
// receiver has them all. With --secret the streams are wrapped in @hyperswarm/secret-stream (Noise XX, then
// encrypted frames), as a Hyperswarm connection is. Prints one JSON line:
//   {"mode": "raw"|"secret", "bytes": N, "seconds": S, "cpuUser": s, "cpuSystem": s}
//
//   NODE_PATH=<reference tree>/node_modules node udx-bench.js [--bytes N] [--secret]

const UDX = require('udx-native')
const HOST = '127.0.0.1'

let bytes = 64 * 1024 * 1024
let secret = false
for (let i = 2; i < process.argv.length; i++) {
  if (process.argv[i] === '--bytes') bytes = Number(process.argv[++i])
  else if (process.argv[i] === '--secret') secret = true
  else { process.stderr.write('udx-bench: unknown argument ' + process.argv[i] + '\n'); process.exit(2) }
}

const udx = new UDX()
const socketA = udx.createSocket()
const socketB = udx.createSocket()
socketA.bind(0, HOST)
socketB.bind(0, HOST)
const rawA = udx.createStream(1)
const rawB = udx.createStream(2)
rawA.connect(socketA, 2, socketB.address().port, HOST)
rawB.connect(socketB, 1, socketA.address().port, HOST)

let sender = rawA
let receiver = rawB
if (secret) {
  const SecretStream = require('@hyperswarm/secret-stream')
  sender = new SecretStream(true, rawA)
  receiver = new SecretStream(false, rawB)
}

const chunk = Buffer.alloc(65536, 0xab)
let received = 0
let started = 0
let cpuStart = null

function start () {
  cpuStart = process.cpuUsage()
  started = process.hrtime.bigint()
  let sent = 0
  const pump = () => {
    while (sent < bytes) {
      const n = Math.min(chunk.length, bytes - sent)
      sent += n
      if (!sender.write(n === chunk.length ? chunk : chunk.subarray(0, n))) { sender.once('drain', pump); return }
    }
  }
  pump()
}

receiver.on('data', (data) => {
  received += data.length
  if (received >= bytes) {
    const seconds = Number(process.hrtime.bigint() - started) / 1e9
    const cpu = process.cpuUsage(cpuStart)
    process.stdout.write(JSON.stringify({
      mode: secret ? 'secret' : 'raw', bytes, seconds, cpuUser: cpu.user / 1e6, cpuSystem: cpu.system / 1e6
    }) + '\n', () => process.exit(0))
  }
})
sender.on('error', (e) => { process.stderr.write('udx-bench: ' + e.message + '\n'); process.exit(1) })
receiver.on('error', (e) => { process.stderr.write('udx-bench: ' + e.message + '\n'); process.exit(1) })

if (secret) sender.once('connect', start)
else start()
setTimeout(() => { process.stderr.write('udx-bench: timed out\n'); process.exit(1) }, 120000).unref()
