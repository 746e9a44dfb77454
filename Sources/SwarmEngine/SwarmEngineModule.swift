/// Networking: Noise (`Noise/`), secret-stream (`SecretStream/`), protomux (`Protomux/`) and the TCP transport
/// (`Transport/`); wire formats in docs/swarm-protocol.md. Planned: UDX, HyperDHT, hole punching.
public enum SwarmEngineModule {
    /// The default HyperDHT port the reference uses.
    public static let defaultDHTPort = 49737
}
