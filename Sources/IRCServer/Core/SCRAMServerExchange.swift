import Foundation

/// The server's side of one SASL SCRAM-SHA-256 exchange (RFC 5802, RFC 7677), as a value: it reads the client's first
/// message, answers with the server-first message once the account's credentials are known, checks the client's
/// final message and answers with the server's signature. No I/O and no randomness of its own (the server nonce is
/// given), so every step is tested with RFC 7677's example.
///
/// Channel binding is not offered (`n,,` or `y,,` only; `p=` is refused): the IRC connection's TLS is terminated by
/// this process, but no client asks for it over IRC.
public struct SCRAMServerExchange: Sendable, Hashable {
    public enum Failure: Error, Sendable, Hashable {
        /// Not a SCRAM message of the expected shape.
        case malformed
        /// `p=` channel binding, an authzid (`a=`), or an extension this server does not support.
        case unsupported
        /// The client's final message carried another nonce or channel binding than the exchange's.
        case mismatch
        /// The proof does not match the credentials: wrong password (or no such account).
        case wrongProof
    }

    /// What the client's first message says.
    public struct ClientFirst: Sendable, Hashable {
        /// The account name (saslname decoded).
        public let username: String
        public let clientNonce: String
        /// `n,,` or `y,,`, as sent (it comes back base64'd in `c=`).
        let gs2Header: String
        /// The message without its gs2 header (part of the AuthMessage).
        let bare: String
    }

    public let clientFirst: ClientFirst
    private let serverFirst: String
    private let nonce: String
    private let credentials: SCRAMCredentials

    /// Parses the client's first message: `gs2-header client-first-message-bare`.
    public static func parseClientFirst(_ message: [UInt8]) throws(Failure) -> ClientFirst {
        guard let text = String(validating: message, as: UTF8.self) else { throw .malformed }
        let parts = text.split(separator: ",", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count == 3 else { throw .malformed }
        guard parts[0] == "n" || parts[0] == "y" else { throw parts[0].hasPrefix("p=") ? .unsupported : .malformed }
        guard parts[1].isEmpty else { throw .unsupported }
        let bare = String(parts[2])
        let attributes = bare.split(separator: ",", omittingEmptySubsequences: false)
        guard attributes.count >= 2, attributes[0].hasPrefix("n="), attributes[1].hasPrefix("r=") else {
            throw attributes.first?.hasPrefix("m=") == true ? .unsupported : .malformed
        }
        let nonce = String(attributes[1].dropFirst(2))
        guard !nonce.isEmpty, nonce.utf8.allSatisfy(Self.isPrintableNonComma) else { throw .malformed }
        return ClientFirst(
            username: try Self.decodeSaslname(attributes[0].dropFirst(2)), clientNonce: nonce,
            gs2Header: "\(parts[0]),,", bare: bare)
    }

    /// Starts the exchange with the account's credentials (a decoy's, for a name that has none: the client learns
    /// nothing until its proof fails) and a fresh server nonce (printable, no comma).
    public init(clientFirst: ClientFirst, credentials: SCRAMCredentials, serverNonce: String) {
        self.clientFirst = clientFirst
        self.credentials = credentials
        nonce = clientFirst.clientNonce + serverNonce
        serverFirst = "r=\(nonce),s=\(Data(credentials.salt).base64EncodedString()),i=\(credentials.iterations)"
    }

    /// The server's first message.
    public var serverFirstMessage: [UInt8] { Array(serverFirst.utf8) }

    /// Checks the client's final message; returns the server's final message (`v=…`) when the proof is right.
    public func finish(_ message: [UInt8]) throws(Failure) -> [UInt8] {
        guard let text = String(validating: message, as: UTF8.self) else { throw .malformed }
        guard let proofRange = text.range(of: ",p=", options: .backwards) else { throw .malformed }
        let withoutProof = String(text[..<proofRange.lowerBound])
        guard let proof = Data(base64Encoded: String(text[proofRange.upperBound...])) else { throw .malformed }
        let attributes = withoutProof.split(separator: ",", omittingEmptySubsequences: false)
        guard attributes.count >= 2, attributes[0].hasPrefix("c="), attributes[1].hasPrefix("r=") else { throw .malformed }
        guard attributes[0].dropFirst(2) == Data(clientFirst.gs2Header.utf8).base64EncodedString(),
            attributes[1].dropFirst(2) == nonce
        else { throw .mismatch }
        let authMessage = Array("\(clientFirst.bare),\(serverFirst),\(withoutProof)".utf8)
        guard credentials.verify(clientProof: Array(proof), authMessage: authMessage) else { throw .wrongProof }
        return Array(("v=" + Data(credentials.serverSignature(authMessage: authMessage)).base64EncodedString()).utf8)
    }

    /// RFC 5802 saslname: `=2C` is a comma, `=3D` an equals sign; any other `=` is malformed.
    static func decodeSaslname(_ text: Substring) throws(Failure) -> String {
        var out = ""
        var rest = text[...]
        while let equals = rest.firstIndex(of: "=") {
            out += rest[..<equals]
            let code = rest[rest.index(after: equals)...].prefix(2)
            switch code {
            case "2C": out += ","
            case "3D": out += "="
            default: throw .malformed
            }
            rest = rest[rest.index(equals, offsetBy: 3)...]
        }
        out += rest
        guard !out.isEmpty else { throw .malformed }
        return out
    }

    private static func isPrintableNonComma(_ byte: UInt8) -> Bool {
        byte >= 0x21 && byte <= 0x7E && byte != UInt8(ascii: ",")
    }
}
