#!/usr/bin/env node
// The Node side of `pear-bench swarm-rooms`: Hyperswarm's join-and-connect timings on a test net of our own nodes.
//   NODE_PATH=<tree>/node_modules node swarm-bench.js <bootstrapPort> <rounds>
// Each round: peer A joins a fresh topic and flushes; then peer B is made (its DHT bootstraps), joins the topic and
// flushes ("joined"), gets its connection to A ("connected"), and A's first bytes ("firstByte"); milliseconds from
// B's creation, as swarm-check.sh measures from a process's start. One JSON line: {"joinedMs":[…],"connectedMs":[…],
// "firstByteMs":[…]}. Only 127.0.0.1 is used.
const Hyperswarm = require('hyperswarm')
const crypto = require('crypto')

const port = Number(process.argv[2]); const rounds = Number(process.argv[3] || 10)
const bootstrap = [{ host: '127.0.0.1', port }]

async function round () {
  const topic = crypto.randomBytes(32)
  const a = new Hyperswarm({ bootstrap })
  a.on('connection', (socket) => { socket.on('error', () => {}); socket.write('x') })
  await a.join(topic, { server: true, client: true }).flushed()
  const t0 = performance.now()
  const b = new Hyperswarm({ bootstrap })
  const times = {}
  const done = new Promise((resolve) => {
    b.on('connection', (socket) => {
      socket.on('error', () => {})
      times.connected = performance.now() - t0
      socket.once('data', () => { times.firstByte = performance.now() - t0; resolve() })
    })
  })
  await b.join(topic, { server: true, client: true }).flushed()
  times.joined = performance.now() - t0
  await Promise.race([done, new Promise((resolve) => setTimeout(resolve, 30000))])
  await a.destroy(); await b.destroy()
  return times
}

async function main () {
  const out = { joinedMs: [], connectedMs: [], firstByteMs: [] }
  for (let i = 0; i < rounds; i++) {
    const t = await round()
    if (t.firstByte === undefined) { console.error('round ' + i + ': no connection within 30 s'); continue }
    out.joinedMs.push(t.joined); out.connectedMs.push(t.connected); out.firstByteMs.push(t.firstByte)
  }
  console.log(JSON.stringify(out))
  process.exit(0)
}
main().catch((err) => { console.error(err); process.exit(1) })
