// routing-table-record.js — records what the reference kademlia-routing-table (as dht-rpc 6.26 uses it) does with
// 300 nodes: whether each add was taken, the table's size, and the closest 20 to ten targets. Ids are SHA-256 of
// "self", "node<i>" and "target<j>". DHTRoutingTableTests embeds the output.
// Run: NODE_PATH=<reference tree>/node_modules node routing-table-record.js
const RoutingTable = require('kademlia-routing-table')
const crypto = require('crypto')
const id = (s) => crypto.createHash('sha256').update(s).digest()
const table = new RoutingTable(id('self'), { k: 20 })
const added = []
for (let i = 0; i < 300; i++) added.push(table.add({ id: id('node' + i), index: i }))
const closest = []
for (let j = 0; j < 10; j++) closest.push(table.closest(id('target' + j)).map((n) => n.index))
const size = table.size
const removed = [0, 5, 17].map((i) => table.remove(id('node' + i)))
console.log(JSON.stringify({ added, size, closest, removed, sizeAfter: table.size, ownRow: table.closest(id('self'), 5).map((n) => n.index) }))
