/// The `pearirc/relay/v1` protomux channel: a gateway that is reachable and relays (`--no-relaying` turns it off)
/// opens it on every connection, once, with its blind relay's public key (32 bytes) as the handshake and no id. A
/// peer that cannot punch through to another gateway (both behind NATs that pick a new port per destination) names
/// one of the relays its peers offer, and the two meet there (HyperDHT's `relayThrough`). No messages.
public enum RelayOffer {
    public static let protocolName = "pearirc/relay/v1"
}
