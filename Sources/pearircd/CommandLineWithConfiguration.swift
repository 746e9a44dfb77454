import ArgumentParser
import Foundation
import PearBridge

/// Puts the options of `pearircd.conf` in front of the command line's `run` options (see `ConfigurationFile`).
enum CommandLineWithConfiguration {
    struct FileError: Error, CustomStringConvertible {
        let path: String
        let reason: String
        var description: String { "\(path): \(reason)" }
    }

    /// `given` (the arguments after the program name) with the configuration file's options inserted where `run`'s
    /// options start. Other subcommands, and help and version requests, are left alone.
    static func arguments(_ given: [String]) throws -> [String] {
        let otherCommands: Set<String> = ["identity", "account", "dht-node", "version", "help", "--help", "-h", "--version", "--generate-completion-script"]
        if let first = given.first, otherCommands.contains(first) { return given }
        if given.contains("--help") || given.contains("-h") { return given }
        let runStart = given.first == "run" ? 1 : 0
        let runArguments = Array(given[runStart...])
        let explicit = value(of: "--config", in: runArguments)
        let path = explicit ?? dataDirectory(in: runArguments).file(ConfigurationFile.defaultName).path
        // The default file is optional; one named with --config must exist.
        if explicit != nil, !FileManager.default.fileExists(atPath: path) {
            throw FileError(path: path, reason: "no such file")
        }
        let fileArguments: [String]
        do {
            fileArguments = try ConfigurationFile.arguments(at: URL(fileURLWithPath: path))
        } catch {
            throw FileError(path: path, reason: "\(error)")
        }
        guard !fileArguments.isEmpty else { return given }
        // Checked on their own first, so a mistake in the file is reported as one.
        do {
            _ = try Run.parse(fileArguments)
        } catch {
            throw FileError(path: path, reason: Run.message(for: error))
        }
        return Array(given[..<runStart]) + fileArguments + runArguments
    }

    static func value(of option: String, in arguments: [String]) -> String? {
        for (index, argument) in arguments.enumerated() {
            if argument == option, index + 1 < arguments.count { return arguments[index + 1] }
            if argument.hasPrefix(option + "=") { return String(argument.dropFirst(option.count + 1)) }
        }
        return nil
    }

    static func dataDirectory(in arguments: [String]) -> DataDirectory {
        value(of: "--data-dir", in: arguments).map { DataDirectory(url: URL(fileURLWithPath: $0)) } ?? DataDirectory.standard()
    }
}
