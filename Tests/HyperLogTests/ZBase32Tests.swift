import HyperLog
import TestVectors
import Testing

@Suite struct ZBase32Tests {
    struct Core: Decodable { let key: String; let id: String }
    struct File: Decodable { let cores: [Core] }

    /// `id` in `hypercore-core.json` is the reference's z-base-32 form of each core key.
    @Test func coreIdsMatchTheReference() throws {
        let file: File = try ReferenceVectors.load("hypercore-core.json")
        #expect(file.cores.count == 2)
        for core in file.cores {
            let key = try Hex.decode(core.key)
            #expect(ZBase32.encode(key) == core.id)
            #expect(ZBase32.decode(core.id) == key)
        }
    }

    @Test func roundTripsAndRejectsForeignCharacters() {
        var rng = SeededGenerator(seed: 5)
        for length in 0..<70 {
            let bytes = rng.bytes(length)
            #expect(ZBase32.decode(ZBase32.encode(bytes)) == bytes)
        }
        #expect(ZBase32.decode("0OlI") == nil)
        #expect(ZBase32.decode("yyyyyyyyy!") == nil)
    }
}
