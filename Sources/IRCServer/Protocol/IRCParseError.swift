/// Why `IRCMessageParser` refused a line. Each case says what was wrong so the session can answer with the right
/// numeric (e.g. `bodyTooLong` → `ERR_INPUTTOOLONG`, `invalidCommand` → `ERR_UNKNOWNCOMMAND`) or ignore the line.
public enum IRCParseError: Error, Hashable, Sendable {
    /// The line is empty or only spaces. RFC 1459: empty messages are silently ignored.
    case emptyLine
    /// The line contains a NUL byte, which IRC never allows.
    case containsNUL
    /// The line contains CR or LF; lines must be framed (see `IRCLineFramer`) before parsing.
    case containsLineBreak
    /// The line is not valid UTF-8 and the parser was told to reject such lines.
    case invalidUTF8
    /// The tag section (with its `@` and ending space) is longer than the limit.
    case tagsTooLong(length: Int, limit: Int)
    /// The non-tag part is longer than the limit.
    case bodyTooLong(length: Int, limit: Int)
    /// A tag key is not `[+][vendor/]name` with a name of letters, digits and `-`.
    case invalidTagKey(String)
    /// A `:` prefix with nothing after it.
    case emptySource
    /// There is no command after the tags or source.
    case missingCommand
    /// The command is neither letters only nor exactly three digits. Carries the command text as received.
    case invalidCommand(String)
}
