import CompactEncoding

/// How a dht-rpc node learns its public address (`nat-sampler` 1.0): every reply tells it the address it was seen
/// at (`to`); the last 16 samples vote. When enough agree on host and port (all of them below 4 samples, all but one
/// below 8, all but two below 12, else all but three), that is the address; when only the host is consistent, the
/// node is behind a NAT that changes ports (the port reads 0); else nothing is known yet.
///
/// The reference's ring, quirks included: a sample's hits are counted by finding an equal sample among the last
/// four of its kind (the same record then sits in the ring more than once), and an evicted entry takes one hit from
/// its record. Records are kept by number in a pool, so the sampler is a plain value; a record no longer in the ring
/// nor the current best is dropped (at most 34 exist).
public struct DHTNATSampler: Sendable {
    private struct Record: Sendable {
        let host: UInt32
        let port: UInt16
        var hits = 1
    }

    public private(set) var host: UInt32?
    public private(set) var port: UInt16 = 0
    public private(set) var size = 0
    private var records: [Int: Record] = [:]
    private var nextRecord = 0
    private var best: Int?
    private var bestHost: Int?
    private var threshold = 0
    private var top = 0
    private var ring: [Int] = []

    public init() {}

    /// The address as known: host and port, host with port 0 (ports vary), or nil.
    public var address: IPv4Endpoint? { host.map { IPv4Endpoint(address: $0, port: port) } }

    /// Adds one observation; returns how many recent samples agree with it on host and port.
    @discardableResult
    public mutating func add(_ observed: IPv4Endpoint) -> Int {
        let a = bump(host: observed.address, port: observed.port, offset: 2)
        let b = bump(host: observed.address, port: 0, offset: 1)
        if ring.count < 32 {
            size += 1
            threshold = size - (size < 4 ? 0 : size < 8 ? 1 : size < 12 ? 2 : 3)
            ring.append(a)
            ring.append(b)
            top += 2
        } else {
            if top == 32 { top = 0 }
            let oldA = ring[top]
            ring[top] = a
            top += 1
            records[oldA]?.hits -= 1
            let oldB = ring[top]
            ring[top] = b
            top += 1
            records[oldB]?.hits -= 1
            forgetUnreferenced(oldA)
            forgetUnreferenced(oldB)
        }
        let previousBest = best, previousBestHost = bestHost
        if best.map({ hits($0) < hits(a) }) ?? true { best = a }
        if bestHost.map({ hits($0) < hits(b) }) ?? true { bestHost = b }
        if let best, let record = records[best], record.hits >= threshold {
            host = record.host
            port = record.port
        } else if let bestHost, let record = records[bestHost], record.hits >= threshold {
            host = record.host
            port = 0
        } else {
            host = nil
            port = 0
        }
        if let previousBest { forgetUnreferenced(previousBest) }
        if let previousBestHost { forgetUnreferenced(previousBestHost) }
        return hits(a)
    }

    private func hits(_ record: Int) -> Int { records[record]?.hits ?? 0 }

    /// The record equal to (host, port) among the last four of its kind, with one more hit; else a new one.
    private mutating func bump(host: UInt32, port: UInt16, offset: Int) -> Int {
        for step in 0..<4 {
            let index = (top - offset - 2 * step) & 31
            if index >= ring.count { break }
            let candidate = ring[index]
            if let record = records[candidate], record.port == port, record.host == host {
                records[candidate]!.hits += 1
                return candidate
            }
        }
        let number = nextRecord
        nextRecord += 1
        records[number] = Record(host: host, port: port)
        return number
    }

    /// How many records are kept (bounded: the ring's 32 entries and the two bests).
    var recordCount: Int { records.count }

    private mutating func forgetUnreferenced(_ record: Int) {
        guard record != best, record != bestHost, !ring.contains(record) else { return }
        records[record] = nil
    }
}
