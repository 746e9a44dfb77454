import Sodium
import Synchronization

/// Two `PeerMux` endpoints joined back to back inside one process: what one side sends the other receives, in
/// order, through its event stream. Tests and benchmarks use it to run several gateways without sockets.
///
/// It keeps protomux's rules for this side's channels, so code that breaks them fails here as it would on a real
/// connection: a message on a channel this side has not opened goes nowhere, a second open of an open channel is
/// ignored, and a channel closed by either side (or refused by the peer) is closed on both.
public enum InMemoryPeerLink {
    public final class Endpoint: PeerMux {
        public let remotePublicKey: [UInt8]
        public let handshakeHash: [UInt8]
        public let isInitiator: Bool
        public let label: String
        public let events: AsyncStream<PeerEvent>
        let continuation: AsyncStream<PeerEvent>.Continuation
        let peer = Mutex<Endpoint?>(nil)
        let isClosed = Mutex(false)

        struct ChannelKey: Hashable {
            let protocolName: String
            let id: [UInt8]
        }

        /// Channels this side has opened and nobody has closed since.
        let openChannels = Mutex(Set<ChannelKey>())

        init(remotePublicKey: [UInt8], handshakeHash: [UInt8], isInitiator: Bool, label: String) {
            self.remotePublicKey = remotePublicKey
            self.handshakeHash = handshakeHash
            self.isInitiator = isInitiator
            self.label = label
            (events, continuation) = AsyncStream.makeStream()
        }

        private func deliver(_ event: PeerEvent) {
            guard !isClosed.withLock({ $0 }), let peer = peer.withLock({ $0 }) else { return }
            if case .closed(let name, let id) = event {
                _ = peer.openChannels.withLock { $0.remove(ChannelKey(protocolName: name, id: id)) }
            }
            peer.continuation.yield(event)
        }

        public func open(protocol name: String, id: [UInt8], handshake: [UInt8]) {
            guard openChannels.withLock({ $0.insert(ChannelKey(protocolName: name, id: id)).inserted }) else { return }
            deliver(.opened(protocol: name, id: id, handshake: handshake))
        }

        public func send(protocol name: String, id: [UInt8], type: UInt64, message: [UInt8]) {
            guard openChannels.withLock({ $0.contains(ChannelKey(protocolName: name, id: id)) }) else { return }
            deliver(.message(protocol: name, id: id, type: type, message: message))
        }

        public func close(protocol name: String, id: [UInt8]) {
            guard openChannels.withLock({ $0.remove(ChannelKey(protocolName: name, id: id)) != nil }) else { return }
            deliver(.closed(protocol: name, id: id))
        }

        /// As protomux: the opener sees its channel closed.
        public func reject(protocol name: String, id: [UInt8]) {
            deliver(.closed(protocol: name, id: id))
        }

        /// Everything sent was delivered already (delivery is synchronous), so a clean end is a disconnect.
        public func end() {
            disconnect()
        }

        public func disconnect() {
            guard !isClosed.withLock({ closed in defer { closed = true }; return closed }) else { return }
            let other = peer.withLock { $0 }
            continuation.yield(.disconnected)
            continuation.finish()
            other?.disconnect()
        }
    }

    /// A connected pair: `initiator` belongs to the gateway with `initiatorKey` and talks to `responderKey`.
    public static func pair(initiatorKey: [UInt8], responderKey: [UInt8]) -> (initiator: Endpoint, responder: Endpoint) {
        let hash = RandomBytes.generate(count: 64)
        let a = Endpoint(remotePublicKey: responderKey, handshakeHash: hash, isInitiator: true, label: "memory:initiator")
        let b = Endpoint(remotePublicKey: initiatorKey, handshakeHash: hash, isInitiator: false, label: "memory:responder")
        a.peer.withLock { $0 = b }
        b.peer.withLock { $0 = a }
        return (a, b)
    }
}
