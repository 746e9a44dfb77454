// nio-floor: the least IRC server SwiftNIO allows, kept only to measure the memory floor of any NIO server (issue
// 5's benchmark: pearircd's memory next to InspIRCd's and ngircd's). It registers a client with 001 once it has
// sent USER, answers PING, and ignores everything else: no nicks, no channels, no per-client record. It binds,
// reads and links exactly as pearircd's listener does (one event loop, the same read allocator, the same release
// linking), so `pear-bench floor` shows what a connection and a process cost before pearircd holds anything.
//   nio-floor [PORT]    prints `listening plain 127.0.0.1 PORT` once bound (PORT 0 or absent: any free port)
import NIOCore
import NIOPosix

#if canImport(Glibc)
import Glibc
#endif

/// Splits the bytes of one connection into lines and answers the two commands a load client waits for.
final class FloorHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// The unterminated end of the last read; empty (no allocation) between whole lines, as on an idle connection.
    private var partialLine: [UInt8] = []

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        partialLine += bytes.readBytes(length: bytes.readableBytes) ?? []
        // A line longer than IRC allows (512 bytes plus 8191 of tags) is not a client we measure: close it rather
        // than hold its bytes without bound.
        guard partialLine.count <= 8_703 || partialLine.contains(UInt8(ascii: "\n")) else {
            partialLine = []
            context.close(promise: nil)
            return
        }
        var replies = ""
        while let end = partialLine.firstIndex(of: UInt8(ascii: "\n")) {
            let line = String(decoding: partialLine[..<end], as: UTF8.self).trimmingCharacters(in: "\r")
            partialLine.removeSubrange(...end)
            if line.hasPrefix("USER ") {
                replies += ":floor 001 client :Welcome\r\n"
            } else if line.hasPrefix("PING ") {
                replies += ":floor PONG floor \(line.dropFirst(5))\r\n"
            }
        }
        if partialLine.isEmpty { partialLine = [] }  // give back the capacity an idle connection would otherwise keep
        guard !replies.isEmpty else { return }
        context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(string: replies)), promise: nil)
    }
}

extension String {
    fileprivate func trimmingCharacters(in character: Character) -> String {
        var text = Substring(self)
        while text.last == character { text = text.dropLast() }
        return String(text)
    }
}

// A parent that starts us from a thread with SIGTERM blocked (Foundation's Process from a Dispatch worker does) hands
// that mask down; unblock it so `terminate()` ends us, before any event loop thread inherits the mask.
var terminationSignals = sigset_t()
sigemptyset(&terminationSignals)
sigaddset(&terminationSignals, SIGTERM)
sigaddset(&terminationSignals, SIGINT)
pthread_sigmask(SIG_UNBLOCK, &terminationSignals, nil)

let port = CommandLine.arguments.dropFirst().first.flatMap { Int($0) } ?? 0
let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
let listener = try ServerBootstrap(group: group)
    .serverChannelOption(.backlog, value: 256)
    .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
    .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
    .childChannelOption(.recvAllocator, value: AdaptiveRecvByteBufferAllocator(minimum: 64, initial: 256, maximum: 65536))
    .childChannelInitializer { channel in
        channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(FloorHandler()) }
    }
    .bind(host: "127.0.0.1", port: port).wait()
print("listening plain 127.0.0.1 \(listener.localAddress?.port ?? port)")
fflush(nil)  // flushes every output stream; naming the C `stdout` global is not concurrency-safe in Swift 6
try listener.closeFuture.wait()
