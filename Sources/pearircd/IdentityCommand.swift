import ArgumentParser
import PearBridge

/// `pearircd identity`: prints the user's public key, creating the identity on first use.
struct IdentityCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "identity",
        abstract: "Print your identity's public key (z-base-32), the gateway's transport key and the data directory, creating them if needed.")

    @OptionGroup var common: CommonOptions

    func run() throws {
        let directory = common.resolvedDataDirectory
        let identity = try Identity.loadOrCreate(in: directory)
        let transport = try Identity.loadOrCreate(in: directory, fileName: GatewayNode.transportKeyFileName)
        print("public key: \(identity.publicKeyText)")
        // What other gateways see a connection come from; your identity is proven to them on each connection.
        print("gateway transport key: \(transport.publicKeyText)")
        print("data directory: \(directory.url.path)")
    }
}
