// Child process of the crash-safety test (HyperLogTests/CrashSafetyTests): opens the store in the directory given
// as the first argument and appends batches forever, printing "ack <length>" after each append returned. The test
// kills it with SIGKILL at random moments and checks that every acknowledged length survived.
import Foundation
import HyperLog

guard CommandLine.arguments.count >= 2 else {
    FileHandle.standardError.write(Data("usage: hyperlog-crash-child DIRECTORY\n".utf8))
    exit(2)
}
/// Unbuffered write: the line must be out before the next append starts, or a kill could lose an ack we made.
func say(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}

let directory = URL(fileURLWithPath: CommandLine.arguments[1])
do {
    let store = try LogStore(directory: directory)
    let log = try await store.writableLog(name: "crash-test")
    var counter = await log.length
    say("ready \(counter)")
    while true {
        let batchSize = Int.random(in: 1...20)
        let batch = (0..<batchSize).map { offset in Array("entry-\(counter + UInt64(offset))".utf8) }
        counter = try await log.append(batch)
        say("ack \(counter)")
    }
} catch {
    FileHandle.standardError.write(Data("hyperlog-crash-child: \(error)\n".utf8))
    exit(1)
}
