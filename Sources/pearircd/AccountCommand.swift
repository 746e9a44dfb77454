import ArgumentParser
import Foundation
import HyperLog
import PearBridge

/// `pearircd account …`: the gateway's accounts (issue 20), in `accounts.sqlite` in the data directory. Works while the
/// daemon runs: the database is the source of truth.
struct AccountCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "account",
        abstract: "Manage the gateway's accounts (add, passwd, remove, list, role, disable, enable, certfp, registration).",
        subcommands: [
            Add.self, Passwd.self, Remove.self, List.self, Role.self, Disable.self, Enable.self, Certfp.self, Registration.self,
        ])

    static func database(_ common: CommonOptions) throws -> (AccountDatabase, DataDirectory) {
        let directory = common.resolvedDataDirectory
        try directory.prepare()
        return (try AccountDatabase(in: directory), directory)
    }

    static func name(_ text: String) throws -> AccountName {
        do { return try AccountName(text) } catch { throw ValidationError("\(error)") }
    }

    /// The password: asked twice without echo at a terminal, else read as one line from standard input (scripts).
    static func readPassword(for name: String) throws -> [UInt8] {
        guard isatty(STDIN_FILENO) == 1 else {
            guard let line = readLine(strippingNewline: true) else { throw ValidationError("no password on standard input") }
            return Array(line.utf8)
        }
        let first = try prompt("Password for \(name): ")
        let second = try prompt("Again: ")
        guard first == second else { throw ValidationError("the two passwords differ; nothing changed") }
        return first
    }

    /// One line from the terminal with echo off (restored even when reading fails).
    static func prompt(_ text: String) throws -> [UInt8] {
        FileHandle.standardError.write(Data(text.utf8))
        var saved = termios()
        tcgetattr(STDIN_FILENO, &saved)
        var quiet = saved
        quiet.c_lflag &= ~tcflag_t(ECHO)
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet)
        defer {
            tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved)
            FileHandle.standardError.write(Data("\n".utf8))
        }
        guard let line = readLine(strippingNewline: true) else { throw ValidationError("no password given") }
        return Array(line.utf8)
    }

    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add an account (the password is asked for, or read from standard input when it is not a terminal).")
        @OptionGroup var common: CommonOptions
        @Argument(help: "The account's name: letters, digits, - and _, starting with a letter, at most 32.") var name: String
        @Flag(help: "Make the account an admin (the first account always is).") var admin = false

        func run() throws {
            let (database, directory) = try AccountCommand.database(common)
            let name = try AccountCommand.name(name)
            // The first account keeps the gateway's identity, so the people who know its key keep knowing it.
            let first = try database.isEmpty
            let identity = first ? try Identity.loadOrCreate(in: directory).keyPair : nil
            let password = try AccountCommand.readPassword(for: name.text)
            let account = try database.add(name, password: password, role: first || admin ? .admin : .user, identity: identity)
            print("added \(account.name) (\(account.role.rawValue)), identity \(ZBase32.encode(account.identity))"
                + (first ? " (the gateway's identity until now); from now on every IRC connection logs in" : ""))
            if !first {
                print("\(account.name) is a person of their own in the rooms: their lines are signed with this identity")
            }
        }
    }

    struct Passwd: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Set an account's password.")
        @OptionGroup var common: CommonOptions
        @Argument var name: String

        func run() throws {
            let (database, _) = try AccountCommand.database(common)
            let name = try AccountCommand.name(name)
            try database.setPassword(name, to: try AccountCommand.readPassword(for: name.text))
            print("password of \(name) changed")
        }
    }

    struct Remove: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove an account (its identity's logs stay in the store).")
        @OptionGroup var common: CommonOptions
        @Argument var name: String

        func run() throws {
            let (database, _) = try AccountCommand.database(common)
            try database.remove(try AccountCommand.name(name))
            print("removed \(name)")
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the accounts.")
        @OptionGroup var common: CommonOptions

        func run() throws {
            let (database, _) = try AccountCommand.database(common)
            let accounts = try database.list()
            if accounts.isEmpty { print("no accounts: the gateway serves one person with no login (pearircd account add NAME)") }
            let format = ISO8601DateFormatter()
            for account in accounts {
                print([
                    account.name, account.role.rawValue, account.disabled ? "disabled" : "enabled",
                    "identity \(ZBase32.encode(account.identity))", "created \(format.string(from: account.created))",
                    "last login \(account.lastLogin.map(format.string(from:)) ?? "never")",
                ].joined(separator: "  "))
            }
        }
    }

    struct Role: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Set an account's role.")
        @OptionGroup var common: CommonOptions
        @Argument var name: String
        @Argument(help: "admin or user") var role: String

        func run() throws {
            guard let role = AccountRole(rawValue: role) else { throw ValidationError("a role is admin or user") }
            let (database, _) = try AccountCommand.database(common)
            try database.setRole(try AccountCommand.name(name), to: role)
            print("\(name) is now \(role.rawValue)")
        }
    }

    struct Registration: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Whether people may make their own accounts over IRC (REGISTER): open, closed, or (no argument) show.")
        @OptionGroup var common: CommonOptions
        @Argument(help: "open or closed") var state: String?

        func run() throws {
            let (database, _) = try AccountCommand.database(common)
            switch state?.lowercased() {
            case nil:
                break
            case "open":
                guard try !database.isEmpty else {
                    throw ValidationError("this gateway has no accounts yet: add yours first (pearircd account add NAME)")
                }
                try database.setRegistration(open: true)
            case "closed", "close":
                try database.setRegistration(open: false)
            default:
                throw ValidationError("registration is open or closed")
            }
            print(try database.registrationOpen
                ? "registration is open: anyone who reaches the gateway can make an account (a user, not an admin) with REGISTER"
                : "registration is closed: only admins add accounts")
        }
    }

    struct Disable: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Disable an account (it can no longer log in).")
        @OptionGroup var common: CommonOptions
        @Argument var name: String

        func run() throws {
            let (database, _) = try AccountCommand.database(common)
            try database.setDisabled(try AccountCommand.name(name), true)
            print("\(name) disabled")
        }
    }

    struct Enable: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Enable a disabled account.")
        @OptionGroup var common: CommonOptions
        @Argument var name: String

        func run() throws {
            let (database, _) = try AccountCommand.database(common)
            try database.setDisabled(try AccountCommand.name(name), false)
            print("\(name) enabled")
        }
    }

    struct Certfp: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Let a TLS client certificate log in to an account (SASL EXTERNAL), or stop it.",
            subcommands: [AddCertificate.self, RemoveCertificate.self, ListCertificates.self])
    }

    struct AddCertificate: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "add", abstract: "Register a certificate's fingerprint to an account.")
        @OptionGroup var common: CommonOptions
        @Argument var name: String
        @Argument(help: "The certificate's SHA-256 fingerprint (openssl x509 -noout -fingerprint -sha256 prints it; colons allowed).")
        var fingerprint: String

        func run() throws {
            let (database, _) = try AccountCommand.database(common)
            try database.addCertificate(fingerprint, to: try AccountCommand.name(name))
            print("\(name) can log in with that certificate (SASL EXTERNAL)")
        }
    }

    struct RemoveCertificate: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "remove", abstract: "Unregister a certificate from an account.")
        @OptionGroup var common: CommonOptions
        @Argument var name: String
        @Argument var fingerprint: String

        func run() throws {
            let (database, _) = try AccountCommand.database(common)
            try database.removeCertificate(fingerprint, from: try AccountCommand.name(name))
            print("that certificate no longer logs in to \(name)")
        }
    }

    struct ListCertificates: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "list", abstract: "The certificates that log in to an account.")
        @OptionGroup var common: CommonOptions
        @Argument var name: String

        func run() throws {
            let (database, _) = try AccountCommand.database(common)
            let found = try database.certificates(of: try AccountCommand.name(name))
            if found.isEmpty { print("no certificates log in to \(name)") }
            for fingerprint in found { print(fingerprint) }
        }
    }
}
