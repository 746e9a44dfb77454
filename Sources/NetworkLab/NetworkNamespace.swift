import Foundation
import Glibc
import LoopExecutors
import NIOCore
import NIOPosix

/// A Linux network namespace the test creates for itself (`ip netns add`), with only a loopback interface, optional
/// iptables rules (random loss with the `statistic` match: the kernel here has no netem), and an event loop whose
/// thread has entered it, so that every socket bound from that loop lives in the namespace and nothing reaches the
/// host's network. Needs root, `ip` and `iptables`; `unavailable` says why not where they are missing. Used by the
/// lossy-path tests and by `pear-bench udx-lossy`.
public final class NetworkNamespace: @unchecked Sendable {
    public let name: String
    /// Whether TCP segmentation offload is off on the namespace's loopback (see `init`).
    public private(set) var offloadsDisabled = false
    public let group: MultiThreadedEventLoopGroup
    public var loop: any EventLoop { group.next() }

    /// Why namespaces cannot be used here, or nil when they can.
    public static var unavailable: String? {
        guard getuid() == 0 else { return "not root" }
        for tool in ["/usr/sbin/ip", "/usr/sbin/iptables"] where !FileManager.default.isExecutableFile(atPath: tool) {
            return "\(tool) is missing (apt-get install iproute2 iptables)"
        }
        return nil
    }

    /// `lossPercent` of every packet delivered in the namespace (any protocol) is dropped. The loopback interface
    /// gets `mtu` (an Internet path's 1,500 by default: at loopback's own 65,536 one TCP segment would carry what
    /// takes UDX 57 packets, and random loss would hit the two very differently).
    public init(lossPercent: Double = 0, mtu: Int = 1500) throws {
        name = "pearudx-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try Self.run("/usr/sbin/ip", "netns", "add", name)
        do {
            try Self.run("/usr/sbin/ip", "-n", name, "link", "set", "lo", "mtu", String(mtu), "up")
            // Without segmentation offload TCP's segments are MTU-sized packets as on a real path (loopback would
            // pass 64 KiB ones, and the random loss would hit one packet where UDX sends 57); the same for UDX's
            // trains of datagrams sent with UDP segmentation offload (tx-udp-segmentation). Needs ethtool; the
            // tests do not depend on it, the TCP comparison of `pear-bench udx-lossy` does.
            offloadsDisabled = FileManager.default.isExecutableFile(atPath: "/usr/sbin/ethtool")
            if offloadsDisabled {
                try Self.run(
                    "/usr/sbin/ip", "netns", "exec", name, "/usr/sbin/ethtool", "-K", "lo", "tso", "off", "gso", "off",
                    "tx-udp-segmentation", "off", "gro", "off")
            }
            if lossPercent > 0 {
                // Every datagram delivered in the namespace faces the same chance of being dropped.
                try Self.run(
                    "/usr/sbin/ip", "netns", "exec", name, "/usr/sbin/iptables", "-A", "INPUT", "-m", "statistic",
                    "--mode", "random", "--probability", String(lossPercent / 100), "-j", "DROP")
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

    /// Runs `body` preferring the namespace's loop thread, so that the sockets it makes (NIO creates them on the
    /// calling thread, and a socket belongs to that thread's namespace) live in the namespace.
    public func within<T: Sendable>(_ body: @Sendable () async throws -> T) async throws -> T {
        try await withTaskExecutorPreference(EventLoopExecutor(loop)) { try await body() }
    }

    /// A `TunnelDelayLine` in this namespace: every packet between its two ends (`TunnelDelayLine.endAddress(1)` and
    /// `(2)`, reached at `addressThroughLine(1)` and `(2)`) is held `delay` each way. At most one per namespace.
    /// The device is created from the namespace's loop thread (a TUN device belongs to the namespace of the thread
    /// that creates it); the addresses and the route are set with `ip`.
    public func delayLine(delay: Duration, mtu: Int = 1500) throws -> TunnelDelayLine {
        let descriptor = try group.next().submit { try TunnelDelayLine.openDevice() }.wait()
        let line = TunnelDelayLine(descriptor: descriptor, delay: delay)
        do {
            for index in 1...2 {
                try Self.run(
                    "/usr/sbin/ip", "-n", name, "address", "add", "\(TunnelDelayLine.endAddress(index))/32", "dev", "lo")
            }
            try Self.run(
                "/usr/sbin/ip", "-n", name, "link", "set", TunnelDelayLine.deviceName, "mtu", String(mtu), "up")
            // Unbound sockets leave from end 1, as a dialling client would.
            try Self.run(
                "/usr/sbin/ip", "-n", name, "route", "add", "10.201.0.0/16", "dev", TunnelDelayLine.deviceName,
                "src", TunnelDelayLine.endAddress(1))
        } catch {
            Task { await line.stop() }
            throw error
        }
        return line
    }

    /// Adds an iptables rule in the namespace (`arguments` after `iptables`, e.g. `-A INPUT … -j DROP`).
    public func iptables(_ arguments: String...) throws {
        try Self.run(["/usr/sbin/ip", "netns", "exec", name, "/usr/sbin/iptables"] + arguments)
    }

    public func remove() async {
        try? await group.shutdownGracefully()
        try? Self.run("/usr/sbin/ip", "netns", "del", name)
    }

    public enum Failure: Error, CustomStringConvertible {
        case command(String, Int32)
        case enter(String, Int32)
        public var description: String {
            switch self {
            case .command(let line, let status): "\(line) exited with \(status)"
            case .enter(let what, let code): "could not enter the namespace (\(what)): errno \(code)"
            }
        }
    }

    static func run(_ arguments: String...) throws { try run(arguments) }

    static func run(_ arguments: [String]) throws {
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

