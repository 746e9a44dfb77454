import Sodium

/// `@hyperswarm/secret-stream` 6.9 as a pure state machine over a reliable byte stream.
///
/// Everything on the wire is `uint24le(length) ‖ body`. With XX, the initiator starts the Noise handshake and both
/// sides then send a 56-byte header message (`streamId ‖ secretstream header`); with a finished IK handshake (the
/// HyperDHT path) the header messages come first. After the header, every frame is one
/// `crypto_secretstream_xchacha20poly1305` message; an empty one is a keep-alive.
public struct SecretStreamSession {
    public enum Event: Equatable, Sendable {
        /// Bytes to write to the transport, in order.
        case write([UInt8])
        /// The handshake finished: the remote's identity is known (its header may still be on the way).
        case established(remotePublicKey: [UInt8], handshakeHash: [UInt8])
        /// A decrypted application message.
        case message([UInt8])
    }

    public enum Failure: Error, Equatable, Sendable {
        case handshakeFailed(NoiseError)
        /// A frame declared more than `maximumFrameLength` bytes.
        case frameTooLarge(Int)
        /// The first message after the handshake was not the 56-byte header with the expected stream id.
        case invalidHeader
        /// A data frame failed authentication (tampered, truncated, replayed or reordered).
        case decryptionFailed
        /// A data frame shorter than the 17 bytes any encrypted message takes.
        case invalidFrame
        /// `send` before the handshake finished.
        case notEstablished
    }

    public static let namespaces = HolepunchNamespace.derive("hyperswarm/secret-stream", count: 3)
    public static let defaultMaximumFrameLength = 4 * 1024 * 1024

    enum Phase {
        case handshaking(NoiseHandshake)
        case awaitingHeader
        case open
        case failed
    }

    public let isInitiator: Bool
    public let maximumFrameLength: Int
    /// Empty frames are keep-alives; with this on they are not delivered (as the reference does when its own
    /// keep-alive is enabled).
    public let dropsKeepAlives: Bool
    private var phase: Phase
    private var buffer: [UInt8] = []
    private var push: SecretStreamPush?
    private var pull: SecretStreamPull?
    private var receiveKey: [UInt8] = []
    private let injectedHeader: [UInt8]?
    public private(set) var remotePublicKey: [UInt8]?
    public private(set) var handshakeHash: [UInt8]?

    /// A stream that runs its own XX handshake. `ephemeralKeyPair` and `header` are for replaying recorded
    /// sessions in tests.
    public init(
        isInitiator: Bool, staticKeyPair: Ed25519.KeyPair, ephemeralKeyPair: Ed25519.KeyPair? = nil,
        header: [UInt8]? = nil, maximumFrameLength: Int = SecretStreamSession.defaultMaximumFrameLength,
        dropsKeepAlives: Bool = true
    ) throws(NoiseError) {
        self.isInitiator = isInitiator
        self.maximumFrameLength = maximumFrameLength
        self.dropsKeepAlives = dropsKeepAlives
        injectedHeader = header
        phase = .handshaking(
            try NoiseHandshake(
                pattern: .xx, isInitiator: isInitiator, staticKeyPair: staticKeyPair, ephemeralKeyPair: ephemeralKeyPair))
    }

    /// A stream started from a finished handshake (HyperDHT's IK): no Noise bytes on the stream.
    public init(
        isInitiator: Bool, handshake: NoiseHandshake.Result, header: [UInt8]? = nil,
        maximumFrameLength: Int = SecretStreamSession.defaultMaximumFrameLength, dropsKeepAlives: Bool = true
    ) {
        self.isInitiator = isInitiator
        self.maximumFrameLength = maximumFrameLength
        self.dropsKeepAlives = dropsKeepAlives
        injectedHeader = header
        phase = .awaitingHeader
        remotePublicKey = handshake.remoteStaticKey
        handshakeHash = handshake.handshakeHash
        receiveKey = handshake.receiveKey
        pendingTransmitKey = handshake.transmitKey
    }

    private var pendingTransmitKey: [UInt8]?

    /// The stream id each side sends: BLAKE2b-256 keyed with the handshake hash over its role's namespace.
    public static func streamID(isInitiator: Bool, handshakeHash: [UInt8]) -> [UInt8] {
        (try? BLAKE2b.hash(namespaces[isInitiator ? 0 : 1], outputLength: 32, key: handshakeHash)) ?? []
    }

    public var isEstablished: Bool {
        if case .open = phase { return true }
        if case .awaitingHeader = phase { return push != nil }
        return false
    }

    /// What to write first: the initiator's first handshake message (XX) or the header message (IK).
    public mutating func start() throws(Failure) -> [Event] {
        switch phase {
        case .handshaking(var noise) where isInitiator:
            let message: [UInt8]
            do { message = try noise.writeMessage() } catch { throw fail(.handshakeFailed(error)) }
            phase = .handshaking(noise)
            return [.write(Self.frame(message))]
        case .awaitingHeader where push == nil:
            guard let key = pendingTransmitKey, let hash = handshakeHash, let remote = remotePublicKey else { return [] }
            pendingTransmitKey = nil
            return try [.established(remotePublicKey: remote, handshakeHash: hash), headerMessage(transmitKey: key)]
        default:
            return []
        }
    }

    /// Bytes arrived from the transport.
    public mutating func receive(_ bytes: [UInt8]) throws(Failure) -> [Event] {
        if case .failed = phase { return [] }
        buffer += bytes
        var events: [Event] = []
        // Walk the frames with an offset and drop the consumed prefix once: removing each frame from the front
        // would move the rest of the buffer every time.
        var offset = 0
        defer { if offset > 0 { buffer.removeFirst(min(offset, buffer.count)) } }
        while buffer.count - offset >= 3 {
            let length = Int(buffer[offset]) | Int(buffer[offset + 1]) << 8 | Int(buffer[offset + 2]) << 16
            // Refuse oversized frames before buffering them.
            guard length <= maximumFrameLength else { throw fail(.frameTooLarge(length)) }
            guard buffer.count - offset >= 3 + length else { break }
            let body = buffer[(offset + 3)..<(offset + 3 + length)]
            offset += 3 + length
            events += try process(body)
            if case .failed = phase { return events }
        }
        return events
    }

    /// Encrypts and frames one application message.
    public mutating func send(_ plaintext: [UInt8]) throws(Failure) -> [UInt8] {
        guard let push else { throw .notEstablished }
        guard plaintext.count + SecretStreamParameters.overhead <= maximumFrameLength else {
            throw .frameTooLarge(plaintext.count + SecretStreamParameters.overhead)
        }
        return Self.frame(push.push(plaintext))
    }

    /// A keep-alive: an empty encrypted message.
    public mutating func keepAlive() throws(Failure) -> [UInt8] {
        try send([])
    }

    private mutating func process(_ body: ArraySlice<UInt8>) throws(Failure) -> [Event] {
        switch phase {
        case .handshaking(var noise):
            var events: [Event] = []
            do {
                _ = try noise.readMessage(Array(body))
                if noise.isOurTurn { events.append(.write(Self.frame(try noise.writeMessage()))) }
            } catch {
                throw fail(.handshakeFailed(error))
            }
            guard let result = noise.result else {
                phase = .handshaking(noise)
                return events
            }
            remotePublicKey = result.remoteStaticKey
            handshakeHash = result.handshakeHash
            receiveKey = result.receiveKey
            phase = .awaitingHeader
            events.append(.established(remotePublicKey: result.remoteStaticKey, handshakeHash: result.handshakeHash))
            events.append(try headerMessage(transmitKey: result.transmitKey))
            return events
        case .awaitingHeader:
            let start = body.startIndex
            guard body.count == 56, let hash = handshakeHash,
                ConstantTime.equals(body[start..<(start + 32)], Self.streamID(isInitiator: !isInitiator, handshakeHash: hash))
            else { throw fail(.invalidHeader) }
            do {
                pull = try SecretStreamPull(key: SecureBytes(receiveKey), header: Array(body[(start + 32)..<(start + 56)]))
            } catch {
                throw fail(.invalidHeader)
            }
            phase = .open
            return []
        case .open:
            guard body.count >= SecretStreamParameters.overhead, let pull else { throw fail(.invalidFrame) }
            // Decrypt straight from the receive buffer, without copying the frame out first.
            let opened = body.withUnsafeBytes { raw in
                Result { () throws(SodiumError) in try pull.pull(raw) }
            }
            guard case .success(let result) = opened else { throw fail(.decryptionFailed) }
            let plaintext = result.message
            if plaintext.isEmpty, dropsKeepAlives { return [] }
            return [.message(plaintext)]
        case .failed:
            return []
        }
    }

    private mutating func headerMessage(transmitKey: [UInt8]) throws(Failure) -> Event {
        guard let hash = handshakeHash else { throw fail(.invalidHeader) }
        do {
            let key = SecureBytes(transmitKey)
            let stream = try injectedHeader.map { header throws(SodiumError) in try SecretStreamPush(key: key, header: header) }
                ?? SecretStreamPush(key: key)
            push = stream
            return .write(Self.frame(Self.streamID(isInitiator: isInitiator, handshakeHash: hash) + stream.header))
        } catch {
            throw fail(.invalidHeader)
        }
    }

    private mutating func fail(_ failure: Failure) -> Failure {
        phase = .failed
        buffer = []
        return failure
    }

    static func frame(_ body: [UInt8]) -> [UInt8] {
        var framed: [UInt8] = []
        framed.reserveCapacity(body.count + 3)
        framed.append(UInt8(truncatingIfNeeded: body.count))
        framed.append(UInt8(truncatingIfNeeded: body.count >> 8))
        framed.append(UInt8(truncatingIfNeeded: body.count >> 16))
        framed.append(contentsOf: body)
        return framed
    }
}
