/// Why `IRCMessageEncoder` refused to serialise a message. Refusing is what keeps a peer's text from injecting a
/// second line (CR/LF), truncating one (NUL), or shifting params (a space in a middle param).
public enum IRCEncodeError: Error, Hashable, Sendable {
    /// Why one param cannot be written.
    public enum ParamProblem: Hashable, Sendable {
        /// Contains CR, LF or NUL, which no param may.
        case containsLineBreakOrNUL
        /// A param other than the last is empty (only the last can be written as `:`).
        case emptyMiddle
        /// A param other than the last contains a space.
        case middleContainsSpace
        /// A param other than the last starts with `:`.
        case middleStartsWithColon
    }

    /// The tag key is not `[+][vendor/]name`.
    case invalidTagKey(String)
    /// The tag value contains NUL, which has no escape.
    case tagValueContainsNUL(key: String)
    /// The source is empty, contains a space, CR, LF or NUL, or its nick/user contain the `!`/`@` separators.
    case invalidSource(String)
    /// The verb is empty or not all ASCII letters, or the numeric is above 999.
    case invalidCommand(String)
    /// Param number `index` (0-based) cannot be written.
    case invalidParam(index: Int, problem: ParamProblem)
    /// More params than the limit.
    case tooManyParams(count: Int, limit: Int)
    /// The encoded tag section (with `@` and ending space) is longer than the limit.
    case tagsTooLong(length: Int, limit: Int)
    /// The encoded non-tag part (without CR LF) is longer than the limit.
    case bodyTooLong(length: Int, limit: Int)
}
