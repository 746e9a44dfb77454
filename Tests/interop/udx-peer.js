'use strict'
// udx-peer.js — a small udx-native peer driven over stdin/stdout by the Swift interop tests.
//
//   NODE_PATH=<reference tree>/node_modules node udx-peer.js [--id N] [--ttl SECONDS]
//
// 1. Binds a UDX socket to 127.0.0.1:0, creates a stream with local id N (default 1) and prints
//      {"port": <bound port>, "id": N}
// 2. Reads ONE JSON line from stdin: {"port": P, "id": R, "mode": "echo"|"send"|"sink", "bytes": B}
//    and connects the stream to stream id R at 127.0.0.1:P (the host is never taken from input).
//      echo: writes every received chunk back, ends when the remote ends, answers every
//            unordered message ('message' event) by sending the same bytes back (trySend).
//      send: writes B bytes of byte[i] = (i * 31 + (i >> 8)) & 0xff, then ends; counts what it receives.
//      sink: counts what it receives, ends when the remote ends.
//    Once connected it prints {"connected": true}.
// 3. When the stream closes (or errors) prints
//      {"received": n, "sha256": "<hex>", "error": null|"message", "errorCode": null|"ETIMEDOUT"|..., "messages": m,
//       "ms": <milliseconds from connect to close, null if never connected>, "stats": {...}}
//    and exits 0 (1 on error). After --ttl seconds (default 60) it prints the final line with
//    "error": "ttl" and exits 1.

const crypto = require('crypto')
const UDX = require('udx-native')

const HOST = '127.0.0.1'

function parseArgs (argv) {
  const opts = { id: 1, ttl: 60 }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    const v = argv[i + 1]
    if (a === '--id') { opts.id = Number(v); i++ } else if (a === '--ttl') { opts.ttl = Number(v); i++ } else {
      process.stderr.write(`udx-peer: unknown argument ${a}\n`)
      process.exit(2)
    }
  }
  if (!Number.isInteger(opts.id) || opts.id < 0 || opts.id > 0xffffffff) {
    process.stderr.write('udx-peer: --id must be an unsigned 32-bit integer\n')
    process.exit(2)
  }
  if (!(opts.ttl > 0)) {
    process.stderr.write('udx-peer: --ttl must be a positive number of seconds\n')
    process.exit(2)
  }
  return opts
}

const opts = parseArgs(process.argv.slice(2))

const udx = new UDX()
const socket = udx.createSocket()
socket.bind(0, HOST)
const stream = udx.createStream(opts.id)

const hash = crypto.createHash('sha256')
let received = 0
let messages = 0
let finished = false
let firstError = null
let connectedAt = 0

stream.on('data', (chunk) => {
  received += chunk.byteLength
  hash.update(chunk)
})
stream.on('error', (err) => {
  if (firstError === null) firstError = err
})
stream.on('close', () => {
  finish(firstError ? (firstError.message || String(firstError)) : null, firstError ? firstError.code : null)
})

const ttlTimer = setTimeout(() => finish('ttl'), opts.ttl * 1000)

process.on('SIGTERM', () => finish('SIGTERM'))
process.on('SIGINT', () => finish('SIGINT'))

writeLine({ port: socket.address().port, id: opts.id })

readFirstLine((err, line) => {
  if (finished) return
  if (err) return finish(err.message)

  let req
  try {
    req = JSON.parse(line)
  } catch (e) {
    return finish('bad stdin line: ' + e.message)
  }

  const port = req.port
  const remoteId = req.id
  const mode = req.mode
  const bytes = req.bytes === undefined ? 0 : req.bytes

  if (!Number.isInteger(port) || port < 1 || port > 65535) return finish('bad port')
  if (!Number.isInteger(remoteId) || remoteId < 0 || remoteId > 0xffffffff) return finish('bad id')
  if (mode !== 'echo' && mode !== 'send' && mode !== 'sink') return finish('bad mode')
  if (!Number.isInteger(bytes) || bytes < 0) return finish('bad bytes')

  try {
    stream.connect(socket, remoteId, port, HOST)
    connectedAt = Date.now()
  } catch (e) {
    return finish('connect: ' + e.message)
  }
  // Tells the driver that packets for our stream are now taken (udx-native drops them before connect).
  process.stdout.write(JSON.stringify({ connected: true }) + '\n')

  stream.on('message', (buf) => {
    messages++
    if (mode === 'echo') stream.trySend(Buffer.from(buf))
  })

  if (mode === 'echo') {
    stream.on('data', (chunk) => { stream.write(chunk) })
    stream.on('end', () => { stream.end() })
  } else if (mode === 'sink') {
    stream.on('end', () => { stream.end() })
  } else {
    sendPattern(bytes)
  }
})

function pattern (offset, length) {
  const buf = Buffer.allocUnsafe(length)
  for (let j = 0; j < length; j++) {
    const i = offset + j
    buf[j] = (i * 31 + Math.floor(i / 256)) & 0xff
  }
  return buf
}

function sendPattern (total) {
  const CHUNK = 65536
  let offset = 0
  const pump = () => {
    while (offset < total) {
      const n = Math.min(CHUNK, total - offset)
      const ok = stream.write(pattern(offset, n))
      offset += n
      if (!ok) {
        stream.once('drain', pump)
        return
      }
    }
    stream.end()
  }
  pump()
}

function collectStats () {
  const stats = {}
  const fields = ['mtu', 'rtt', 'cwnd', 'inflight', 'rtoCount', 'retransmits', 'fastRecoveries',
    'bytesTransmitted', 'packetsTransmitted', 'bytesReceived', 'packetsReceived']
  for (const f of fields) {
    try {
      const v = stream[f]
      if (Number.isSafeInteger(v)) stats[f] = v
    } catch {}
  }
  try {
    // libudx reports 2^64-1 when the kernel counter is unavailable: leave it out then
    const d = socket.packetsDroppedByKernel
    if (Number.isSafeInteger(d)) stats.socketPacketsDroppedByKernel = d
  } catch {}
  return stats
}

function finish (error, code = null) {
  if (finished) return
  finished = true
  clearTimeout(ttlTimer)
  const line = {
    received,
    sha256: hash.digest('hex'),
    error,
    errorCode: typeof code === 'string' ? code : null,
    messages,
    ms: connectedAt ? Date.now() - connectedAt : null,
    stats: collectStats()
  }
  const status = error === null ? 0 : 1
  process.stdout.write(JSON.stringify(line) + '\n', () => process.exit(status))
  // don't wait forever for a pipe nobody reads
  setTimeout(() => process.exit(status), 2000).unref()
  try { stream.destroy() } catch {}
  try { socket.close() } catch {}
}

function writeLine (obj) {
  process.stdout.write(JSON.stringify(obj) + '\n')
}

function readFirstLine (cb) {
  let buf = ''
  let done = false
  const onData = (data) => {
    buf += data
    const nl = buf.indexOf('\n')
    if (nl === -1) return
    done = true
    process.stdin.off('data', onData)
    process.stdin.off('end', onEnd)
    process.stdin.pause()
    cb(null, buf.slice(0, nl))
  }
  const onEnd = () => {
    if (done) return
    done = true
    if (buf.trim().length > 0) cb(null, buf)
    else cb(new Error('stdin closed before the connect line'))
  }
  process.stdin.setEncoding('utf8')
  process.stdin.on('data', onData)
  process.stdin.on('end', onEnd)
}
