import HyperLog

/// Whom an IRC private message to a remote person is for: the identity behind a remote user the IRC core knows (by
/// member id), or behind a nick shown in some room here, or a z-base-32 identity key written as the target.
enum DirectTarget: Equatable {
    case person([UInt8])
    /// Nobody known by that name: why, and what would work (the text of an ERR_NOSUCHNICK).
    case unknown(String)
    /// Someone no direct message can reach (a log that proved no identity): why.
    case refused(String)

    static func resolve(userID: String?, target: String, gateway: Gateway) async -> DirectTarget {
        if let userID {
            guard let key = ZBase32.decode(userID), key.count == 32, await gateway.isKnownPerson(key) else {
                return .refused("\(target) has not proven an identity (an older or other client): private messages cannot reach them")
            }
            return .person(key)
        }
        let people = await gateway.people(nicknamed: target)
        if people.count > 1 {
            return .unknown("\(target) names \(people.count) people here; write to one by key: \(people.joined(separator: ", "))")
        }
        if let id = people.first, let key = ZBase32.decode(id), key.count == 32, await gateway.isKnownPerson(key) {
            return .person(key)
        }
        // A key written as the target: anyone's identity, met here or not.
        if target.count == 52, let key = ZBase32.decode(target), key.count == 32 {
            guard (try? DirectConversationKeys(ourKeyPair: gateway.identity.keyPair, counterpart: key)) != nil else {
                return .unknown("\(target) is not a person's identity key (or it is yours)")
            }
            return .person(key)
        }
        return .unknown("No one called \(target) is in your rooms; their identity key works as a target too (/whois shows it)")
    }
}
