import CompactEncoding
import Sodium

/// How a holepunch payload travels (hyperdht 6.33 `lib/secure-payload.js`): `nonce(24) ‖ crypto_secretbox_easy(
/// encoded payload, nonce, holepunchSecret)`, where the secret is BLAKE2b-256 of `NS.PEER_HOLEPUNCH` keyed with the
/// connection's Noise handshake hash (`lib/noise-wrap.js`), so the relaying DHT nodes cannot read or forge it.
/// Each side also keeps a random local secret for the address tokens it hands out.
public struct HyperDHTSecurePayload: Sendable {
    private let sharedSecret: SecureBytes
    private let localSecret: [UInt8]

    public init(handshakeHash: [UInt8], localSecret: [UInt8]? = nil) {
        sharedSecret = SecureBytes(Self.holepunchSecret(handshakeHash: handshakeHash))
        self.localSecret = localSecret ?? RandomBytes.generate(count: 32)
    }

    /// BLAKE2b-256(message: NS.PEER_HOLEPUNCH, key: handshake hash).
    public static func holepunchSecret(handshakeHash: [UInt8]) -> [UInt8] {
        (try? BLAKE2b.hash(HyperDHTSignatures.peerHolepunchNamespace, outputLength: 32, key: handshakeHash)) ?? []
    }

    init(secret: [UInt8]) {
        sharedSecret = SecureBytes(secret)
        localSecret = RandomBytes.generate(count: 32)
    }

    /// Seals `payload` under a fresh random nonce (or `nonce`, for replaying recorded sessions).
    public func encrypt(_ payload: HyperDHTHolepunchPayload, nonce: [UInt8]? = nil) -> [UInt8] {
        let nonce = nonce ?? RandomBytes.generate(count: SecretBox.nonceLength)
        // A 24-byte nonce and a 32-byte key are always valid.
        let sealed = (try? SecretBox.seal(payload.compactEncoded(), nonce: nonce, key: sharedSecret)) ?? []
        return nonce + sealed
    }

    /// Opens and decodes a sealed payload; nil for anything too short, forged or malformed, as the reference drops it.
    public func decrypt(_ buffer: [UInt8]) -> HyperDHTHolepunchPayload? {
        guard buffer.count > SecretBox.nonceLength + SecretBox.macLength,
            let plain = try? SecretBox.open(
                Array(buffer[SecretBox.nonceLength...]), nonce: Array(buffer[..<SecretBox.nonceLength]),
                key: sharedSecret)
        else { return nil }
        return try? HyperDHTHolepunchPayload(leniently: plain)
    }

    /// The token this side hands out for an address (BLAKE2b-256 of the host, keyed with the local secret).
    public func token(for address: IPv4Endpoint) -> [UInt8] {
        DHTTokens.hostToken(for: address, secret: localSecret)
    }
}
