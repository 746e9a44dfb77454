/// One IRC protocol message: optional IRCv3 tags, optional source, a command and its params.
///
/// A plain value; `IRCMessageParser` builds it from the bytes of one line and `IRCMessageEncoder` writes it back.
/// Params are stored without the wire's `:` marker: whether the last one needs `:` is the encoder's business.
public struct IRCMessage: Hashable, Sendable {
    public var tags: IRCTags
    public var source: IRCSource?
    public var command: IRCCommand
    public var params: [String]

    public init(tags: IRCTags = IRCTags(), source: IRCSource? = nil, command: IRCCommand, params: [String] = []) {
        self.tags = tags
        self.source = source
        self.command = command
        self.params = params
    }

    /// A message with a verb command, e.g. `IRCMessage("PRIVMSG", "#rust", "hello")`.
    public init(source: IRCSource? = nil, _ verb: String, _ params: String...) {
        self.init(source: source, command: .verb(verb), params: params)
    }

    /// A numeric reply, e.g. `IRCMessage(source: server, .rplWelcome, ["alice", "Welcome"])`.
    public init(tags: IRCTags = IRCTags(), source: IRCSource? = nil, _ numeric: IRCNumeric, _ params: [String]) {
        self.init(tags: tags, source: source, command: IRCCommand(numeric), params: params)
    }
}
