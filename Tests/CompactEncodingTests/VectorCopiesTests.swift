import Foundation
import TestVectors
import Testing

/// The project's copies of the reference vectors must be byte-identical to `../shared/vectors` when it is there.
@Suite struct VectorCopiesTests {
    @Test func bundledCopiesMatchSharedVectors() throws {
        let names = try ReferenceVectors.bundledFileNames
        #expect(names.contains("compact-encoding.json"))
        #expect(names.contains("hypercore-crypto.json"))
        #expect(names.contains("noise.json"))
        guard let shared = ReferenceVectors.sharedDirectory else {
            // A lone clone without ../shared tests itself from the copies alone; nothing to compare against.
            return
        }
        for name in names {
            let original = try Data(contentsOf: shared.appendingPathComponent(name))
            #expect(try ReferenceVectors.data(name) == original, "\(name) differs from ../shared/vectors/\(name)")
        }
    }
}
