import Foundation
import HyperLog
import Logging
import Testing

@testable import PearBridge

/// A data directory from before transport keys (only `identity.key`): the identity is kept as it was, and the gateway
/// gains a transport key of its own, the same on every later start; the connections run under it.
@Suite struct TransportKeyTests {
    @Test func anOlderDataDirectoryKeepsItsIdentityAndGainsATransportKey() throws {
        let directory = DataDirectory(url: FileManager.default.temporaryDirectory.appendingPathComponent("pearirc-transport-\(UUID().uuidString)"))
        defer { try? FileManager.default.removeItem(at: directory.url) }
        let identity = try Identity.loadOrCreate(in: directory)
        let identityBytes = try Data(contentsOf: directory.file(Identity.fileName))
        #expect(!FileManager.default.fileExists(atPath: directory.file(GatewayNode.transportKeyFileName).path))

        var logger = Logger(label: "test.transport")
        logger.logLevel = .critical
        let node = try GatewayNode(directory: directory, identity: Identity.loadOrCreate(in: directory), configuration: .init(), logger: logger)
        #expect(node.gateway.identity.keyPair.publicKey == identity.keyPair.publicKey)
        #expect(node.transportKey != identity.keyPair.publicKey)
        #expect(try Data(contentsOf: directory.file(Identity.fileName)) == identityBytes, "identity.key untouched")
        let mode = try FileManager.default.attributesOfItem(atPath: directory.file(GatewayNode.transportKeyFileName).path)[.posixPermissions]
        #expect(mode as? Int == 0o600)

        let again = try GatewayNode(directory: directory, identity: Identity.loadOrCreate(in: directory), configuration: .init(), logger: logger)
        #expect(again.transportKey == node.transportKey)
    }
}
