import Foundation
import Sodium
import Testing

@testable import PearBridge

/// The conversation secrets of two identities (docs/protocol.md, "Direct messages"), and sealed blocks.
@Suite struct DirectConversationKeysTests {
    @Test func bothSidesDeriveTheSameSecretsAndNobodyElseDoes() throws {
        let alice = Ed25519.randomKeyPair(), bob = Ed25519.randomKeyPair(), mallory = Ed25519.randomKeyPair()
        let fromAlice = try DirectConversationKeys(ourKeyPair: alice, counterpart: bob.publicKey)
        let fromBob = try DirectConversationKeys(ourKeyPair: bob, counterpart: alice.publicKey)
        #expect(fromAlice.topic == fromBob.topic)
        #expect(fromAlice.contentKey == fromBob.contentKey)
        #expect(fromAlice.logName == fromBob.logName && fromAlice.logName.hasPrefix("dm/"))
        #expect(fromAlice.counterpart == bob.publicKey && fromBob.counterpart == alice.publicKey)
        // Distinct values for distinct purposes.
        #expect(Set([fromAlice.topic, fromAlice.contentKey]).count == 2)
        // Mallory knows both public keys but not a secret key: her conversations with either differ.
        let malloryAlice = try DirectConversationKeys(ourKeyPair: mallory, counterpart: alice.publicKey)
        let malloryBob = try DirectConversationKeys(ourKeyPair: mallory, counterpart: bob.publicKey)
        #expect(![malloryAlice.topic, malloryBob.topic].contains(fromAlice.topic))
        #expect(![malloryAlice.contentKey, malloryBob.contentKey].contains(fromAlice.contentKey))
    }

    @Test func badCounterpartsAreRefused() {
        let alice = Ed25519.randomKeyPair()
        #expect(throws: DirectConversationKeys.Failure.invalidCounterpart) {
            try DirectConversationKeys(ourKeyPair: alice, counterpart: alice.publicKey)
        }
        #expect(throws: DirectConversationKeys.Failure.invalidCounterpart) {
            try DirectConversationKeys(ourKeyPair: alice, counterpart: Array(repeating: 7, count: 31))
        }
        // The identity point: a DH of all zeros would be the same for everyone.
        #expect(throws: DirectConversationKeys.Failure.invalidCounterpart) {
            try DirectConversationKeys(ourKeyPair: alice, counterpart: [1] + Array(repeating: 0, count: 31))
        }
    }
}

@Suite struct SealedEntryTests {
    static let key = RandomBytes.generate(count: 32)
    static let writer = RandomBytes.generate(count: 32)

    @Test func aSealedBlockOpensWithItsKeyAndWriterOnly() throws {
        let text = Array("a private line".utf8)
        let block = try SealedEntry.seal(text, key: Self.key, writer: Self.writer)
        #expect(try SealedEntry.open(block, key: Self.key, writer: Self.writer) == text)
        // The plaintext is nowhere in the block, and two seals of it differ (random nonces).
        #expect(block.firstRange(of: text) == nil)
        let again = try SealedEntry.seal(text, key: Self.key, writer: Self.writer)
        #expect(again != block)
        #expect(throws: SealedEntry.Failure.cannotOpen) {
            try SealedEntry.open(block, key: RandomBytes.generate(count: 32), writer: Self.writer)
        }
        #expect(throws: SodiumError.self) { try SealedEntry.seal(text, key: [1, 2, 3], writer: Self.writer) }
        // Passed off as another writer's block.
        #expect(throws: SealedEntry.Failure.cannotOpen) {
            try SealedEntry.open(block, key: Self.key, writer: RandomBytes.generate(count: 32))
        }
    }

    @Test func alteredTruncatedAndUnknownBlocksAreRefused() throws {
        let block = try SealedEntry.seal(Array("x".utf8), key: Self.key, writer: Self.writer)
        for index in block.indices {
            var altered = block
            altered[index] ^= 0x40
            #expect(throws: (any Error).self) { try SealedEntry.open(altered, key: Self.key, writer: Self.writer) }
        }
        for length in 0..<block.count {
            #expect(throws: (any Error).self) { try SealedEntry.open(Array(block.prefix(length)), key: Self.key, writer: Self.writer) }
        }
        #expect(throws: SealedEntry.Failure.malformed) {
            try SealedEntry.open([2] + block.dropFirst(), key: Self.key, writer: Self.writer)
        }
    }

    @Test func randomBytesNeverOpen() {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<500 {
            let length = Int.random(in: 0..<200, using: &generator)
            let bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) }
            #expect(throws: (any Error).self) { try SealedEntry.open(bytes, key: Self.key, writer: Self.writer) }
        }
    }
}
