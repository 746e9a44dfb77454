import Foundation
import PearBridge
import Testing

@Suite struct ConfigurationFileTests {
    @Test func linesBecomeRunOptions() throws {
        let text = """
            # a comment, then a blank line

            peer = 203.0.113.7:7070
            peer gateway.example.org:7070
              server-name   =   pear home  
            no-tls
            motd-line = a = b
            """
        #expect(try ConfigurationFile.arguments(fromText: text) == [
            "--peer=203.0.113.7:7070", "--peer=gateway.example.org:7070", "--server-name=pear home", "--no-tls",
            "--motd-line=a = b",
        ])
        // CRLF files, and values that start with a dash.
        #expect(try ConfigurationFile.arguments(fromText: "# windows\r\npeer = a:1\r\noper = -x:y\r\n") == [
            "--peer=a:1", "--oper=-x:y",
        ])
        #expect(try ConfigurationFile.arguments(fromText: "").isEmpty)
    }

    @Test func mistakesAreReportedWithTheirLine() {
        #expect(throws: ConfigurationFile.SyntaxError(line: 2, reason: "'--port' is not an option name (write it without dashes)")) {
            try ConfigurationFile.arguments(fromText: "no-tls\n--port 1\n")
        }
        #expect(throws: ConfigurationFile.SyntaxError(line: 1, reason: "'peer' has an empty value")) {
            try ConfigurationFile.arguments(fromText: "peer =\n")
        }
        #expect(throws: ConfigurationFile.SyntaxError.self) { try ConfigurationFile.arguments(fromText: "pe/er 1\n") }
        #expect(throws: ConfigurationFile.SyntaxError(line: 1, reason: "'data-dir' can only be given on the command line")) {
            try ConfigurationFile.arguments(fromText: "data-dir /elsewhere\n")
        }
    }

    @Test func aMissingFileHasNoOptions() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("no-such-\(UUID().uuidString).conf")
        #expect(try ConfigurationFile.arguments(at: url).isEmpty)
    }
}
