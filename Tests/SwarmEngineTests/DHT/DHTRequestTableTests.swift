import CompactEncoding
import SwarmEngine
import Testing

/// dht-rpc's outgoing requests: tids, the four sends a second apart and the timeout, matching by tid, and the
/// congestion window of 80 sends per 750 ms slot (160 over four) with the rest waiting for the drain.
struct DHTRequestTableTests {
    static let peer = IPv4Endpoint(host: "10.0.0.7", port: 49737)!
    static let ping = DHTRequest(tid: 0, to: peer, isInternal: true, command: 0)

    static func transmissions(_ actions: [DHTRequestTable.Action]) -> [DHTRequest] {
        actions.compactMap {
            guard case .transmit(let bytes, _, _) = $0, case .request(let request)? = try? DHTMessage(decoding: bytes)
            else { return nil }
            return request
        }
    }

    @Test func aSilentPeerIsAskedFourTimesASecondApartThenTheRequestTimesOut() {
        var table = DHTRequestTable(firstTID: 41)
        var actions: [DHTRequestTable.Action] = []
        let tid = table.send(Self.ping, to: Self.peer, from: .client, now: 0, into: &actions)
        #expect(tid == 41)
        #expect(actions == [.transmit(DHTMessage.request(DHTRequest(tid: 41, to: Self.peer, isInternal: true, command: 0)).encoded(), to: Self.peer, from: .client)])
        var sends = 1
        var retrying = 0
        var now: UInt64 = 0
        var timedOut: [UInt16] = []
        while let deadline = table.nextDeadline {
            #expect(deadline == now + 1000)
            now = deadline
            actions = []
            table.timeout(now: now, into: &actions)
            sends += Self.transmissions(actions).count
            retrying += actions.filter { $0 == .retrying(41) }.count
            for case .timedOut(let tid, let request) in actions {
                timedOut.append(tid)
                #expect(request.command == 0 && request.tid == 41)
            }
        }
        #expect(sends == 4 && retrying == 3)
        #expect(timedOut == [41])
        #expect(now == 4000)
        #expect(table.inflightCount == 0)
    }

    @Test func responsesAreMatchedByTidAlone() {
        var table = DHTRequestTable(firstTID: 65535)
        var actions: [DHTRequestTable.Action] = []
        let first = table.send(Self.ping, to: Self.peer, from: .server, now: 0, into: &actions)
        let second = table.send(Self.ping, to: Self.peer, from: .server, now: 0, into: &actions)
        #expect(first == 65535 && second == 0)
        #expect(Self.transmissions(actions).map(\.tid) == [65535, 0])
        #expect(table.settle(DHTResponse(tid: 7, to: Self.peer)) == nil)
        let settled = table.settle(DHTResponse(tid: 0, to: IPv4Endpoint(host: "1.1.1.1", port: 1)!))
        #expect(settled?.request.tid == 0 && settled?.sent == 1 && settled?.socket == .server)
        #expect(table.settle(DHTResponse(tid: 0, to: Self.peer)) == nil)
        table.cancel(65535)
        #expect(table.inflightCount == 0 && table.nextDeadline == nil)
        actions = []
        table.timeout(now: 10_000, into: &actions)
        #expect(actions.isEmpty)
    }

    @Test func theWindowHoldsBackWhatExceedsEightyPerSlot() {
        var table = DHTRequestTable(firstTID: 0)
        var actions: [DHTRequestTable.Action] = []
        for _ in 0..<200 { _ = table.send(Self.ping, to: Self.peer, from: .client, now: 0, into: &actions) }
        #expect(Self.transmissions(actions).count == 80)
        #expect(table.pendingCount == 120)
        // The next slot takes 80 more (160 over the last four slots), the one after none until answers come.
        actions = []
        table.drain(now: 750, into: &actions)
        #expect(Self.transmissions(actions).map(\.tid) == Array(80..<160))
        actions = []
        table.drain(now: 1500, into: &actions)
        #expect(actions.isEmpty)
        // Answers give back sends of the current slot only (the reference's `recv`), and this slot sent nothing;
        // the window opens when the drain comes round to the first slot and forgets its 80 sends.
        for tid in UInt16(80)..<120 { _ = table.settle(DHTResponse(tid: tid, to: Self.peer)) }
        actions = []
        table.drain(now: 2250, into: &actions)
        #expect(actions.isEmpty)
        table.drain(now: 3000, into: &actions)
        #expect(Self.transmissions(actions).map(\.tid) == Array(160..<200))
        #expect(table.pendingCount == 0)
    }
}
