import Foundation
import HyperLog
import PearBridge
import Testing

@Suite struct IdentityTests {
    func temporaryDirectory() throws -> DataDirectory {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("pearirc-identity-\(UUID().uuidString)")
        return DataDirectory(url: url)
    }

    @Test func createdOnceThenReloadedWithPrivatePermissions() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory.url) }
        let first = try Identity.loadOrCreate(in: directory)
        let second = try Identity.loadOrCreate(in: directory)
        #expect(first.keyPair.publicKey == second.keyPair.publicKey)
        #expect(ZBase32.decode(first.publicKeyText) == first.keyPair.publicKey)
        let attributes = try FileManager.default.attributesOfItem(atPath: directory.file(Identity.fileName).path)
        #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o600)
        let directoryAttributes = try FileManager.default.attributesOfItem(atPath: directory.url.path)
        #expect((directoryAttributes[.posixPermissions] as? NSNumber)?.intValue == 0o700)
    }

    /// A data directory (and its store) made readable by all, by hand or by an older version, is closed again at start.
    @Test func anExistingDataDirectoryIsMadePrivateAtEveryStart() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory.url) }
        let store = directory.url.appendingPathComponent("store")
        try FileManager.default.createDirectory(at: store, withIntermediateDirectories: true)
        for path in [directory.url.path, store.path] {
            try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: path)
        }
        try directory.prepare()
        for path in [directory.url.path, store.path] {
            let attributes = try FileManager.default.attributesOfItem(atPath: path)
            #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o700, "\(path)")
        }
    }

    @Test func truncatedIdentityFileIsAClearError() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory.url) }
        try directory.prepare()
        try Data([1, 2, 3]).write(to: directory.file(Identity.fileName))
        #expect(throws: Identity.LoadError.self) { try Identity.loadOrCreate(in: directory) }
    }

    @Test func standardLocationFollowsXDG() {
        #expect(DataDirectory.standard(environment: ["XDG_DATA_HOME": "/x/data"]).url.path == "/x/data/pearircd")
        #expect(
            DataDirectory.standard(environment: ["HOME": "/home/u"]).url.path == "/home/u/.local/share/pearircd")
        // A relative XDG_DATA_HOME is invalid per the spec and ignored.
        #expect(
            DataDirectory.standard(environment: ["XDG_DATA_HOME": "rel", "HOME": "/h"]).url.path
                == "/h/.local/share/pearircd")
    }
}
