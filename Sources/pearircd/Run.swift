import ArgumentParser
import Foundation
import PearBridge

/// `pearircd run`: starts the gateway.
struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Start the gateway (the default when no subcommand is given).")

    @OptionGroup var common: CommonOptions

    func run() throws {
        let directory = common.resolvedDataDirectory
        let identity = try Identity.loadOrCreate(in: directory)
        print("pearircd \(PearIRCVersion.string)")
        print("data directory: \(directory.url.path)")
        print("identity: \(identity.publicKeyText)")
        // The IRC listener (issue 5) and the peer network (issues 4 and 6) are not built yet. Say so plainly
        // instead of pretending to serve.
        print("pearircd: the IRC front end and peer network are not implemented yet; nothing to serve.")
        throw ExitCode(2)
    }
}
