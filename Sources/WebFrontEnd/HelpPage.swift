/// The gateway's help page (`/help`): how to reach it, and the commands of its service user (PearServ), with the
/// role each needs. The commands come from the gateway (`WebListener`'s `help`), so the page says what this gateway
/// does; every text is escaped, so nothing in it is markup.
public struct HelpPage: Sendable {
    /// One service command as the page lists it.
    public struct Command: Sendable, Hashable {
        public var syntax: String
        public var summary: String
        public var adminOnly: Bool

        public init(syntax: String, summary: String, adminOnly: Bool) {
            self.syntax = syntax
            self.summary = summary
            self.adminOnly = adminOnly
        }
    }

    public var service: String
    public var commands: [Command]

    public init(service: String, commands: [Command]) {
        self.service = service
        self.commands = commands
    }

    static let path = "/help"

    var html: String {
        func rows(_ commands: [Command]) -> String {
            commands.map { "<tr><th scope=\"row\"><code>\(Self.escape($0.syntax))</code></th><td>\(Self.escape($0.summary))</td></tr>" }
                .joined(separator: "\n")
        }
        let service = Self.escape(service)
        return """
            <!doctype html>
            <html lang="en">
            <meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <title>PearIRC help</title>
            <main>
            <h1>PearIRC help</h1>
            <p>Talk to the gateway's service user with <code>/msg \(service) COMMAND</code> from any client.</p>
            <table>
            <caption>Commands for everyone</caption>
            <thead><tr><th scope="col">command</th><th scope="col">what it does</th></tr></thead>
            <tbody>
            \(rows(commands.filter { !$0.adminOnly }))
            </tbody>
            </table>
            <table>
            <caption>Commands for admins</caption>
            <thead><tr><th scope="col">command</th><th scope="col">what it does</th></tr></thead>
            <tbody>
            \(rows(commands.filter(\.adminOnly)))
            </tbody>
            </table>
            </main>
            </html>
            """
    }

    /// Text as HTML shows it, never as markup.
    static func escape(_ text: String) -> String {
        var escaped = ""
        for character in text {
            switch character {
            case "&": escaped += "&amp;"
            case "<": escaped += "&lt;"
            case ">": escaped += "&gt;"
            case "\"": escaped += "&quot;"
            case "'": escaped += "&#39;"
            default: escaped.append(character)
            }
        }
        return escaped
    }
}
