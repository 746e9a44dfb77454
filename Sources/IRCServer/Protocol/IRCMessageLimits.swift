/// Size limits applied to one IRC line, by both `IRCMessageParser` and `IRCMessageEncoder`.
///
/// The defaults follow RFC 1459/2812 and IRCv3 message-tags: 512 bytes for the non-tag part including CR LF (so 510
/// without), 8191 bytes for the tag section including the leading `@` and the space that ends it, and 15 params.
public struct IRCMessageLimits: Hashable, Sendable {
    /// Maximum bytes of the non-tag part of a line (source, command, params), CR LF excluded. RFC 1459: 512 − 2.
    public var maxBodyBytes: Int
    /// Maximum bytes of the tag section, counting the leading `@` and the one space that ends it. IRCv3: 8191.
    public var maxTagSectionBytes: Int
    /// Maximum number of params. RFC 2812: 15; the 15th swallows the rest of the line (see `IRCMessageParser`).
    public var maxParams: Int

    public init(maxBodyBytes: Int = 510, maxTagSectionBytes: Int = 8191, maxParams: Int = 15) {
        self.maxBodyBytes = maxBodyBytes
        self.maxTagSectionBytes = maxTagSectionBytes
        self.maxParams = maxParams
    }

    /// RFC 1459 / IRCv3 defaults.
    public static let standard = IRCMessageLimits()

    /// The longest complete line these limits allow, terminator excluded: tag section plus body. This is the bound a
    /// line framer should use so that every line the parser could accept reaches it.
    public var maxLineBytes: Int { maxTagSectionBytes + maxBodyBytes }
}
