import Sodium
import Testing

/// The value-type secretstream halves: two senders started from one header produce the same bytes (the vectors in
/// SwarmEngineTests pin those bytes to the reference), the frame header can be written in place, and copies really
/// are independent.
@Suite struct SecretStreamCipherTests {
    @Test func sameHeaderSameBytesAndInPlacePush() throws {
        let key = SecureBytes(RandomBytes.generate(count: 32))
        var first = try SecretStreamSender(key: key)
        var second = try SecretStreamSender(key: key, header: first.header)
        var receiver = try SecretStreamReceiver(key: key, header: first.header)
        for length in [0, 1, 15, 16, 17, 1000] {
            let message = RandomBytes.generate(count: length)
            let ours = first.push(message)
            var inPlace = [UInt8](repeating: 0xee, count: 3 + length + SecretStreamParameters.overhead)
            let written = message.withUnsafeBytes { m in
                inPlace.withUnsafeMutableBytes { out in second.push(m, into: UnsafeMutableRawBufferPointer(rebasing: out[3...])) }
            }
            #expect(written == ours.count && Array(inPlace[3...]) == ours && inPlace[0..<3] == [0xee, 0xee, 0xee])
            #expect(try receiver.pull(ours).message == message)
        }
        // Too small an output buffer: nothing written.
        var tooSmall = [UInt8](repeating: 0, count: 10)
        let none = [UInt8](repeating: 1, count: 5).withUnsafeBytes { m in tooSmall.withUnsafeMutableBytes { second.push(m, into: $0) } }
        #expect(none == 0 && tooSmall.allSatisfy { $0 == 0 })
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
