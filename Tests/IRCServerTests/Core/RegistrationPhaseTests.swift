@testable import IRCServer
import Testing

/// `RegistrationPhase` on its own; how registration plays out line by line is in `RegistrationTests`.
@Suite struct RegistrationPhaseTests {
    enum Event: String, Sendable {
        case capStarted, capEnded
    }

    @Test(arguments: [
        (RegistrationPhase.connected, Event.capStarted, RegistrationPhase.negotiatingCapabilities),
        (.negotiatingCapabilities, .capStarted, .negotiatingCapabilities),
        (.registered, .capStarted, .registered),
        (.negotiatingCapabilities, .capEnded, .connected),
        (.connected, .capEnded, .connected),
        (.registered, .capEnded, .registered),
    ])
    func transition(from: RegistrationPhase, event: Event, to: RegistrationPhase) {
        var phase = from
        switch event {
        case .capStarted: phase.capabilityNegotiationStarted()
        case .capEnded: phase.capabilityNegotiationEnded()
        }
        #expect(phase == to)
    }

    @Test func onlyAConnectedClientCompletesWithNickAndUser() {
        #expect(RegistrationPhase.connected.completesWithNickAndUser)
        #expect(!RegistrationPhase.negotiatingCapabilities.completesWithNickAndUser)
        #expect(!RegistrationPhase.registered.completesWithNickAndUser)
    }
}
