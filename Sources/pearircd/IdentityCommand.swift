import ArgumentParser
import PearBridge

/// `pearircd identity`: prints the user's public key, creating the identity on first use.
struct IdentityCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "identity",
        abstract: "Print this node's public key (z-base-32) and data directory, creating them if needed.")

    @OptionGroup var common: CommonOptions

    func run() throws {
        let directory = common.resolvedDataDirectory
        let identity = try Identity.loadOrCreate(in: directory)
        print("public key: \(identity.publicKeyText)")
        print("data directory: \(directory.url.path)")
    }
}
