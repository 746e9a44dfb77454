import Sodium
import Testing

/// The value-type secretstream halves: byte-identical to the reference-type ones, and copies really are independent.
@Suite struct SecretStreamCipherTests {
    @Test func sameBytesAsPushAndPull() throws {
        let key = SecureBytes(RandomBytes.generate(count: 32)), header = RandomBytes.generate(count: 24)
        var sender = try SecretStreamSender(key: key, header: header)
        let push = try SecretStreamPush(key: key, header: header)
        let pull = try SecretStreamPull(key: key, header: header)
        var receiver = try SecretStreamReceiver(key: key, header: header)
        for length in [0, 1, 15, 16, 17, 1000] {
            let message = RandomBytes.generate(count: length)
            let ours = sender.push(message)
            #expect(ours == push.push(message))
            #expect(try pull.pull(ours).message == message)
            #expect(try receiver.pull(ours).message == message)
        }
    }

    @Test func copiesAreIndependent() throws {
        let key = SecureBytes(RandomBytes.generate(count: 32))
        var sender = try SecretStreamSender(key: key)
        var receiver = try SecretStreamReceiver(key: key, header: sender.header)
        var fork = sender
        let first = sender.push([1])
        // The copy made before the push continues from the same point, so it produces the same frame.
        #expect(fork.push([1]) == first)
        var snapshot = receiver
        #expect(try receiver.pull(first).message == [1])
        // The receiver moved on; the snapshot did not.
        #expect(throws: SodiumError.authenticationFailed) { try receiver.pull(first) }
        #expect(try snapshot.pull(first).message == [1])
    }

    @Test func forgedAndShortCiphertextsFailWithoutAdvancing() throws {
        let key = SecureBytes(RandomBytes.generate(count: 32))
        var sender = try SecretStreamSender(key: key)
        var receiver = try SecretStreamReceiver(key: key, header: sender.header)
        let frame = sender.push(Array("data".utf8))
        var forged = frame
        forged[forged.count - 1] ^= 1
        #expect(throws: SodiumError.authenticationFailed) { try receiver.pull(forged) }
        #expect(throws: SodiumError.authenticationFailed) { try receiver.pull(Array(frame.prefix(16))) }
        #expect(try receiver.pull(frame).message == Array("data".utf8))
        #expect(throws: SodiumError.self) { try SecretStreamSender(key: SecureBytes([1, 2, 3])) }
        #expect(throws: SodiumError.self) { try SecretStreamReceiver(key: key, header: [0]) }
    }
}
