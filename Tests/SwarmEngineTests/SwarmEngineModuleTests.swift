import SwarmEngine
import Testing

@Suite struct SwarmEngineModuleTests {
    @Test func defaultDHTPort() {
        #expect(SwarmEngineModule.defaultDHTPort == 49737)
    }
}
