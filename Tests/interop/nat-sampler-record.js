// nat-sampler-record.js — records what the reference nat-sampler (as hyperdht 6.33 / dht-rpc 6.26 use it) answers
// to four scenarios; DHTNATSamplerTests embeds the output. Run: NODE_PATH=<reference tree>/node_modules node nat-sampler-record.js
const NatSampler = require('nat-sampler')
let seed = 7
function rnd(n) { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed % n }
const scenarios = {
  consistent: Array.from({length: 20}, () => ['1.2.3.4', 5000]),
  randomPorts: Array.from({length: 20}, (_, i) => ['1.2.3.4', 1000 + i]),
  mixed: Array.from({length: 60}, () => [['1.2.3.4','5.6.7.8','9.9.9.9'][rnd(3)], [5000, 5001][rnd(2)]]),
  mostlyOne: Array.from({length: 80}, () => rnd(10) < 8 ? ['1.2.3.4', 5000] : ['1.2.3.4', 6000 + rnd(3)])
}
const out = {}
for (const [name, samples] of Object.entries(scenarios)) {
  const s = new NatSampler()
  out[name] = samples.map(([h, p]) => { const hits = s.add(h, p); return [h, p, hits, s.host, s.port, s.size] })
}
console.log(JSON.stringify(out))
