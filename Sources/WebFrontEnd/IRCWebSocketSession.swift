import IRCServer
import Logging
import NIOCore
import WSCore

/// One IRC client over a WebSocket (IRCv3 WebSocket): each frame from the client is one IRC line (text or binary,
/// without CR LF), handed to the IRC core as a TCP client's line is; each line the core sends is one frame, text
/// under `text.ircv3.net` (or no subprotocol), binary under `binary.ircv3.net`. The client gets the same limits as a
/// TCP one: the core's line length (a longer frame is an oversized line), flood control and SendQ.
enum IRCWebSocketSession {
    /// The longest frame taken: the longest IRC line with tags (8,191 + 512 bytes).
    static let maximumFrame = 8191 + 512

    static func run(
        core: IRCServerCore, inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter, host: String, secure: Bool,
        subprotocol: WebSocketSubprotocol?, sendQueueLimit: Int, channel: (any Channel)?, logger: Logger
    ) async throws {
        let output = WebSocketLineOutput(limit: sendQueueLimit, channel: channel)
        guard let id = await core.connect(output: output, host: host, secure: secure, certificateFingerprint: nil) else {
            // Refused (the server is full); the core wrote its ERROR line into the output.
            try await writeAll(output, to: outbound, binary: subprotocol == .binary)
            return
        }
        let binary = subprotocol == .binary
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                try await writeAll(output, to: outbound, binary: binary)
                // The core closed the client: the socket goes too (ending the read loop below).
                try? await outbound.close(.normalClosure, reason: nil)
            }
            do {
                for try await message in inbound.messages(maxSize: maximumFrame) {
                    let bytes: [UInt8]
                    switch message {
                    case .text(let text): bytes = Array(text.utf8)
                    case .binary(let buffer): bytes = Array(buffer.readableBytesView)
                    }
                    await deliver(bytes, from: id, to: core)
                }
            } catch {
                logger.debug("websocket client ended with an error", metadata: ["error": "\(error)"])
            }
            await core.disconnected(id, reason: output.closeReason ?? "Connection closed")
            output.ended()
            group.cancelAll()
        }
    }

    /// One frame: a line (a trailing CR LF tolerated), handled as a TCP client's line is.
    static func deliver(_ frame: [UInt8], from id: ClientID, to core: IRCServerCore) async {
        var line = frame[...]
        while let last = line.last, last == UInt8(ascii: "\n") || last == UInt8(ascii: "\r") { line = line.dropLast() }
        guard !line.isEmpty else { return }
        // One frame is one line: a frame holding several is refused by the parser (a line break inside a line).
        await core.received(line: Array(line), from: id)
    }

    /// Sends what the core queued, one frame per line, until the output closes.
    static func writeAll(_ output: WebSocketLineOutput, to outbound: WebSocketOutboundWriter, binary: Bool) async throws {
        for await item in output.items {
            switch item {
            case .line(let bytes):
                if binary {
                    try await outbound.write(.binary(ByteBuffer(bytes: bytes)))
                } else {
                    // Text frames must be UTF-8: a line that is not (a legacy client's) goes with U+FFFD in place.
                    try await outbound.write(.text(String(decoding: bytes, as: UTF8.self)))
                }
                output.written(bytes.count + 2)
            case .close:
                return
            }
        }
    }
}
