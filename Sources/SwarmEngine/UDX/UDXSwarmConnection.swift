import Logging
import NIOCore

extension SwarmConnection {
    /// secret-stream + protomux over a connected UDX stream, as `@hyperswarm/secret-stream` runs over a udx-native
    /// stream: the same handler as on TCP (`SwarmConnectionHandler`), in the pipeline of the stream's channel. The
    /// handshake runs over the stream for a session that does its own (Noise XX), or not at all for one started from
    /// keys agreed elsewhere (HyperDHT's IK: `SecretStreamSession(isInitiator:handshake:)`).
    public static func establish(
        over stream: UDXStream, session: SecretStreamSession, label: String,
        logger: Logger = Logger(label: "pearircd.swarm.udx"), handshakeTimeout: TimeAmount = .seconds(10)
    ) -> EventLoopFuture<SwarmConnection> {
        let promise = stream.node.eventLoop.makePromise(of: SwarmConnection.self)
        let made = UDXStreamChannel.make(stream: stream) { channel in
            try channel.pipeline.syncOperations.addHandler(
                SwarmConnectionHandler(session: session, established: promise, label: label, logger: logger))
        }
        made.whenSuccess { channel in
            _ = channel.setOption(.allowRemoteHalfClosure, value: true)
            let timer = channel.eventLoop.scheduleTask(in: handshakeTimeout) { channel.close(promise: nil) }
            promise.futureResult.whenComplete { _ in timer.cancel() }
        }
        made.whenFailure { promise.fail($0) }
        return promise.futureResult
    }
}
