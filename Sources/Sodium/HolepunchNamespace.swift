/// Domain-separation constants of the Holepunch stack: `namespace(name, count)` from `hypercore-crypto`,
/// `ns = BLAKE2b-256(UTF-8 name)` and `namespace[i] = BLAKE2b-256(ns ‖ byte i)`.
public enum HolepunchNamespace {
    public static func derive(_ name: String, count: Int) -> [[UInt8]] {
        let nameHash = BLAKE2b.hash256(Array(name.utf8))
        return (0..<count).map { BLAKE2b.hash256(nameHash + [UInt8(truncatingIfNeeded: $0)]) }
    }
}
