import CompactEncoding
import Logging
import NIOCore
import Sodium

/// A pairing made at a blind relay: the relay's stream for us (its id, where the relay is and the socket our
/// connection to it runs on), and that connection, kept open as long as the relayed stream runs.
struct BlindRelayLink {
    let relay: HyperDHTConnection
    let remoteID: UInt32
    let socket: UDXSocket
    let address: SocketAddress
    let endpoint: IPv4Endpoint

    func close() { relay.connection.disconnect() }
}

extension DHTNode {
    /// How long a pairing may take (hyperdht's relay timeout).
    static let relayPairingTimeout = TimeAmount.seconds(15)

    /// blind-relay's `Client.pair` as hyperdht's `relayConnection` uses it: connects to the relay by its key (a
    /// connection of its own, under a fresh key pair whose public key names the channel), asks to be paired under
    /// `token` for the UDX stream `streamID`, and waits for the relay's answer naming its stream for us. Fails with
    /// `relayAborted` when the relay cannot be reached, closes, or does not pair us within `timeout`, or when
    /// `cancelled` completes first (the other path won: the connection to the relay closes, and the relay forgets
    /// the request).
    func pairThroughRelay(
        _ relayKey: [UInt8], isInitiator: Bool, token: [UInt8], streamID: UInt32, logger: Logger,
        timeout: TimeAmount = DHTNode.relayPairingTimeout, cancelled: EventLoopFuture<Void>? = nil
    ) -> EventLoopFuture<BlindRelayLink> {
        let loop = eventLoop
        let promise = loop.makePromise(of: BlindRelayLink.self)
        let deadline = loop.scheduleTask(in: timeout) { promise.fail(HyperDHTConnectError.relayAborted) }
        cancelled?.whenComplete { _ in promise.fail(HyperDHTConnectError.relayAborted) }
        promise.futureResult.whenComplete { _ in deadline.cancel() }
        let keyPair = Ed25519.randomKeyPair()
        connect(to: relayKey, keyPair: keyPair, logger: logger).whenComplete { result in
            guard case .success(let relay) = result else {
                logger.debug("relay: could not reach the relay", metadata: ["error": "\(result)"])
                return promise.fail(HyperDHTConnectError.relayAborted)
            }
            promise.futureResult.whenFailure { _ in relay.connection.disconnect() }
            let connection = relay.connection
            guard let channel = connection.channel as? UDXStreamChannel, let socket = channel.stream.socket,
                let address = channel.stream.remoteAddress
            else { return promise.fail(HyperDHTConnectError.relayAborted) }
            let id = keyPair.publicKey
            connection.open(protocol: BlindRelayProtocol.name, id: id, handshake: [])
            connection.send(
                protocol: BlindRelayProtocol.name, id: id, type: BlindRelayProtocol.pairMessage,
                message: BlindRelayPair(isInitiator: isInitiator, token: token, id: streamID).compactEncoded())
            Task {
                for await event in connection.events {
                    guard case .message(let name, let channel, let type, let message) = event,
                        name == BlindRelayProtocol.name, channel == id, type == BlindRelayProtocol.pairMessage,
                        let answer = try? BlindRelayPair(compactEncoded: message), answer.token == token,
                        answer.isInitiator == isInitiator
                    else { continue }
                    loop.execute {
                        promise.succeed(
                            BlindRelayLink(
                                relay: relay, remoteID: answer.id, socket: socket, address: address,
                                endpoint: relay.remoteAddress))
                    }
                    return
                }
                loop.execute { promise.fail(HyperDHTConnectError.relayAborted) }
            }
        }
        return promise.futureResult
    }
}
