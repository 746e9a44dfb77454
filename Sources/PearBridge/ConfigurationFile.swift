import Foundation

/// `pearircd.conf`: the `run` options kept in a file, so a gateway's peers and ports need not be typed each time.
///
/// One option per line, named as on the command line without the leading dashes: `name value`, `name = value`, or
/// a bare `name` for a flag. Blank lines and lines starting with `#` are ignored; a value runs to the end of the
/// line (surrounding spaces dropped, quotes kept as written). Repeatable options (`peer`, `oper`, …) may appear on
/// several lines. The file's options come before the command line's, so the command line wins for single-valued
/// options and adds to repeatable ones.
///
/// ```
/// # ~/.local/share/pearircd/pearircd.conf
/// peer = 203.0.113.7:7070
/// peer = gateway.example.org:7070
/// server-name = pear.home
/// no-tls
/// ```
public enum ConfigurationFile {
    /// The file `run` reads unless `--config` names another.
    public static let defaultName = "pearircd.conf"

    public struct SyntaxError: Error, Equatable, CustomStringConvertible {
        public let line: Int
        public let reason: String
        public var description: String { "line \(line): \(reason)" }

        public init(line: Int, reason: String) {
            self.line = line
            self.reason = reason
        }
    }

    /// The command-line arguments the file's text stands for.
    public static func arguments(fromText text: String) throws(SyntaxError) -> [String] {
        var arguments: [String] = []
        // Split on any line break: in Swift "\r\n" is one Character, so splitting on "\n" would miss CRLF files.
        for (offset, rawLine) in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).enumerated() {
            let line = rawLine.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") { continue }
            let name: Substring, value: Substring?
            if let separator = line.firstIndex(where: { $0 == "=" || $0 == " " || $0 == "\t" }) {
                name = line[..<separator]
                var rest = line[line.index(after: separator)...].drop { $0 == " " || $0 == "\t" }
                if line[separator] != "=", rest.first == "=" { rest = rest.dropFirst().drop { $0 == " " || $0 == "\t" } }
                value = rest
            } else {
                name = Substring(line)
                value = nil
            }
            guard !name.isEmpty, !name.hasPrefix("-"), name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" }) else {
                throw SyntaxError(line: offset + 1, reason: "'\(name)' is not an option name (write it without dashes)")
            }
            // Where the file is, and which data directory holds it, are the command line's to say.
            guard !["config", "data-dir"].contains(name) else {
                throw SyntaxError(line: offset + 1, reason: "'\(name)' can only be given on the command line")
            }
            if let value {
                guard !value.isEmpty else { throw SyntaxError(line: offset + 1, reason: "'\(name)' has an empty value") }
                // `--name=value`, so a value starting with `-` is not taken for an option.
                arguments.append("--\(name)=\(value)")
            } else {
                arguments.append("--" + name)
            }
        }
        return arguments
    }

    /// The arguments of the file at `url`, or none when there is no file there.
    public static func arguments(at url: URL) throws -> [String] {
        guard FileManager.default.fileExists(atPath: url.path) else { return [] }
        return try arguments(fromText: String(contentsOf: url, encoding: .utf8))
    }
}
