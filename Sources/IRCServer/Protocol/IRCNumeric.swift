/// A numeric reply: its code and its conventional `RPL_`/`ERR_` name.
///
/// Codes and names follow the modern IRC client protocol document (ircdocs, "Numerics") and the IRCv3 SASL
/// (900–908) and MONITOR (730–734) specifications. Only the numerics the server needs are listed: registration,
/// the commands of issue 5, CAP, SASL, MONITOR and their errors. Send one with `IRCMessage(source:_:_:)`.
public struct IRCNumeric: Hashable, Sendable {
    /// The code, `0...999`, written as three digits.
    public let code: UInt16
    /// The conventional name, e.g. `RPL_WELCOME`.
    public let name: String

    public init(_ code: UInt16, _ name: String) {
        self.code = code
        self.name = name
    }

    /// The three-digit wire form, e.g. `001`.
    public var text: String { IRCCommand.numeric(code).text }

    /// The known numeric with `code`, if listed here.
    public static func named(code: UInt16) -> IRCNumeric? {
        all.first { $0.code == code }
    }

    public static let rplWelcome = IRCNumeric(1, "RPL_WELCOME")
    public static let rplYourHost = IRCNumeric(2, "RPL_YOURHOST")
    public static let rplCreated = IRCNumeric(3, "RPL_CREATED")
    public static let rplMyInfo = IRCNumeric(4, "RPL_MYINFO")
    public static let rplISupport = IRCNumeric(5, "RPL_ISUPPORT")
    public static let rplUModeIs = IRCNumeric(221, "RPL_UMODEIS")
    public static let rplLUserClient = IRCNumeric(251, "RPL_LUSERCLIENT")
    public static let rplLUserOp = IRCNumeric(252, "RPL_LUSEROP")
    public static let rplLUserUnknown = IRCNumeric(253, "RPL_LUSERUNKNOWN")
    public static let rplLUserChannels = IRCNumeric(254, "RPL_LUSERCHANNELS")
    public static let rplLUserMe = IRCNumeric(255, "RPL_LUSERME")
    public static let rplTryAgain = IRCNumeric(263, "RPL_TRYAGAIN")
    public static let rplLocalUsers = IRCNumeric(265, "RPL_LOCALUSERS")
    public static let rplGlobalUsers = IRCNumeric(266, "RPL_GLOBALUSERS")
    public static let rplWhoisCertFP = IRCNumeric(276, "RPL_WHOISCERTFP")
    public static let rplAway = IRCNumeric(301, "RPL_AWAY")
    public static let rplUserHost = IRCNumeric(302, "RPL_USERHOST")
    public static let rplIsOn = IRCNumeric(303, "RPL_ISON")
    public static let rplUnaway = IRCNumeric(305, "RPL_UNAWAY")
    public static let rplNowAway = IRCNumeric(306, "RPL_NOWAWAY")
    public static let rplWhoisUser = IRCNumeric(311, "RPL_WHOISUSER")
    public static let rplWhoisServer = IRCNumeric(312, "RPL_WHOISSERVER")
    public static let rplWhoisOperator = IRCNumeric(313, "RPL_WHOISOPERATOR")
    public static let rplWhowasUser = IRCNumeric(314, "RPL_WHOWASUSER")
    public static let rplEndOfWho = IRCNumeric(315, "RPL_ENDOFWHO")
    public static let rplWhoisIdle = IRCNumeric(317, "RPL_WHOISIDLE")
    public static let rplEndOfWhois = IRCNumeric(318, "RPL_ENDOFWHOIS")
    public static let rplWhoisChannels = IRCNumeric(319, "RPL_WHOISCHANNELS")
    public static let rplWhoisSpecial = IRCNumeric(320, "RPL_WHOISSPECIAL")
    public static let rplListStart = IRCNumeric(321, "RPL_LISTSTART")
    public static let rplList = IRCNumeric(322, "RPL_LIST")
    public static let rplListEnd = IRCNumeric(323, "RPL_LISTEND")
    public static let rplChannelModeIs = IRCNumeric(324, "RPL_CHANNELMODEIS")
    public static let rplCreationTime = IRCNumeric(329, "RPL_CREATIONTIME")
    public static let rplWhoisAccount = IRCNumeric(330, "RPL_WHOISACCOUNT")
    public static let rplNoTopic = IRCNumeric(331, "RPL_NOTOPIC")
    public static let rplTopic = IRCNumeric(332, "RPL_TOPIC")
    public static let rplTopicWhoTime = IRCNumeric(333, "RPL_TOPICWHOTIME")
    public static let rplInviteList = IRCNumeric(336, "RPL_INVITELIST")
    public static let rplEndOfInviteList = IRCNumeric(337, "RPL_ENDOFINVITELIST")
    public static let rplWhoisActually = IRCNumeric(338, "RPL_WHOISACTUALLY")
    public static let rplInviting = IRCNumeric(341, "RPL_INVITING")
    public static let rplVersion = IRCNumeric(351, "RPL_VERSION")
    public static let rplWhoReply = IRCNumeric(352, "RPL_WHOREPLY")
    public static let rplNamReply = IRCNumeric(353, "RPL_NAMREPLY")
    public static let rplWhoSpcRpl = IRCNumeric(354, "RPL_WHOSPCRPL")
    public static let rplEndOfNames = IRCNumeric(366, "RPL_ENDOFNAMES")
    public static let rplBanList = IRCNumeric(367, "RPL_BANLIST")
    public static let rplEndOfBanList = IRCNumeric(368, "RPL_ENDOFBANLIST")
    public static let rplEndOfWhowas = IRCNumeric(369, "RPL_ENDOFWHOWAS")
    public static let rplInfo = IRCNumeric(371, "RPL_INFO")
    public static let rplMotd = IRCNumeric(372, "RPL_MOTD")
    public static let rplEndOfInfo = IRCNumeric(374, "RPL_ENDOFINFO")
    public static let rplMotdStart = IRCNumeric(375, "RPL_MOTDSTART")
    public static let rplEndOfMotd = IRCNumeric(376, "RPL_ENDOFMOTD")
    public static let rplWhoisHost = IRCNumeric(378, "RPL_WHOISHOST")
    public static let rplWhoisModes = IRCNumeric(379, "RPL_WHOISMODES")
    public static let rplYoureOper = IRCNumeric(381, "RPL_YOUREOPER")
    public static let rplTime = IRCNumeric(391, "RPL_TIME")
    public static let rplVisibleHost = IRCNumeric(396, "RPL_VISIBLEHOST")
    public static let errUnknownError = IRCNumeric(400, "ERR_UNKNOWNERROR")
    public static let errNoSuchNick = IRCNumeric(401, "ERR_NOSUCHNICK")
    public static let errNoSuchServer = IRCNumeric(402, "ERR_NOSUCHSERVER")
    public static let errNoSuchChannel = IRCNumeric(403, "ERR_NOSUCHCHANNEL")
    public static let errCannotSendToChan = IRCNumeric(404, "ERR_CANNOTSENDTOCHAN")
    public static let errTooManyChannels = IRCNumeric(405, "ERR_TOOMANYCHANNELS")
    public static let errWasNoSuchNick = IRCNumeric(406, "ERR_WASNOSUCHNICK")
    public static let errTooManyTargets = IRCNumeric(407, "ERR_TOOMANYTARGETS")
    public static let errNoOrigin = IRCNumeric(409, "ERR_NOORIGIN")
    public static let errInvalidCapCmd = IRCNumeric(410, "ERR_INVALIDCAPCMD")
    public static let errNoRecipient = IRCNumeric(411, "ERR_NORECIPIENT")
    public static let errNoTextToSend = IRCNumeric(412, "ERR_NOTEXTTOSEND")
    public static let errInputTooLong = IRCNumeric(417, "ERR_INPUTTOOLONG")
    public static let errUnknownCommand = IRCNumeric(421, "ERR_UNKNOWNCOMMAND")
    public static let errNoMotd = IRCNumeric(422, "ERR_NOMOTD")
    public static let errNoNicknameGiven = IRCNumeric(431, "ERR_NONICKNAMEGIVEN")
    public static let errErroneusNickname = IRCNumeric(432, "ERR_ERRONEUSNICKNAME")
    public static let errNicknameInUse = IRCNumeric(433, "ERR_NICKNAMEINUSE")
    public static let errNickCollision = IRCNumeric(436, "ERR_NICKCOLLISION")
    public static let errUserNotInChannel = IRCNumeric(441, "ERR_USERNOTINCHANNEL")
    public static let errNotOnChannel = IRCNumeric(442, "ERR_NOTONCHANNEL")
    public static let errUserOnChannel = IRCNumeric(443, "ERR_USERONCHANNEL")
    public static let errNotRegistered = IRCNumeric(451, "ERR_NOTREGISTERED")
    public static let errNeedMoreParams = IRCNumeric(461, "ERR_NEEDMOREPARAMS")
    public static let errAlreadyRegistered = IRCNumeric(462, "ERR_ALREADYREGISTERED")
    public static let errPasswdMismatch = IRCNumeric(464, "ERR_PASSWDMISMATCH")
    public static let errYoureBannedCreep = IRCNumeric(465, "ERR_YOUREBANNEDCREEP")
    public static let errKeySet = IRCNumeric(467, "ERR_KEYSET")
    public static let errChannelIsFull = IRCNumeric(471, "ERR_CHANNELISFULL")
    public static let errUnknownMode = IRCNumeric(472, "ERR_UNKNOWNMODE")
    public static let errInviteOnlyChan = IRCNumeric(473, "ERR_INVITEONLYCHAN")
    public static let errBannedFromChan = IRCNumeric(474, "ERR_BANNEDFROMCHAN")
    public static let errBadChannelKey = IRCNumeric(475, "ERR_BADCHANNELKEY")
    public static let errBadChanMask = IRCNumeric(476, "ERR_BADCHANMASK")
    public static let errBanListFull = IRCNumeric(478, "ERR_BANLISTFULL")
    public static let errNoPrivileges = IRCNumeric(481, "ERR_NOPRIVILEGES")
    public static let errChanOPrivsNeeded = IRCNumeric(482, "ERR_CHANOPRIVSNEEDED")
    public static let errCantKillServer = IRCNumeric(483, "ERR_CANTKILLSERVER")
    public static let errNoOperHost = IRCNumeric(491, "ERR_NOOPERHOST")
    public static let errUModeUnknownFlag = IRCNumeric(501, "ERR_UMODEUNKNOWNFLAG")
    public static let errUsersDontMatch = IRCNumeric(502, "ERR_USERSDONTMATCH")
    public static let errInvalidKey = IRCNumeric(525, "ERR_INVALIDKEY")
    public static let rplWhoisSecure = IRCNumeric(671, "RPL_WHOISSECURE")
    public static let errInvalidModeParam = IRCNumeric(696, "ERR_INVALIDMODEPARAM")
    public static let rplMonOnline = IRCNumeric(730, "RPL_MONONLINE")
    public static let rplMonOffline = IRCNumeric(731, "RPL_MONOFFLINE")
    public static let rplMonList = IRCNumeric(732, "RPL_MONLIST")
    public static let rplEndOfMonList = IRCNumeric(733, "RPL_ENDOFMONLIST")
    public static let errMonListFull = IRCNumeric(734, "ERR_MONLISTFULL")
    public static let rplLoggedIn = IRCNumeric(900, "RPL_LOGGEDIN")
    public static let rplLoggedOut = IRCNumeric(901, "RPL_LOGGEDOUT")
    public static let errNickLocked = IRCNumeric(902, "ERR_NICKLOCKED")
    public static let rplSASLSuccess = IRCNumeric(903, "RPL_SASLSUCCESS")
    public static let errSASLFail = IRCNumeric(904, "ERR_SASLFAIL")
    public static let errSASLTooLong = IRCNumeric(905, "ERR_SASLTOOLONG")
    public static let errSASLAborted = IRCNumeric(906, "ERR_SASLABORTED")
    public static let errSASLAlready = IRCNumeric(907, "ERR_SASLALREADY")
    public static let rplSASLMechs = IRCNumeric(908, "RPL_SASLMECHS")

    /// Every numeric listed above, in code order.
    public static let all: [IRCNumeric] = [
        rplWelcome, rplYourHost, rplCreated, rplMyInfo,
        rplISupport, rplUModeIs, rplLUserClient, rplLUserOp,
        rplLUserUnknown, rplLUserChannels, rplLUserMe, rplTryAgain,
        rplLocalUsers, rplGlobalUsers, rplWhoisCertFP, rplAway,
        rplUserHost, rplIsOn, rplUnaway, rplNowAway,
        rplWhoisUser, rplWhoisServer, rplWhoisOperator, rplWhowasUser,
        rplEndOfWho, rplWhoisIdle, rplEndOfWhois, rplWhoisChannels,
        rplWhoisSpecial, rplListStart, rplList, rplListEnd,
        rplChannelModeIs, rplCreationTime, rplWhoisAccount, rplNoTopic,
        rplTopic, rplTopicWhoTime, rplInviteList, rplEndOfInviteList,
        rplWhoisActually, rplInviting, rplVersion, rplWhoReply,
        rplNamReply, rplWhoSpcRpl, rplEndOfNames, rplBanList,
        rplEndOfBanList, rplEndOfWhowas, rplInfo, rplMotd,
        rplEndOfInfo, rplMotdStart, rplEndOfMotd, rplWhoisHost,
        rplWhoisModes, rplYoureOper, rplTime, rplVisibleHost,
        errUnknownError, errNoSuchNick, errNoSuchServer, errNoSuchChannel,
        errCannotSendToChan, errTooManyChannels, errWasNoSuchNick, errTooManyTargets,
        errNoOrigin, errInvalidCapCmd, errNoRecipient, errNoTextToSend,
        errInputTooLong, errUnknownCommand, errNoMotd, errNoNicknameGiven,
        errErroneusNickname, errNicknameInUse, errNickCollision, errUserNotInChannel,
        errNotOnChannel, errUserOnChannel, errNotRegistered, errNeedMoreParams,
        errAlreadyRegistered, errPasswdMismatch, errYoureBannedCreep, errKeySet,
        errChannelIsFull, errUnknownMode, errInviteOnlyChan, errBannedFromChan,
        errBadChannelKey, errBadChanMask, errBanListFull, errNoPrivileges,
        errChanOPrivsNeeded, errCantKillServer, errNoOperHost, errUModeUnknownFlag,
        errUsersDontMatch, errInvalidKey, rplWhoisSecure, errInvalidModeParam,
        rplMonOnline, rplMonOffline, rplMonList, rplEndOfMonList,
        errMonListFull, rplLoggedIn, rplLoggedOut, errNickLocked,
        rplSASLSuccess, errSASLFail, errSASLTooLong, errSASLAborted,
        errSASLAlready, rplSASLMechs,
    ]
}

extension IRCNumeric: CustomStringConvertible {
    public var description: String { "\(text) \(name)" }
}
