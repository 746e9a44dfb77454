import ArgumentParser
import PearBridge

/// `pearircd version`.
struct VersionCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "version", abstract: "Print the version.")

    func run() {
        print("pearircd \(PearIRCVersion.string)")
    }
}
