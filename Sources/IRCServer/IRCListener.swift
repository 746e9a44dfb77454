/// The IRC front end's entry type. Planned (issue 5): the NIO server on 6667/6697 that speaks RFC 1459/2812 and
/// IRCv3 to clients and talks to a `ChatBackend`. Nothing here yet knows about P2P.
public enum IRCServerModule {
    /// Default plain-text listener port.
    public static let defaultPlainPort = 6667
    /// Default TLS listener port.
    public static let defaultTLSPort = 6697
}
