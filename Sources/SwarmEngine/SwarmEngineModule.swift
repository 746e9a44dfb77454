/// Networking entry type. Planned (issue 4 on): Noise + secret-stream connections, protomux, UDX, HyperDHT.
public enum SwarmEngineModule {
    /// The default HyperDHT port the reference uses.
    public static let defaultDHTPort = 49737
}
