/// An account's name on a gateway: what people log in with (SASL, `PASS account:password`), unique here regardless of
/// case. Letters, digits, `-` and `_`, 1 to 32 of them, starting with a letter: it must fit in an IRC nick and a SASL
/// authcid, and a name that only differs by case or by look-alike characters is not a second account.
public struct AccountName: Hashable, Sendable, CustomStringConvertible {
    public static let maximumLength = 32

    /// As given (shown back as the owner wrote it).
    public let text: String
    /// Lowercased ASCII: what uniqueness and look-ups use.
    public let folded: String

    public enum Failure: Error, Equatable, CustomStringConvertible {
        case empty
        case tooLong(Int)
        case invalidCharacter
        case mustStartWithALetter

        public var description: String {
            switch self {
            case .empty: "an account name cannot be empty"
            case .tooLong(let count): "an account name has at most \(AccountName.maximumLength) characters (this one has \(count))"
            case .invalidCharacter: "an account name holds only letters, digits, - and _ (ASCII)"
            case .mustStartWithALetter: "an account name starts with a letter"
            }
        }
    }

    public init(_ text: String) throws(Failure) {
        let bytes = Array(text.utf8)
        guard !bytes.isEmpty else { throw .empty }
        guard bytes.count <= Self.maximumLength else { throw .tooLong(bytes.count) }
        guard bytes.allSatisfy(Self.isAllowed) else { throw .invalidCharacter }
        guard Self.isLetter(bytes[0]) else { throw .mustStartWithALetter }
        self.text = text
        folded = String(decoding: bytes.map { Self.isUpper($0) ? $0 + 32 : $0 }, as: UTF8.self)
    }

    public var description: String { text }

    /// The folded form of a name already known to be valid (one read back from the database).
    static func fold(_ text: String) -> String {
        String(decoding: text.utf8.map { isUpper($0) ? $0 + 32 : $0 }, as: UTF8.self)
    }

    private static func isUpper(_ byte: UInt8) -> Bool { byte >= 0x41 && byte <= 0x5A }
    private static func isLetter(_ byte: UInt8) -> Bool { isUpper(byte) || (byte >= 0x61 && byte <= 0x7A) }
    private static func isAllowed(_ byte: UInt8) -> Bool {
        isLetter(byte) || (byte >= 0x30 && byte <= 0x39) || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "_")
    }
}
