import Sodium

/// `@hyperswarm/secret-stream` 6.9 as a pure state machine over a reliable byte stream: bytes in, events out, no
/// I/O, no clock, and no randomness it cannot be given (ephemeral key and secretstream header are injectable).
///
/// Everything on the wire is `uint24le(length) ‖ body`. With XX the initiator starts the Noise handshake and each
/// side, once it has its keys, sends a 56-byte header message (`streamId ‖ secretstream header`); started from a
/// finished IK handshake (the HyperDHT path) the header messages come first. After the header every frame is one
/// `crypto_secretstream_xchacha20poly1305` message (tag MESSAGE); an empty one is a keep-alive.
public struct SecretStreamSession: Sendable {
    public enum Event: Equatable, Sendable {
        /// Bytes to write to the transport, in order.
        case write([UInt8])
        /// The handshake finished: the remote's identity is known (its header may still be on the way).
        case established(remotePublicKey: [UInt8], handshakeHash: [UInt8])
        /// A decrypted application message.
        case message([UInt8])
    }

    public typealias Failure = SecretStreamError

    /// `namespace("hyperswarm/secret-stream", 3)`: INITIATOR, RESPONDER, SEND.
    public static let namespaces = HolepunchNamespace.derive("hyperswarm/secret-stream", count: 3)
    /// Default bound on a data frame's body: 16 MiB, i.e. every length a uint24 can carry, as the reference
    /// accepts. Lower it to bound per-connection memory further.
    public static let defaultMaximumFrameLength = 16 * 1024 * 1024
    /// `streamId(32) ‖ secretstream header(24)`.
    public static let headerMessageLength = 32 + SecretStreamParameters.headerLength

    enum Phase: Sendable {
        case handshaking(NoiseHandshake)
        /// Our keys exist; the peer's header message has not arrived yet.
        case awaitingHeader
        case open
        case failed
    }

    public let isInitiator: Bool
    public let maximumFrameLength: Int
    /// Empty frames are keep-alives; with this on they are not delivered (as the reference does when its own
    /// keep-alive is enabled).
    public let dropsKeepAlives: Bool
    /// When set, a peer proving any other static key fails the session before our header is sent (and, for an XX
    /// initiator, before our own static key is revealed).
    public let expectedRemotePublicKey: [UInt8]?
    private var phase: Phase
    private var decoder = SecretStreamFrameDecoder()
    private var sender: SecretStreamSender?
    private var receiver: SecretStreamReceiver?
    private var receiveKey: SecureBytes?
    private var pendingTransmitKey: SecureBytes?
    private let injectedHeader: [UInt8]?
    public private(set) var remotePublicKey: [UInt8]?
    public private(set) var handshakeHash: [UInt8]?

    /// A stream that runs its own XX handshake. `ephemeralKeyPair` and `header` are for replaying recorded
    /// sessions in tests.
    public init(
        isInitiator: Bool, staticKeyPair: Ed25519.KeyPair, expectedRemotePublicKey: [UInt8]? = nil,
        ephemeralKeyPair: Ed25519.KeyPair? = nil, header: [UInt8]? = nil,
        maximumFrameLength: Int = SecretStreamSession.defaultMaximumFrameLength, dropsKeepAlives: Bool = true
    ) throws(NoiseError) {
        self.isInitiator = isInitiator
        self.maximumFrameLength = min(maximumFrameLength, SecretStreamFraming.maximumBodyLength)
        self.dropsKeepAlives = dropsKeepAlives
        self.expectedRemotePublicKey = expectedRemotePublicKey
        injectedHeader = header
        phase = .handshaking(
            try NoiseHandshake(
                pattern: .xx, isInitiator: isInitiator, staticKeyPair: staticKeyPair, ephemeralKeyPair: ephemeralKeyPair))
    }

    /// A stream started from a finished handshake (HyperDHT's IK): no Noise bytes on the stream. Call `start()`
    /// to get the header message.
    public init(
        isInitiator: Bool, handshake: NoiseHandshake.Result, expectedRemotePublicKey: [UInt8]? = nil,
        header: [UInt8]? = nil, maximumFrameLength: Int = SecretStreamSession.defaultMaximumFrameLength,
        dropsKeepAlives: Bool = true
    ) {
        self.isInitiator = isInitiator
        self.maximumFrameLength = min(maximumFrameLength, SecretStreamFraming.maximumBodyLength)
        self.dropsKeepAlives = dropsKeepAlives
        self.expectedRemotePublicKey = expectedRemotePublicKey
        injectedHeader = header
        phase = .awaitingHeader
        remotePublicKey = handshake.remoteStaticKey
        handshakeHash = handshake.handshakeHash
        receiveKey = SecureBytes(handshake.receiveKey)
        pendingTransmitKey = SecureBytes(handshake.transmitKey)
    }

    /// The stream id a side sends: BLAKE2b-256 keyed with the handshake hash over its role's namespace.
    public static func streamID(isInitiator: Bool, handshakeHash: [UInt8]) -> [UInt8] {
        // A 64-byte key and 32-byte output are always valid BLAKE2b parameters.
        (try? BLAKE2b.hash(namespaces[isInitiator ? 0 : 1], outputLength: 32, key: handshakeHash)) ?? []
    }

    /// Whether we can send: our keys exist and our header went out.
    public var isEstablished: Bool { sender != nil && !isFailed }

    /// Whether the peer's header arrived, so its frames are being decrypted.
    public var isOpen: Bool {
        if case .open = phase { return true }
        return false
    }

    public var isFailed: Bool {
        if case .failed = phase { return true }
        return false
    }

    /// What to write first: the initiator's first handshake message (XX) or the header message (finished IK).
    public mutating func start() throws(SecretStreamError) -> [Event] {
        switch phase {
        case .handshaking(var noise) where isInitiator:
            guard noise.isOurTurn else { return [] }
            let message: [UInt8]
            do { message = try noise.send() } catch { throw fail(.handshakeFailed(error)) }
            phase = .handshaking(noise)
            return [.write(try frame(message))]
        case .awaitingHeader where sender == nil:
            guard let key = pendingTransmitKey, let hash = handshakeHash, let remote = remotePublicKey else { return [] }
            pendingTransmitKey = nil
            try checkRemoteKey(remote)
            return [.established(remotePublicKey: remote, handshakeHash: hash), try headerMessage(transmitKey: key)]
        case .failed:
            throw .closed
        default:
            return []
        }
    }

    /// Bytes arrived from the transport. Throws (and stays failed) on anything the peer got wrong.
    public mutating func receive(_ bytes: [UInt8]) throws(SecretStreamError) -> [Event] {
        try bytes.withUnsafeBytes { raw in
            Result { () throws(SecretStreamError) in try receive(raw) }
        }.get()
    }

    /// Bytes arrived from the transport, read in place (a transport passes its receive buffer without a copy).
    public mutating func receive(_ bytes: UnsafeRawBufferPointer) throws(SecretStreamError) -> [Event] {
        if isFailed { return [] }
        decoder.append(bytes)
        var events: [Event] = []
        while true {
            let range: Range<Int>?
            do {
                range = try decoder.next(maximumLength: currentFrameLimit)
            } catch {
                // Before the peer's header only its 56-byte header message may come: anything longer is out of order.
                if case .awaitingHeader = phase { throw fail(.invalidHeader) }
                throw fail(error)
            }
            guard let range else { break }
            events += try process(range)
        }
        return events
    }

    /// The transport ended (EOF). Clean when it ended between frames after the handshake; otherwise an error.
    public mutating func receiveEnd() throws(SecretStreamError) {
        if isFailed { return }
        if decoder.hasPartialFrame { throw fail(.truncatedFrame) }
        guard isOpen else { throw fail(.endedDuringHandshake) }
    }

    /// Encrypts and frames one application message.
    public mutating func send(_ plaintext: [UInt8]) throws(SecretStreamError) -> [UInt8] {
        guard !isFailed else { throw .closed }
        guard sender != nil else { throw .notEstablished }
        let length = plaintext.count + SecretStreamParameters.overhead
        guard length <= maximumFrameLength else { throw .messageTooLarge(plaintext.count) }
        // Encrypt straight behind the length prefix: one allocation, no copy of the ciphertext.
        let prefix = SecretStreamFraming.prefixLength
        return [UInt8](unsafeUninitializedCapacity: prefix + length) { out, count in
            out[0] = UInt8(truncatingIfNeeded: length)
            out[1] = UInt8(truncatingIfNeeded: length >> 8)
            out[2] = UInt8(truncatingIfNeeded: length >> 16)
            let body = UnsafeMutableRawBufferPointer(rebasing: UnsafeMutableRawBufferPointer(out)[prefix...])
            let written = plaintext.withUnsafeBytes { message in sender?.push(message, into: body) ?? 0 }
            count = prefix + written
        }
    }

    /// A keep-alive: an empty encrypted message.
    public mutating func keepAlive() throws(SecretStreamError) -> [UInt8] {
        try send([])
    }

    /// The bound on the next frame: a Noise message, the exact header, or a data frame.
    private var currentFrameLimit: Int {
        switch phase {
        case .handshaking: NoiseHandshake.maximumMessageLength
        case .awaitingHeader: Self.headerMessageLength
        case .open, .failed: maximumFrameLength
        }
    }

    private mutating func process(_ range: Range<Int>) throws(SecretStreamError) -> [Event] {
        switch phase {
        case .handshaking(var noise):
            return try handshake(&noise, message: Array(decoder.buffer[range]))
        case .awaitingHeader:
            let body = decoder.buffer[range]
            guard body.count == Self.headerMessageLength, let hash = handshakeHash, let key = receiveKey,
                ConstantTime.equals(body.prefix(32), Self.streamID(isInitiator: !isInitiator, handshakeHash: hash))
            else { throw fail(.invalidHeader) }
            do {
                receiver = try SecretStreamReceiver(key: key, header: Array(body.suffix(SecretStreamParameters.headerLength)))
            } catch {
                throw fail(.invalidHeader)
            }
            receiveKey = nil
            phase = .open
            return []
        case .open:
            guard range.count >= SecretStreamParameters.overhead, receiver != nil else {
                throw fail(.invalidFrame(length: range.count))
            }
            // Decrypt straight from the receive buffer, without copying the frame out first.
            let body = decoder.buffer[range]
            let opened = body.withUnsafeBytes { raw in
                Result { () throws(SodiumError) in try receiver?.pull(raw) }
            }
            guard case .success(let result?) = opened else { throw fail(.decryptionFailed) }
            if result.message.isEmpty, dropsKeepAlives { return [] }
            return [.message(result.message)]
        case .failed:
            return []
        }
    }

    private mutating func handshake(_ noise: inout NoiseHandshake, message: [UInt8]) throws(SecretStreamError) -> [Event] {
        var events: [Event] = []
        do {
            _ = try noise.receive(message)
            // Refuse an unexpected peer as soon as its key is known, before answering.
            if let remote = noise.remoteStaticKey { try checkRemoteKey(remote) }
            if noise.isOurTurn { events.append(.write(try frame(try noise.send()))) }
        } catch let error as NoiseError {
            throw fail(.handshakeFailed(error))
        } catch let error as SecretStreamError {
            throw fail(error)
        } catch {
            throw fail(.handshakeFailed(.cryptoFailure))
        }
        guard let result = noise.result else {
            phase = .handshaking(noise)
            return events
        }
        remotePublicKey = result.remoteStaticKey
        handshakeHash = result.handshakeHash
        receiveKey = SecureBytes(result.receiveKey)
        phase = .awaitingHeader
        events.append(.established(remotePublicKey: result.remoteStaticKey, handshakeHash: result.handshakeHash))
        events.append(try headerMessage(transmitKey: SecureBytes(result.transmitKey)))
        return events
    }

    private mutating func checkRemoteKey(_ remote: [UInt8]) throws(SecretStreamError) {
        if let expected = expectedRemotePublicKey, !ConstantTime.equals(expected, remote) {
            throw fail(.unexpectedRemoteKey)
        }
    }

    private mutating func headerMessage(transmitKey: SecureBytes) throws(SecretStreamError) -> Event {
        guard let hash = handshakeHash else { throw fail(.invalidHeader) }
        do {
            let stream = try injectedHeader.map { header throws(SodiumError) in
                try SecretStreamSender(key: transmitKey, header: header)
            } ?? SecretStreamSender(key: transmitKey)
            sender = stream
            return .write(try frame(Self.streamID(isInitiator: isInitiator, handshakeHash: hash) + stream.header))
        } catch {
            throw fail(.invalidHeader)
        }
    }

    private mutating func frame(_ body: [UInt8]) throws(SecretStreamError) -> [UInt8] {
        guard let framed = SecretStreamFraming.frame(body) else { throw fail(.messageTooLarge(body.count)) }
        return framed
    }

    private mutating func fail(_ failure: SecretStreamError) -> SecretStreamError {
        phase = .failed
        decoder.reset()
        sender = nil
        receiver = nil
        receiveKey = nil
        pendingTransmitKey = nil
        return failure
    }
}
