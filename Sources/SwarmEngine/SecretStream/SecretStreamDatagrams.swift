import Sodium

/// secret-stream's unordered datagrams (`send`/`trySend` over UDX message packets, `@hyperswarm/secret-stream` 6.9):
/// each datagram is `counter(8) ‖ crypto_secretbox_easy(message, nonce = counter ‖ 16 zero bytes, sendKey)`.
/// The counter starts at a random 8-byte value and is incremented (little-endian, as `sodium_increment`) before
/// every send; the keys are BLAKE2b-256 keyed with the handshake hash over `NS_own ‖ NS_SEND` (send) and
/// `NS_other ‖ NS_SEND` (receive). Datagrams are not ordered, not retransmitted and not replay-checked, as in the
/// reference; a receiver drops what fails to open.
public struct SecretStreamDatagrams: Sendable {
    public enum Failure: Error, Equatable, Sendable {
        /// The counter came back round to its start: no fresh nonce is left.
        case nonceExhausted
        /// Shorter than counter + MAC.
        case tooShort
        /// The envelope failed authentication.
        case authenticationFailed
    }

    public static let counterLength = 8
    public static let overhead = counterLength + SecretBox.macLength

    private let sendKey: SecureBytes
    private let receiveKey: SecureBytes
    private let initialCounter: [UInt8]
    private var counter: [UInt8]

    /// - Parameter initialCounter: 8 bytes, random in production (the default); injectable for replaying
    ///   recorded sessions.
    public init(isInitiator: Bool, handshakeHash: [UInt8], initialCounter: [UInt8]? = nil) {
        let (send, receive) = Self.keys(isInitiator: isInitiator, handshakeHash: handshakeHash)
        sendKey = SecureBytes(send)
        receiveKey = SecureBytes(receive)
        let start = initialCounter.flatMap { $0.count == Self.counterLength ? $0 : nil }
            ?? RandomBytes.generate(count: Self.counterLength)
        self.initialCounter = start
        counter = start
    }

    /// (sendKey, receiveKey) for one side; the initiator's send key is the responder's receive key.
    public static func keys(isInitiator: Bool, handshakeHash: [UInt8]) -> (send: [UInt8], receive: [UInt8]) {
        let ns = SecretStreamSession.namespaces
        let own = isInitiator ? ns[0] : ns[1], other = isInitiator ? ns[1] : ns[0]
        // A 64-byte key and a 32-byte output are always valid BLAKE2b parameters.
        let send = (try? BLAKE2b.hash(own + ns[2], outputLength: 32, key: handshakeHash)) ?? []
        let receive = (try? BLAKE2b.hash(other + ns[2], outputLength: 32, key: handshakeHash)) ?? []
        return (send, receive)
    }

    /// Seals one datagram.
    public mutating func seal(_ message: [UInt8]) throws(Failure) -> [UInt8] {
        Self.increment(&counter)
        guard counter != initialCounter else { throw .nonceExhausted }
        do {
            return counter + (try SecretBox.seal(message, nonce: Self.nonce(counter[...]), key: sendKey))
        } catch {
            throw .authenticationFailed
        }
    }

    /// Opens one datagram from the peer.
    public func open(_ envelope: [UInt8]) throws(Failure) -> [UInt8] {
        guard envelope.count >= Self.overhead else { throw .tooShort }
        do {
            return try SecretBox.open(
                Array(envelope[Self.counterLength...]), nonce: Self.nonce(envelope[..<Self.counterLength]), key: receiveKey)
        } catch {
            throw .authenticationFailed
        }
    }

    static func nonce(_ counter: ArraySlice<UInt8>) -> [UInt8] {
        Array(counter) + [UInt8](repeating: 0, count: SecretBox.nonceLength - counterLength)
    }

    /// `sodium_increment`: add one to the bytes read as a little-endian number, wrapping.
    static func increment(_ bytes: inout [UInt8]) {
        for index in bytes.indices {
            bytes[index] &+= 1
            if bytes[index] != 0 { return }
        }
    }
}
