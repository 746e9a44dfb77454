import CompactEncoding
import NIOCore

/// hyperdht's socket pool (`lib/socket-pool.js`), as far as hole punching needs it: each connection attempt that
/// punches gets sockets of its own, bound next to the node's two, so that the NAT mapping it opens and the one the
/// other side learns about are the same. A one-byte datagram on such a socket is a hole-punch probe and goes to
/// `onProbe`; anything longer is a dht-rpc message and goes to the node as if it came on its own sockets (the
/// replies to the requests sent from the socket: NAT samples and holepunch rounds). UDX packets of the node's streams
/// go to the streams, whichever socket they come on.
extension DHTNode {
    /// One punching socket, by the number requests name it with.
    struct PunchingSocket {
        let number: Int
        let socket: UDXSocket
        var requestSocket: DHTRequestTable.Socket { .punching(number) }
    }

    /// Binds a punching socket next to the node's own (same host, any port). Its probes go to the handler set for
    /// it with `onProbe` (dropped until then: a server binds one ahead, to answer handshakes from at once).
    func bindPunchingSocket() -> EventLoopFuture<PunchingSocket> {
        eventLoop.preconditionInEventLoop()
        return udx.bind(host: configuration.host, port: 0).map { socket in
            let number = self.nextPunchingSocket
            self.nextPunchingSocket += 1
            self.punchingSockets[number] = socket
            socket.onMessage = { [weak self, weak socket] buffer, address in
                guard let self, let socket else { return }
                if buffer.readableBytes > 1 {
                    received(buffer, from: address, on: socket)
                } else if buffer.readableBytes == 1, let from = IPv4Endpoint(address) {
                    probeHandlers[number]?(socket, from)
                }
            }
            return PunchingSocket(number: number, socket: socket)
        }
    }

    /// Who takes the probes arriving on a punching socket.
    func onProbe(_ punching: PunchingSocket, _ handler: ((UDXSocket, IPv4Endpoint) -> Void)?) {
        probeHandlers[punching.number] = handler
    }

    /// Closes a punching socket, or, when a stream was connected on it, keeps it until `inUseUntil` completes.
    func releasePunchingSocket(_ punching: PunchingSocket, inUseUntil: EventLoopFuture<Void>? = nil) {
        eventLoop.preconditionInEventLoop()
        probeHandlers[punching.number] = nil
        let close = { [weak self] in
            guard let self, punchingSockets.removeValue(forKey: punching.number) != nil else { return }
            punching.socket.onMessage = nil
            _ = punching.socket.close()
        }
        if let inUseUntil {
            inUseUntil.whenComplete { _ in close() }
        } else {
            close()
        }
    }

    /// Pings `node` from a punching socket: where that node saw the socket, for its NAT classification.
    func ping(_ node: IPv4Endpoint, from punching: PunchingSocket) -> EventLoopFuture<(DHTResponse, IPv4Endpoint)> {
        requestWithSource(DHTRequest(tid: 0, to: node, isInternal: true, command: 0), to: node, from: punching.requestSocket)
    }

    /// The nodes a new punching socket asks where they see it (hyperdht's `Nat.autoSample`): the most recently seen
    /// first, skipping the five most recent when eight or more are known, at most `count`, none in `visited`.
    func natSampleCandidates(count: Int, visited: Set<IPv4Endpoint>) -> [IPv4Endpoint] {
        let latestFirst = table.allNodes.sorted { $0.seen > $1.seen }.map(\.endpoint)
        return Array(latestFirst.dropFirst(latestFirst.count >= 8 ? 5 : 0).filter { !visited.contains($0) }.prefix(count))
    }
}
