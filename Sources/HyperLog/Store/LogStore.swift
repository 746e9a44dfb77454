import Foundation
import Sodium

/// Many logs in one place (the Corestore role): a primary key from which named logs derive their key pairs, one
/// database for all of them, and look-up by key and by discovery key.
///
/// Layout inside its directory: `primary-key` (32 bytes, mode 0600) and `store.sqlite` (+ WAL).
///
/// An actor on the storage thread (`StorageExecutor`), like its logs: opening a log reads the database and may
/// create its record (a commit), and closing checkpoints, so these suspend the caller rather than block Swift's
/// shared pool. Only `init` runs on the caller's thread: it opens the database (integrity check, migrations) once,
/// when a process starts, before anything else could be waiting on the pool.
public actor LogStore {
    public static let primaryKeyFileName = "primary-key"
    public static let databaseFileName = "store.sqlite"
    /// Where each writable log's known length is kept outside the database (`ExpectedLengthFile`).
    public static let expectedLengthsDirectoryName = "expected-lengths"
    let directory: URL

    public nonisolated var unownedExecutor: UnownedSerialExecutor {
        executor.asUnownedSerialExecutor()
    }

    /// Where this store and every log it opens run: a storage thread of our own (`StorageExecutor`), or the executor
    /// the owner gave (the peer event loop of a gateway, so that what arrives from peers is verified and stored on
    /// the thread that read it). Tasks that work with the logs prefer it as their task executor, so that they resume
    /// here, not on Swift's shared pool, after waiting.
    public nonisolated let executor: any SerialExecutor & TaskExecutor

    /// The database itself, for measurements and maintenance. Its calls are synchronous: call them from code that
    /// may block (a command-line tool), not from tasks on the shared pool.
    public nonisolated let storage: LogStorage
    let primaryKey: SecureBytes
    /// Logs already opened, so each key has one actor (one writer) per store.
    private var open: [[UInt8]: SignedLog] = [:]
    /// Given every log this store opens (see `LogCommitCompanion`).
    private var commitCompanion: (any LogCommitCompanion)?

    /// Opens the store in `directory`, creating the directory, the primary key and the database on first use. Its
    /// work runs on `executor` (it must be a serial one on a thread that may block on the disk), or on a storage
    /// thread of its own.
    public init(directory: URL, executor: (any SerialExecutor & TaskExecutor)? = nil) throws {
        self.directory = directory
        self.executor = executor ?? StorageExecutor.forNewStore()
        try FileManager.default.createDirectory(
            at: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let keyPath = directory.appendingPathComponent(Self.primaryKeyFileName).path
        if FileManager.default.fileExists(atPath: keyPath) {
            let bytes = try Data(contentsOf: URL(fileURLWithPath: keyPath))
            guard bytes.count == CorestoreKeyDerivation.primaryKeyLength else {
                throw HyperLogError.corruptStorage("\(keyPath) holds \(bytes.count) bytes, expected 32")
            }
            primaryKey = SecureBytes(bytes)
        } else {
            let fresh = RandomBytes.generate(count: CorestoreKeyDerivation.primaryKeyLength)
            try SecretFile.write(fresh, to: keyPath)
            primaryKey = SecureBytes(fresh)
        }
        storage = try LogStorage(path: directory.appendingPathComponent(Self.databaseFileName).path)
    }

    /// The writable log named `name` in `namespace`; the same name always gives the same key.
    public func writableLog(name: String, namespace: [UInt8] = CorestoreKeyDerivation.rootNamespace) throws
        -> SignedLog
    {
        let keyPair = try CorestoreKeyDerivation.keyPair(primaryKey: primaryKey, namespace: namespace, name: name)
        let manifest = Manifest.singleSigner(publicKey: keyPair.publicKey)
        let key = manifest.key
        if let log = open[key] { return log }
        let record = try storage.core(key: key)
            ?? storage.createCore(
                key: key, discoveryKey: try DiscoveryKey.of(key), manifest: manifest.compactEncoded(),
                namespace: namespace, name: name)
        let expected = try ExpectedLengthFile(directory: directory.appendingPathComponent(Self.expectedLengthsDirectoryName), discoveryKey: record.discoveryKey)
        let log = try SignedLog(
            record: record, storage: storage, keyPair: keyPair, executor: executor, expectedLength: expected,
            commitCompanion: commitCompanion)
        open[key] = log
        return log
    }

    /// A replica of someone else's log. `manifest`, when known, must hash to `key`; without it the replica waits
    /// for the manifest to arrive with the first verified upgrade.
    public func replica(key: [UInt8], manifest: Manifest? = nil) throws -> SignedLog {
        guard key.count == 32 else { throw HyperLogError.invalidRequest("core key must be 32 bytes") }
        if let manifest, manifest.key != key { throw HyperLogError.invalidRequest("manifest does not hash to key") }
        if let log = open[key] { return log }
        var record = try storage.core(key: key)
        if record == nil {
            record = try storage.createCore(
                key: key, discoveryKey: try DiscoveryKey.of(key), manifest: manifest?.compactEncoded(),
                namespace: nil, name: nil)
        } else if record?.manifest == nil, let manifest, let id = record?.id {
            try storage.setManifest(core: id, manifest: manifest.compactEncoded())
            record?.manifest = manifest.compactEncoded()
        }
        guard let record else { throw HyperLogError.corruptStorage("core record vanished") }
        // A core stored as writable (it has a derivation name) reopens writable.
        let keyPair = try record.name.map {
            try CorestoreKeyDerivation.keyPair(
                primaryKey: primaryKey, namespace: record.namespace ?? CorestoreKeyDerivation.rootNamespace,
                name: $0)
        }
        let log = try SignedLog(
            record: record, storage: storage, keyPair: keyPair, executor: executor, commitCompanion: commitCompanion)
        open[key] = log
        return log
    }

    /// Sets the companion told of every change that adds blocks to any log of this store, inside the change's
    /// transaction (see `LogCommitCompanion`); nil removes it. Logs opened before and after get it.
    public func setCommitCompanion(_ companion: (any LogCommitCompanion)?) {
        commitCompanion = companion
        // The logs run on this store's executor: setting theirs is a plain call here.
        for log in open.values { log.assumeIsolated { $0.commitCompanion = companion } }
    }

    /// The stored log with this discovery key, if any.
    public func log(discoveryKey: [UInt8]) throws -> SignedLog? {
        guard let record = try storage.core(discoveryKey: discoveryKey) else { return nil }
        return try replica(key: record.key)
    }

    /// Closes the database (see `LogStorage.close()`); the logs opened from this store fail from now on.
    public func close() throws {
        try storage.close()
    }

    /// Keys of every log in the store.
    public func allKeys() throws -> [[UInt8]] {
        try storage.allCores().map(\.key)
    }
}
