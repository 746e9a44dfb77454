import ArgumentParser
import Foundation
import PearBridge

/// `pearircd`: the PearIRC daemon. `run` is the default subcommand.
@main
struct PearIRCDaemon: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pearircd",
        abstract: "A peer-to-peer IRC gateway on the Holepunch network.",
        discussion: """
            Point any IRC client at localhost:6667 (or TLS on 6697) and /join a channel: the channel becomes a \
            serverless room whose history is a set of signed, replicated logs.
            """,
        version: PearIRCVersion.string,
        subcommands: [Run.self, IdentityCommand.self, AccountCommand.self, DHTNodeCommand.self, VersionCommand.self],
        defaultSubcommand: Run.self
    )

    /// Parses the command line with `pearircd.conf`'s options in front of `run`'s, then runs the command.
    static func main() async {
        let arguments: [String]
        do {
            arguments = try CommandLineWithConfiguration.arguments(Array(CommandLine.arguments.dropFirst()))
        } catch {
            FileHandle.standardError.write(Data("pearircd: \(error)\n".utf8))
            Foundation.exit(64)
        }
        do {
            var command = try parseAsRoot(arguments)
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            exit(withError: error)
        }
    }
}

/// Options every subcommand shares.
struct CommonOptions: ParsableArguments {
    @Option(
        name: .customLong("data-dir"),
        help: "Directory for identity, logs and certificates (default: $XDG_DATA_HOME/pearircd).",
        completion: .directory)
    var dataDirectory: String?

    var resolvedDataDirectory: DataDirectory {
        if let dataDirectory {
            return DataDirectory(url: URL(fileURLWithPath: dataDirectory))
        }
        return DataDirectory.standard()
    }
}
