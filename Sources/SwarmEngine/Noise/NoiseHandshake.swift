import Sodium

/// A Noise handshake (XX or IK) exactly as Holepunch's `noise-handshake` 4.1 with `noise-curve-ed` 2.0 runs it:
/// Ed25519 static and ephemeral key pairs, DH = `crypto_scalarmult_ed25519_noclamp` of the clamped seed scalar,
/// BLAKE2b-512, ChaCha20-Poly1305. A pure state machine: `send` and `receive` alternate as the pattern says, and
/// after the last message `result` holds the transport keys. No I/O and no hidden randomness: the ephemeral key
/// pair can be injected (tests replaying recorded handshakes), otherwise it is drawn when the first `e` is written.
/// Any error leaves the handshake failed: every later call throws `NoiseError.failed`.
public struct NoiseHandshake: Sendable {
    /// The longest handshake message Noise allows (the reference throws above it).
    public static let maximumMessageLength = 65535

    public enum Pattern: String, Sendable {
        /// Mutual authentication with both statics sent encrypted; what secret-stream runs over a raw stream.
        case xx = "XX"
        /// The initiator knows the responder's static key beforehand; what HyperDHT connects run.
        case ik = "IK"
    }

    /// What a finished handshake yields.
    public struct Result: Sendable {
        public let transmitKey: [UInt8]
        public let receiveKey: [UInt8]
        public let handshakeHash: [UInt8]
        public let remoteStaticKey: [UInt8]

        public init(transmitKey: [UInt8], receiveKey: [UInt8], handshakeHash: [UInt8], remoteStaticKey: [UInt8]) {
            self.transmitKey = transmitKey
            self.receiveKey = receiveKey
            self.handshakeHash = handshakeHash
            self.remoteStaticKey = remoteStaticKey
        }
    }

    enum Token { case e, s, ee, es, se, ss }

    public let pattern: Pattern
    public let isInitiator: Bool
    private let staticKeyPair: Ed25519.KeyPair
    private var ephemeralKeyPair: Ed25519.KeyPair?
    private var remoteStatic: [UInt8]?
    private var remoteEphemeral: [UInt8]?
    private var symmetric: NoiseSymmetricState
    private var messages: [[Token]]
    private var position = 0
    private var failed = false
    public private(set) var result: Result?

    /// - Parameters:
    ///   - remoteStaticKey: the responder's key, required for an IK initiator.
    ///   - ephemeralKeyPair: for tests replaying recorded handshakes; a random one is drawn when nil.
    public init(
        pattern: Pattern, isInitiator: Bool, staticKeyPair: Ed25519.KeyPair, prologue: [UInt8] = [],
        remoteStaticKey: [UInt8]? = nil, ephemeralKeyPair: Ed25519.KeyPair? = nil
    ) throws(NoiseError) {
        self.pattern = pattern
        self.isInitiator = isInitiator
        self.staticKeyPair = staticKeyPair
        self.ephemeralKeyPair = ephemeralKeyPair
        self.remoteStatic = remoteStaticKey
        symmetric = NoiseSymmetricState(protocolName: "Noise_\(pattern.rawValue)_Ed25519_ChaChaPoly_BLAKE2b")
        // The prologue is always mixed in, even when empty.
        symmetric.mixHash(prologue)
        switch pattern {
        case .xx:
            messages = [[.e], [.e, .ee, .s, .es], [.s, .se]]
        case .ik:
            // Pre-message "<- s": both sides hash the responder's static key.
            let responderStatic = isInitiator ? remoteStaticKey : staticKeyPair.publicKey
            guard let responderStatic, responderStatic.count == 32 else {
                throw .misconfigured("IK needs the responder's static key")
            }
            symmetric.mixHash(responderStatic)
            messages = [[.e, .es, .s, .ss], [.e, .ee, .se]]
        }
    }

    public var isComplete: Bool { result != nil }

    /// Whether the next message is ours to write.
    public var isOurTurn: Bool {
        guard position < messages.count else { return false }
        return (position % 2 == 0) == isInitiator
    }

    public var handshakeHash: [UInt8] { symmetric.hash }

    /// The remote static key as soon as it is known (IK initiator: from the start; XX initiator: after message 2),
    /// so a caller can refuse an unexpected peer before revealing anything more.
    public var remoteStaticKey: [UInt8]? { remoteStatic }

    /// Writes the next handshake message carrying `payload`.
    public mutating func send(payload: [UInt8] = []) throws(NoiseError) -> [UInt8] {
        guard !failed else { throw .failed }
        do {
            return try writeMessage(payload: payload)
        } catch {
            failed = true
            throw error
        }
    }

    /// Reads the next handshake message; returns its payload.
    public mutating func receive(_ message: [UInt8]) throws(NoiseError) -> [UInt8] {
        guard !failed else { throw .failed }
        do {
            return try readMessage(message)
        } catch {
            failed = true
            throw error
        }
    }

    private mutating func writeMessage(payload: [UInt8]) throws(NoiseError) -> [UInt8] {
        guard isOurTurn else { throw .outOfOrder }
        var out: [UInt8] = []
        for token in messages[position] {
            switch token {
            case .e:
                let pair = ephemeralKeyPair ?? Ed25519.randomKeyPair()
                ephemeralKeyPair = pair
                out += pair.publicKey
                symmetric.mixHash(pair.publicKey)
            case .s:
                out += try symmetric.encryptAndHash(staticKeyPair.publicKey)
            default:
                try mixDH(token)
            }
        }
        out += try symmetric.encryptAndHash(payload)
        guard out.count <= Self.maximumMessageLength else { throw .messageTooLong(out.count) }
        advance()
        return out
    }

    private mutating func readMessage(_ message: [UInt8]) throws(NoiseError) -> [UInt8] {
        guard position < messages.count, !isOurTurn else { throw .outOfOrder }
        guard message.count <= Self.maximumMessageLength else { throw .messageTooLong(message.count) }
        var offset = 0
        func take(_ count: Int) throws(NoiseError) -> [UInt8] {
            guard message.count - offset >= count else { throw .messageTooShort }
            defer { offset += count }
            return Array(message[offset..<(offset + count)])
        }
        for token in messages[position] {
            switch token {
            case .e:
                let key = try take(32)
                remoteEphemeral = key
                symmetric.mixHash(key)
            case .s:
                let encrypted = try take(symmetric.hasKey ? 48 : 32)
                remoteStatic = try symmetric.decryptAndHash(encrypted)
            default:
                try mixDH(token)
            }
        }
        let payload = try symmetric.decryptAndHash(Array(message[offset...]))
        advance()
        return payload
    }

    private mutating func mixDH(_ token: Token) throws(NoiseError) {
        // The first letter names the initiator's key, the second the responder's; each side uses its own secret.
        let localIsEphemeral: Bool, remoteIsEphemeral: Bool
        switch token {
        case .ee: (localIsEphemeral, remoteIsEphemeral) = (true, true)
        case .ss: (localIsEphemeral, remoteIsEphemeral) = (false, false)
        case .es: (localIsEphemeral, remoteIsEphemeral) = isInitiator ? (true, false) : (false, true)
        case .se: (localIsEphemeral, remoteIsEphemeral) = isInitiator ? (false, true) : (true, false)
        default: return
        }
        guard let local = localIsEphemeral ? ephemeralKeyPair : staticKeyPair,
            let remote = remoteIsEphemeral ? remoteEphemeral : remoteStatic
        else { throw .outOfOrder }
        do {
            symmetric.mixKey(try Ed25519.diffieHellman(keyPair: local, remotePublicKey: remote))
        } catch {
            throw .invalidRemoteKey
        }
    }

    private mutating func advance() {
        position += 1
        guard position == messages.count, let remoteStatic else { return }
        let (first, second) = symmetric.split()
        result = Result(
            transmitKey: isInitiator ? first : second, receiveKey: isInitiator ? second : first,
            handshakeHash: symmetric.hash, remoteStaticKey: remoteStatic)
        // The ephemeral secret is no longer needed; releasing it lets SecureBytes wipe it.
        ephemeralKeyPair = nil
        remoteEphemeral = nil
    }
}
