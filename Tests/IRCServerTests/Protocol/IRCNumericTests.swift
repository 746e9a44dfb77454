import IRCServer
import Testing

@Suite struct IRCNumericTests {
    @Test func codesAndNamesAreUnique() {
        #expect(Set(IRCNumeric.all.map(\.code)).count == IRCNumeric.all.count)
        #expect(Set(IRCNumeric.all.map(\.name)).count == IRCNumeric.all.count)
        #expect(IRCNumeric.all.map(\.code) == IRCNumeric.all.map(\.code).sorted())
        #expect(IRCNumeric.all.allSatisfy { $0.code <= 999 })
        #expect(IRCNumeric.all.allSatisfy { $0.name.hasPrefix("RPL_") || $0.name.hasPrefix("ERR_") })
    }

    @Test func wellKnownCodes() {
        #expect(IRCNumeric.rplWelcome.text == "001")
        #expect(IRCNumeric.rplISupport.code == 5)
        #expect(IRCNumeric.errUnknownCommand.code == 421)
        #expect(IRCNumeric.errNeedMoreParams.code == 461)
        #expect(IRCNumeric.errInputTooLong.code == 417)
        #expect(IRCNumeric.errNicknameInUse.code == 433)
        #expect(IRCNumeric.rplNamReply.code == 353)
        #expect(IRCNumeric.rplWhoSpcRpl.code == 354)
        #expect(IRCNumeric.named(code: 433) == .errNicknameInUse)
        #expect(IRCNumeric.named(code: 999) == nil)
        #expect(IRCNumeric.rplWelcome.description == "001 RPL_WELCOME")
    }

    @Test func saslNumericsAre900To908() {
        let sasl: [IRCNumeric] = [
            .rplLoggedIn, .rplLoggedOut, .errNickLocked, .rplSASLSuccess, .errSASLFail, .errSASLTooLong,
            .errSASLAborted, .errSASLAlready, .rplSASLMechs,
        ]
        #expect(sasl.map(\.code) == Array(900...908))
    }

    @Test func monitorNumericsAre730To734() {
        let monitor: [IRCNumeric] = [.rplMonOnline, .rplMonOffline, .rplMonList, .rplEndOfMonList, .errMonListFull]
        #expect(monitor.map(\.code) == Array(730...734))
    }
}
