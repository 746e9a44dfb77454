import CompactEncoding
import Sodium

/// The write tokens of a dht-rpc node (`lib/io.js`, `token` and the rotation in `_drain`): a token for a requester
/// is BLAKE2b-256 of its host (the dotted-quad text; the port plays no part) keyed with one of two 32-byte secrets.
/// Replies hand out the token under the newer secret; a request's token is accepted under either. Every tenth
/// `tick` (dht-rpc drains every 750 ms, so every 7.5 s) the newer secret becomes the older one and the new newer
/// one is BLAKE2b-256 of the old older one: a token stays good for 7.5–15 s.
///
/// A pure value: the secrets are random unless given (tests replay the reference's), and time is the caller's ticks.
public struct DHTTokens: Sendable {
    public static let ticksPerRotation = 10

    /// [older, newer], as the reference's `_secrets[0]` and `_secrets[1]`.
    private var secrets: [[UInt8]]
    private var ticksLeft = DHTTokens.ticksPerRotation

    public init(secrets: [[UInt8]]? = nil) {
        if let secrets, secrets.count == 2, secrets.allSatisfy({ $0.count == 32 }) {
            self.secrets = secrets
        } else {
            self.secrets = [RandomBytes.generate(count: 32), RandomBytes.generate(count: 32)]
        }
    }

    /// The token for `requester` under secret `index` (0 older, 1 newer).
    public func token(for requester: IPv4Endpoint, secret index: Int) -> [UInt8] {
        Self.hostToken(for: requester, secret: secrets[index])
    }

    /// The token of an address as dht-rpc and hyperdht's holepunch rounds make them: BLAKE2b-256 of its host as
    /// dotted-quad text, keyed with a 32-byte secret.
    static func hostToken(for address: IPv4Endpoint, secret: [UInt8]) -> [UInt8] {
        // A 32-byte key and output are always valid BLAKE2b parameters.
        (try? BLAKE2b.hash(Array(address.host.utf8), outputLength: 32, key: secret)) ?? []
    }

    /// The token a reply to `requester` carries.
    public func token(for requester: IPv4Endpoint) -> [UInt8] { token(for: requester, secret: 1) }

    /// Whether `token` is one we handed `requester` recently.
    public func accepts(_ token: [UInt8], from requester: IPv4Endpoint) -> Bool {
        token == self.token(for: requester, secret: 1) || token == self.token(for: requester, secret: 0)
    }

    /// One drain tick; every tenth rotates the secrets.
    public mutating func tick() {
        ticksLeft -= 1
        guard ticksLeft == 0 else { return }
        ticksLeft = Self.ticksPerRotation
        let older = secrets[0]
        secrets[0] = secrets[1]
        secrets[1] = BLAKE2b.hash256(older)
    }
}
