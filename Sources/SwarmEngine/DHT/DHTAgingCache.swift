/// A map whose entries age out in two generations, as `xache` (the cache under hyperdht's router and its storage)
/// ages them: every ⅔ of the maximum age the older generation is dropped and the newer one becomes older, so an entry
/// that is neither set nor read again lives between ⅔ and 4⁄3 of it. Reading an older entry moves it back into the
/// newer generation; a newer generation that reaches the size cap ages at once (and the next timed aging is skipped,
/// as xache skips it), so the cache never holds more than twice the cap.
///
/// A pure value: time is the caller's, in milliseconds.
struct DHTAgingCache<Key: Hashable & Sendable, Value: Sendable>: Sendable {
    let maximumSize: Int
    let maximumAge: UInt64
    private var latest: [Key: Value] = [:]
    private var oldest: [Key: Value] = [:]
    private var nextAging: UInt64
    /// Aged by size since the last timed aging.
    private var agedBySize = false

    init(maximumSize: Int, maximumAge: UInt64, now: UInt64) {
        self.maximumSize = max(1, maximumSize)
        self.maximumAge = maximumAge
        nextAging = now + Self.interval(maximumAge)
    }

    /// xache's `Math.ceil(2 / 3 * maxAge)`.
    static func interval(_ age: UInt64) -> UInt64 { max(1, (2 * age + 2) / 3) }

    var count: Int { latest.count + oldest.count }

    mutating func set(_ key: Key, _ value: Value, now: UInt64) {
        age(now: now)
        latest[key] = value
        oldest[key] = nil
        if latest.count >= maximumSize { ageOnce(bySize: true) }
    }

    mutating func get(_ key: Key, now: UInt64) -> Value? {
        age(now: now)
        if let value = latest[key] { return value }
        guard let value = oldest.removeValue(forKey: key) else { return nil }
        latest[key] = value
        return value
    }

    @discardableResult
    mutating func remove(_ key: Key) -> Value? {
        latest.removeValue(forKey: key) ?? oldest.removeValue(forKey: key)
    }

    /// Runs the timed agings that are due.
    mutating func age(now: UInt64) {
        guard now >= nextAging else { return }
        let interval = Self.interval(maximumAge)
        let due = (now - nextAging) / interval + 1
        nextAging += due * interval
        // Two agings empty the cache; more change nothing.
        for _ in 0..<min(due, 2) {
            if agedBySize {
                agedBySize = false
            } else {
                ageOnce(bySize: false)
            }
        }
    }

    private mutating func ageOnce(bySize: Bool) {
        oldest = latest
        latest = [:]
        agedBySize = bySize
    }
}
