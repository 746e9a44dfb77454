import Foundation
import Glibc
import NIOCore
import NIOPosix

/// A Linux network namespace the test creates for itself (`ip netns add`), with only a loopback interface, optional
/// iptables rules (random loss with the `statistic` match: the kernel here has no netem), and an event loop whose
/// thread has entered it, so that every socket bound from that loop lives in the namespace and nothing reaches the
/// host's network. Needs root, `ip` and `iptables`; `unavailable` says why not where they are missing.
final class NetworkNamespace: @unchecked Sendable {
    let name: String
    let group: MultiThreadedEventLoopGroup
    var loop: any EventLoop { group.next() }

    /// Why namespaces cannot be used here, or nil when they can.
    static var unavailable: String? {
        guard getuid() == 0 else { return "not root" }
        for tool in ["/usr/sbin/ip", "/usr/sbin/iptables"] where !FileManager.default.isExecutableFile(atPath: tool) {
            return "\(tool) is missing (apt-get install iproute2 iptables)"
        }
        return nil
    }

    init(lossPercent: Double = 0) throws {
        name = "pearudx-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try Self.run("/usr/sbin/ip", "netns", "add", name)
        do {
            try Self.run("/usr/sbin/ip", "-n", name, "link", "set", "lo", "up")
            if lossPercent > 0 {
                // Every datagram delivered in the namespace faces the same chance of being dropped.
                try Self.run(
                    "/usr/sbin/ip", "netns", "exec", name, "/usr/sbin/iptables", "-A", "INPUT", "-p", "udp", "-m",
                    "statistic", "--mode", "random", "--probability", String(lossPercent / 100), "-j", "DROP")
            }
            group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
            let path = "/var/run/netns/\(name)"
            try group.next().submit {
                let descriptor = open(path, O_RDONLY)
                guard descriptor >= 0 else { throw Failure.enter(path, errno) }
                defer { close(descriptor) }
                guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "setns") else {
                    throw Failure.enter("setns", ENOSYS)
                }
                let setns = unsafeBitCast(symbol, to: (@convention(c) (Int32, Int32) -> Int32).self)
                // CLONE_NEWNET: only this thread (the loop's) moves; the test process stays where it is.
                guard setns(descriptor, 0x4000_0000) == 0 else { throw Failure.enter(path, errno) }
            }.wait()
        } catch {
            try? Self.run("/usr/sbin/ip", "netns", "del", name)
            throw error
        }
    }

    func remove() async {
        try? await group.shutdownGracefully()
        try? Self.run("/usr/sbin/ip", "netns", "del", name)
    }

    enum Failure: Error, CustomStringConvertible {
        case command(String, Int32)
        case enter(String, Int32)
        var description: String {
            switch self {
            case .command(let line, let status): "\(line) exited with \(status)"
            case .enter(let what, let code): "could not enter the namespace (\(what)): errno \(code)"
            }
        }
    }

    static func run(_ arguments: String...) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: arguments[0])
        process.arguments = Array(arguments.dropFirst())
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw Failure.command(arguments.joined(separator: " "), process.terminationStatus)
        }
    }
}

/// A UDP relay that delays every datagram by a fixed time each way (and by up to `jitter` more, which reorders):
/// the "link" of the lossy-path tests, since the kernel here has no netem. It knows its two ends; a datagram from
/// one goes to the other.
final class UDPDelayRelay: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    typealias OutboundOut = AddressedEnvelope<ByteBuffer>

    private let delay: TimeAmount
    private let jitter: TimeAmount
    var ends: (SocketAddress, SocketAddress)?
    private(set) var forwarded = 0

    init(delay: TimeAmount, jitter: TimeAmount = .zero) {
        self.delay = delay
        self.jitter = jitter
    }

    static func start(on loop: any EventLoop, delay: TimeAmount, jitter: TimeAmount = .zero) async throws -> (
        UDPDelayRelay, any Channel
    ) {
        let relay = UDPDelayRelay(delay: delay, jitter: jitter)
        let channel = try await loop.flatSubmit {
            DatagramBootstrap(group: loop)
                .channelOption(.socketOption(.so_rcvbuf), value: 4 << 20)
                .channelOption(.socketOption(.so_sndbuf), value: 4 << 20)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(relay) }
                }
                .bind(host: "127.0.0.1", port: 0)
        }.get()
        return (relay, channel)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        guard let (a, b) = ends else { return }
        let target = envelope.remoteAddress == a ? b : a
        var wait = delay
        if jitter.nanoseconds > 0 { wait = wait + .nanoseconds(Int64.random(in: 0...jitter.nanoseconds)) }
        let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
        forwarded += 1
        context.eventLoop.scheduleTask(in: wait) {
            let context = bound.value
            context.writeAndFlush(
                NIOAny(AddressedEnvelope(remoteAddress: target, data: envelope.data)), promise: nil)
        }
    }
}
