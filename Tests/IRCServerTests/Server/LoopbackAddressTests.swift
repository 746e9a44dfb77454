import IRCServer
import Testing

/// One loopback rule for flood control, per-address limits, passwords in the clear and listener checks: parsed
/// addresses, never a name that looks like one.
@Suite struct LoopbackAddressTests {
    @Test(arguments: [
        ("localhost", true), ("127.0.0.1", true), ("127.255.1.2", true), ("::1", true), ("::ffff:127.0.0.1", true),
        ("::ffff:127.0.0.2", true), ("128.0.0.1", false), ("10.0.0.1", false), ("0.0.0.0", false), ("::", false),
        ("::2", false), ("::ffff:10.0.0.1", false), ("127.example.org", false), ("127.0.0.1.nip.io", false), ("", false),
        ("127.0.0.1\0", false),
    ])
    func loopbackIsParsed(_ host: String, _ loopback: Bool) {
        #expect(LoopbackAddress.contains(host) == loopback, "\(host)")
    }
}
