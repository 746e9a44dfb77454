import IRCServer
import Testing

@Suite struct IRCServerModuleTests {
    @Test func defaultPorts() {
        #expect(IRCServerModule.defaultPlainPort == 6667)
        #expect(IRCServerModule.defaultTLSPort == 6697)
    }
}
