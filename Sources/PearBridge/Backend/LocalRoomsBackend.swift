import Foundation
import HyperLog
import IRCServer
import Logging

/// The chat backend of `pearircd run`: every channel is a room whose lines are signed appends to the user's own
/// HyperLog log, and whose history is read back from the logs (so it survives restarts).
///
/// This first slice keeps rooms local: other gateways' logs are not replicated yet (the peer connections of
/// issue 6 plug in here, feeding remote entries into the same `RoomState`).
public final class LocalRoomsBackend: ChatBackend {
    public let events: AsyncStream<BackendEvent>
    private let continuation: AsyncStream<BackendEvent>.Continuation
    private let rooms: RoomRegistry

    public init(directory: DataDirectory, identity: Identity, logger: Logger) throws {
        let store = try LogStore(directory: directory.file("store"))
        rooms = RoomRegistry(store: store, identity: identity, logger: logger)
        (events, continuation) = AsyncStream.makeStream()
    }

    public func handle(_ request: BackendRequest) async {
        await rooms.handle(request)
    }

    public func history(_ query: HistoryQuery) async -> [ChatLine] {
        await rooms.history(query)
    }

    public func authenticate(user: String, password: String) async -> String? {
        nil
    }

    public func service(_ name: String, from nick: String, text: String) async -> [String]? {
        nil
    }
}

/// The rooms of one gateway: for each channel, the user's log and the `RoomState` built from it.
actor RoomRegistry {
    struct Room {
        var state: RoomState
        let log: SignedLog
    }

    private let store: LogStore
    private let identity: Identity
    private let logger: Logger
    private var rooms: [RoomTopic: Room] = [:]
    private var localNick: String?

    init(store: LogStore, identity: Identity, logger: Logger) {
        self.store = store
        self.identity = identity
        self.logger = logger
    }

    static let fold: @Sendable (String) -> String = { IRCCasemapping.rfc1459.fold($0) }

    /// Opens (and on first use, replays) the room of a channel.
    func room(for channel: String) throws -> Room {
        let topic = RoomTopic(foldedChannelName: Self.fold(channel))
        if let room = rooms[topic] { return room }
        let log = try store.writableLog(name: topic.logName)
        var state = RoomState(topic: topic, localWriter: log.key, fold: Self.fold)
        if let localNick { state.setLocalNick(localNick) }
        let room = Room(state: state, log: log)
        rooms[topic] = room
        return room
    }

    /// Reads the room's log into its state (first use after start).
    func replay(_ channel: String) async throws -> Room {
        var room = try room(for: channel)
        let length = await room.log.length
        var index = room.state.writerLengths[room.log.key] ?? 0
        while index < length {
            _ = room.state.ingest(author: room.log.key, index: index, block: try await room.log.get(index))
            index += 1
        }
        rooms[room.state.topic] = room
        return room
    }

    func append(_ channel: String, kind: RoomEntry.Kind, text: String, at time: Date) async {
        do {
            var room = try await replay(channel)
            let entry = room.state.composeLocal(
                kind: kind, text: text, timestamp: UInt64(max(0, time.timeIntervalSince1970 * 1000)))
            let length = try await room.log.append([entry.encoded()])
            _ = room.state.ingest(author: room.log.key, index: length - 1, block: entry.encoded())
            rooms[room.state.topic] = room
        } catch {
            logger.error("could not append to room log", metadata: ["room": "\(channel)", "error": "\(error)"])
        }
    }

    func handle(_ request: BackendRequest) async {
        let now = Date()
        switch request {
        case .joined(let channel, let nick):
            localNick = nick
            guard let room = try? await replay(channel) else { return }
            // Record the nick the room knows us by, once per change, so other gateways can show it.
            let known = room.state.history.lines.last { $0.position.author == room.log.key && $0.entry.kind == .nick }
            if known?.entry.text != nick { await append(channel, kind: .nick, text: nick, at: now) }
            await append(channel, kind: .join, text: "", at: now)
        case .parted(let channel, _, let reason):
            await append(channel, kind: .part, text: reason, at: now)
        case .message(let channel, _, let kind, let text, _, let time):
            if let action = Self.action(text) {
                await append(channel, kind: .action, text: action, at: time)
            } else {
                await append(channel, kind: kind == .notice ? .notice : .message, text: text, at: time)
            }
        case .topic(let channel, _, let topic):
            await append(channel, kind: .topic, text: topic, at: now)
        case .nickChanged(_, let new):
            localNick = new
            for topic in Array(rooms.keys) {
                rooms[topic]?.state.setLocalNick(new)
            }
            for room in rooms.values {
                await append(room.state.topic.description, kind: .nick, text: new, at: now, topic: room.state.topic)
            }
        case .quit:
            break
        }
    }

    /// Appends to a room known by topic (used when no channel name is at hand).
    func append(_ label: String, kind: RoomEntry.Kind, text: String, at time: Date, topic: RoomTopic) async {
        guard var room = rooms[topic] else { return }
        do {
            let entry = room.state.composeLocal(
                kind: kind, text: text, timestamp: UInt64(max(0, time.timeIntervalSince1970 * 1000)))
            let length = try await room.log.append([entry.encoded()])
            _ = room.state.ingest(author: room.log.key, index: length - 1, block: entry.encoded())
            rooms[topic] = room
        } catch {
            logger.error("could not append to room log", metadata: ["room": "\(label)", "error": "\(error)"])
        }
    }

    func history(_ query: HistoryQuery) async -> [ChatLine] {
        guard let room = try? await replay(query.channel) else { return [] }
        let lines = room.state.history.lines.compactMap { line -> ChatLine? in
            let text: String
            let kind: ChatLineKind
            switch line.entry.kind {
            case .message: (text, kind) = (line.entry.text, .privmsg)
            case .action: (text, kind) = ("\u{1}ACTION \(line.entry.text)\u{1}", .privmsg)
            case .notice: (text, kind) = (line.entry.text, .notice)
            default: return nil
            }
            let author = line.position.author
            let source = "\(room.state.displayNick(for: author))!pear@\(NickDirectory.host(for: author))"
            return ChatLine(
                id: Self.messageID(line.position), time: Date(timeIntervalSince1970: Double(line.entry.timestamp) / 1000),
                channel: query.channel, source: source, kind: kind, text: text)
        }
        return HistoryWindow.select(query, from: lines)
    }

    /// A message id every gateway derives the same way: the author's key prefix and the entry's index.
    static func messageID(_ position: RoomHistory.Position) -> String {
        "\(ZBase32.encode(position.author).prefix(12))-\(position.index)"
    }

    /// The text of a CTCP ACTION (`/me`), or nil.
    static func action(_ text: String) -> String? {
        guard text.hasPrefix("\u{1}ACTION "), text.count > 8 else { return nil }
        var body = text.dropFirst(8)
        if body.hasSuffix("\u{1}") { body = body.dropLast() }
        return String(body)
    }
}
