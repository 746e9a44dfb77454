import Sodium
import Testing

/// Round trips and bad input for every wrapper that has no reference vector.
@Suite struct SodiumPrimitiveTests {
    @Test func wrongLengthsAreTypedErrors() throws {
        #expect(throws: SodiumError.invalidLength(what: "Ed25519 seed", expected: 32, actual: 31)) {
            try Ed25519.keyPair(seed: [UInt8](repeating: 0, count: 31))
        }
        #expect(throws: SodiumError.self) { try Ed25519.KeyPair(secretKey: [1, 2, 3]) }
        #expect(throws: SodiumError.self) { try X25519.keyPair(seed: []) }
        #expect(throws: SodiumError.self) { try BLAKE2b.hash([1], outputLength: 15) }
        #expect(throws: SodiumError.self) { try BLAKE2b.hash([1], outputLength: 65) }
        #expect(throws: SodiumError.self) { try BLAKE2b.hash([1], key: [UInt8](repeating: 1, count: 8)) }
        let key = SecureBytes(RandomBytes.generate(count: 31))
        #expect(throws: SodiumError.self) { try SecretStreamSender(key: key) }
        #expect(throws: SodiumError.self) { try SecretBox.seal([1], nonce: [0], key: key) }
    }

    @Test func secretKeyWhosePublicHalfDoesNotMatchIsRejected() throws {
        let pair = try Ed25519.keyPair(seed: [UInt8](repeating: 7, count: 32))
        var secret = pair.secretKey.bytes
        secret[40] ^= 0xff
        #expect(throws: SodiumError.self) { try Ed25519.KeyPair(secretKey: secret) }
    }

    @Test func verifyRejectsForgeriesWithoutTrapping() throws {
        let pair = Ed25519.randomKeyPair()
        let message = Array("hello".utf8)
        var signature = Ed25519.sign(message, keyPair: pair)
        #expect(Ed25519.verify(signature: signature, message: message, publicKey: pair.publicKey))
        signature[0] ^= 1
        #expect(!Ed25519.verify(signature: signature, message: message, publicKey: pair.publicKey))
        #expect(!Ed25519.verify(signature: [], message: message, publicKey: pair.publicKey))
        #expect(!Ed25519.verify(signature: signature, message: message, publicKey: [1, 2]))
        #expect(!Ed25519.verify(signature: Array(signature.prefix(63)), message: message, publicKey: pair.publicKey))
    }

    @Test func blake2bOutputLengthsAndKeys() throws {
        for length in [16, 20, 32, 48, 64] {
            #expect(try BLAKE2b.hash([1, 2, 3], outputLength: length).count == length)
        }
        let key = [UInt8](repeating: 9, count: 32)
        #expect(try BLAKE2b.hash([1], key: key) != (try BLAKE2b.hash([1])))
        var incremental = try BLAKE2b.Hasher(outputLength: 64, key: key)
        incremental.update([1, 2])
        incremental.update([3])
        #expect(incremental.finalize() == (try BLAKE2b.hash([1, 2, 3], outputLength: 64, key: key)))
    }

    @Test func ed25519ToX25519AgreesWithBoxKeys() throws {
        let alice = Ed25519.randomKeyPair(), bob = Ed25519.randomKeyPair()
        let aliceSecret = try Ed25519.secretKeyToX25519(alice.secretKey)
        let bobSecret = try Ed25519.secretKeyToX25519(bob.secretKey)
        let alicePublic = try Ed25519.publicKeyToX25519(alice.publicKey)
        let bobPublic = try Ed25519.publicKeyToX25519(bob.publicKey)
        #expect(try X25519.publicKey(secretKey: aliceSecret) == alicePublic)
        let ab = try X25519.scalarMultiply(secretKey: aliceSecret, publicKey: bobPublic)
        let ba = try X25519.scalarMultiply(secretKey: bobSecret, publicKey: alicePublic)
        #expect(ab == ba)
        #expect(throws: SodiumError.invalidPoint) {
            try X25519.scalarMultiply(secretKey: aliceSecret, publicKey: [UInt8](repeating: 0, count: 32))
        }
    }

    @Test func secretStreamRoundTripAndTampering() throws {
        let key = SecureBytes(RandomBytes.generate(count: 32))
        var push = try SecretStreamSender(key: key)
        var pull = try SecretStreamReceiver(key: key, header: push.header)
        let first = push.push(Array("one".utf8))
        let second = push.push([], tag: .push)
        let third = push.push(Array("three".utf8), tag: .final)
        #expect(first.count == 3 + SecretStreamParameters.overhead)

        var forged = second
        forged[forged.count - 1] ^= 1
        #expect(throws: SodiumError.authenticationFailed) { try pull.pull(forged) }
        // Reordering: the third message cannot be opened in second place.
        #expect(throws: SodiumError.authenticationFailed) { try pull.pull(third) }
        // Truncation below the overhead.
        #expect(throws: SodiumError.authenticationFailed) { try pull.pull([1, 2, 3]) }

        let one = try pull.pull(first)
        #expect(one.message == Array("one".utf8) && one.tag == .message)
        // Replay of an accepted message fails: the counter moved on.
        #expect(throws: SodiumError.authenticationFailed) { try pull.pull(first) }
        let two = try pull.pull(second)
        #expect(two.message.isEmpty && two.tag == .push)
        let three = try pull.pull(third)
        #expect(three.message == Array("three".utf8) && three.tag == .final)
    }

    @Test func secretStreamWithInjectedHeaderMatchesPull() throws {
        let key = SecureBytes(RandomBytes.generate(count: 32))
        let header = RandomBytes.generate(count: 24)
        var push = try SecretStreamSender(key: key, header: header)
        var pull = try SecretStreamReceiver(key: key, header: header)
        let ciphertext = push.push([9, 8, 7], additionalData: [1])
        #expect(throws: SodiumError.authenticationFailed) {
            var other = try SecretStreamReceiver(key: key, header: header)
            return try other.pull(ciphertext, additionalData: [2])
        }
        #expect(try pull.pull(ciphertext, additionalData: [1]).message == [9, 8, 7])
    }

    @Test func secretBoxAndBoxes() throws {
        let key = SecureBytes(RandomBytes.generate(count: SecretBox.keyLength))
        let nonce = RandomBytes.generate(count: SecretBox.nonceLength)
        let sealed = try SecretBox.seal(Array("secret".utf8), nonce: nonce, key: key)
        #expect(try SecretBox.open(sealed, nonce: nonce, key: key) == Array("secret".utf8))
        var tampered = sealed
        tampered[0] ^= 1
        #expect(throws: SodiumError.authenticationFailed) { try SecretBox.open(tampered, nonce: nonce, key: key) }
        #expect(throws: SodiumError.authenticationFailed) { try SecretBox.open([1, 2], nonce: nonce, key: key) }

        let alice = X25519.randomKeyPair(), bob = X25519.randomKeyPair()
        let boxNonce = RandomBytes.generate(count: Box.nonceLength)
        let boxed = try Box.seal(
            [1, 2, 3], nonce: boxNonce, recipientPublicKey: bob.publicKey, senderSecretKey: alice.secretKey)
        #expect(
            try Box.open(boxed, nonce: boxNonce, senderPublicKey: alice.publicKey, recipientSecretKey: bob.secretKey)
                == [1, 2, 3])
        #expect(throws: SodiumError.authenticationFailed) {
            try Box.open(boxed, nonce: boxNonce, senderPublicKey: bob.publicKey, recipientSecretKey: bob.secretKey)
        }

        let anonymous = try Box.sealAnonymously([4, 5], recipientPublicKey: bob.publicKey)
        #expect(anonymous.count == 2 + Box.sealOverhead)
        #expect(try Box.openSealed(anonymous, keyPair: bob) == [4, 5])
        #expect(throws: SodiumError.authenticationFailed) { try Box.openSealed(anonymous, keyPair: alice) }
        #expect(throws: SodiumError.authenticationFailed) { try Box.openSealed([0], keyPair: bob) }
    }

    @Test func argon2idPasswordHashes() throws {
        let cost = PasswordHash.Cost.minimum
        let hash = try PasswordHash.hash(password: Array("hunter2".utf8), cost: cost)
        #expect(hash.hasPrefix("$argon2id$"))
        #expect(PasswordHash.verify(password: Array("hunter2".utf8), hash: hash))
        #expect(!PasswordHash.verify(password: Array("hunter3".utf8), hash: hash))
        #expect(!PasswordHash.verify(password: [], hash: "not a hash"))
        #expect(!PasswordHash.verify(password: [], hash: String(repeating: "x", count: 500)))
        #expect(!PasswordHash.needsRehash(hash, cost: cost))
        #expect(PasswordHash.needsRehash(hash, cost: .interactive))
        #expect(PasswordHash.needsRehash("garbage", cost: cost))
        // Empty passwords hash and verify too (nil pointers must not reach libsodium).
        let empty = try PasswordHash.hash(password: [], cost: cost)
        #expect(PasswordHash.verify(password: [], hash: empty))
    }

    @Test func constantTimeCompareAndRandomness() {
        #expect(ConstantTime.equals([1, 2, 3], [1, 2, 3]))
        #expect(!ConstantTime.equals([1, 2, 3], [1, 2, 4]))
        #expect(!ConstantTime.equals([1, 2, 3], [1, 2]))
        #expect(ConstantTime.equals([UInt8](), [UInt8]()))
        let a = RandomBytes.generate(count: 32), b = RandomBytes.generate(count: 32)
        #expect(a.count == 32 && a != b)
        #expect(RandomBytes.generate(count: 0).isEmpty)
        for _ in 0..<100 { #expect(RandomBytes.uniform(10) < 10) }
        var secret: [UInt8] = [1, 2, 3]
        ConstantTime.zero(&secret)
        #expect(secret == [0, 0, 0])
        let secure = SecureBytes([1, 2, 3])
        #expect(secure.constantTimeEquals([1, 2, 3]))
        #expect(!"\(secure)".contains("1, 2"))
    }

    @Test func sha512KnownAnswer() {
        // FIPS 180-2 "abc".
        let digest = SHA512.hash(Array("abc".utf8))
        #expect(digest.prefix(8) == [0xdd, 0xaf, 0x35, 0xa1, 0x93, 0x61, 0x7a, 0xba])
        #expect(digest.count == 64)
    }
}

/// XChaCha20-Poly1305 through the shared AEAD shape: a round trip, a wrong key, nonce or associated data, altered
/// bytes and wrong lengths all refused; and the IETF cipher through the same shape still matches its own output.
@Suite struct XChaCha20Poly1305Tests {
    @Test func sealsAndRefusesWhatWasNotSealedSo() throws {
        let key = RandomBytes.generate(count: 32), nonce = RandomBytes.generate(count: 24), ad = Array("ad".utf8)
        let sealed = try XChaCha20Poly1305.seal(Array("hello".utf8), key: key, nonce: nonce, associatedData: ad)
        #expect(sealed.count == 5 + XChaCha20Poly1305.tagLength)
        #expect(try XChaCha20Poly1305.open(sealed, key: key, nonce: nonce, associatedData: ad) == Array("hello".utf8))
        #expect(throws: SodiumError.self) { try XChaCha20Poly1305.open(sealed, key: RandomBytes.generate(count: 32), nonce: nonce, associatedData: ad) }
        #expect(throws: SodiumError.self) { try XChaCha20Poly1305.open(sealed, key: key, nonce: RandomBytes.generate(count: 24), associatedData: ad) }
        #expect(throws: SodiumError.self) { try XChaCha20Poly1305.open(sealed, key: key, nonce: nonce, associatedData: []) }
        var altered = sealed
        altered[0] ^= 1
        #expect(throws: SodiumError.self) { try XChaCha20Poly1305.open(altered, key: key, nonce: nonce, associatedData: ad) }
        #expect(throws: SodiumError.self) { try XChaCha20Poly1305.seal([], key: key, nonce: Array(nonce.prefix(12)), associatedData: ad) }
        #expect(throws: SodiumError.self) { try XChaCha20Poly1305.open(Array(sealed.prefix(15)), key: key, nonce: nonce, associatedData: ad) }
        // The two ciphers differ: the same key and the first 12 bytes of the nonce give another output.
        let ietf = try ChaCha20Poly1305.seal(Array("hello".utf8), key: key, nonce: Array(nonce.prefix(12)), associatedData: ad)
        #expect(ietf != sealed)
        #expect(try ChaCha20Poly1305.open(ietf, key: key, nonce: Array(nonce.prefix(12)), associatedData: ad) == Array("hello".utf8))
    }
}
