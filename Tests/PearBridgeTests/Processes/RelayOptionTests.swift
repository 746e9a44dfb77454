import Foundation
import HyperLog
import Sodium
import Testing

/// Relays are a setting (`--relay KEY`, repeatable, or `relay KEY` lines in pearircd.conf): a key as
/// `pearircd dht-node --serve-relay` prints it starts the gateway, which says which relays it has; anything else
/// stops the start, saying why.
@Suite struct RelayOptionTests {
    @Test func relayKeysFromTheConfigurationFileAreTaken() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("pearirc-relay-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let keys = (0..<2).map { _ in ZBase32.encode(Ed25519.randomKeyPair().publicKey) }
        try keys.map { "relay \($0)\n" }.joined().write(
            to: directory.appendingPathComponent("pearircd.conf"), atomically: true, encoding: .utf8)
        let (gateway, _, _) = try await GatewayProcess.start(directory: directory)
        try await gateway.waitForOutput(containing: "relays")
        #expect(gateway.printed.contains(keys.joined(separator: ", ")), "\(gateway.printed)")
        await gateway.stop()
    }

    @Test(arguments: ["relay notakey\n", "relay \(String(repeating: "y", count: 20))\n"])
    func aMalformedRelayKeyStopsTheStartWithWhy(_ file: String) async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("pearirc-relay-bad-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try file.write(to: directory.appendingPathComponent("pearircd.conf"), atomically: true, encoding: .utf8)
        do {
            _ = try await GatewayProcess.start(directory: directory)
            Issue.record("pearircd started with \(file)")
        } catch {
            #expect("\(error)".contains("--relay"), "\(error)")
        }
    }
}
