import Foundation
import HyperLog
import Sodium

/// The user's long-lived Ed25519 identity: it signs the user's logs and authenticates peer connections.
///
/// Stored as the 64-byte libsodium secret key (`seed ‖ publicKey`) in `identity.key`, mode 0600, created on first
/// use and the same on every later start.
public struct Identity: Sendable {
    public enum LoadError: Error, CustomStringConvertible {
        case corrupt(path: String, reason: String)

        public var description: String {
            switch self {
            case .corrupt(let path, let reason): "identity file \(path) is unusable: \(reason)"
            }
        }
    }

    public static let fileName = "identity.key"

    public let keyPair: Ed25519.KeyPair

    /// The public key as Holepunch tools print keys (z-base-32).
    public var publicKeyText: String { ZBase32.encode(keyPair.publicKey) }

    /// Loads the identity from `directory`, creating and saving a fresh one when there is none yet. `fileName`
    /// names another key of the same kind (a relay's, `relay.key`).
    public static func loadOrCreate(in directory: DataDirectory, fileName: String = Identity.fileName) throws -> Identity {
        try directory.prepare()
        let path = directory.file(fileName).path
        if FileManager.default.fileExists(atPath: path) {
            let data = try Data(contentsOf: URL(fileURLWithPath: path))
            do {
                return Identity(keyPair: try Ed25519.KeyPair(secretKey: Array(data)))
            } catch {
                throw LoadError.corrupt(path: path, reason: "\(error)")
            }
        }
        let keyPair = Ed25519.randomKeyPair()
        try SecretFile.write(keyPair.secretKey.bytes, to: path)
        return Identity(keyPair: keyPair)
    }
}
