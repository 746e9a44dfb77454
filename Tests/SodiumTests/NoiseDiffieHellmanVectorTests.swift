import Sodium
import TestVectors
import Testing

/// The `dh` cases of `noise.json`: Ed25519 Diffie-Hellman exactly as `noise-curve-ed` computes it.
@Suite struct NoiseDiffieHellmanVectorTests {
    struct DHCase: Decodable { let localSeed, localPublicKey, remotePublicKey, output: String }
    struct File: Decodable { let dh: [DHCase] }

    @Test func bothDirectionsGiveTheRecordedSecret() throws {
        let file: File = try ReferenceVectors.load("noise.json")
        #expect(file.dh.count == 2)
        for vector in file.dh {
            let pair = try Ed25519.keyPair(seed: Hex.decode(vector.localSeed))
            #expect(Hex.encode(pair.publicKey) == vector.localPublicKey)
            let shared = try Ed25519.diffieHellman(keyPair: pair, remotePublicKey: Hex.decode(vector.remotePublicKey))
            #expect(Hex.encode(shared) == vector.output)
        }
    }

    @Test func smallOrderPointIsRejected() throws {
        let pair = Ed25519.randomKeyPair()
        // The identity point (y = 1) has small order; libsodium refuses it.
        var identity = [UInt8](repeating: 0, count: 32)
        identity[0] = 1
        #expect(throws: SodiumError.invalidPoint) {
            try Ed25519.diffieHellman(keyPair: pair, remotePublicKey: identity)
        }
        #expect(throws: SodiumError.self) {
            try Ed25519.diffieHellman(keyPair: pair, remotePublicKey: [1, 2, 3])
        }
    }
}
