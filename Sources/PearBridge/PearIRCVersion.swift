/// The product version, printed by `pearircd version` and (later) in IRC's RPL_MYINFO/VERSION.
public enum PearIRCVersion {
    public static let string = "0.1.0-dev"
}
