import Crypto
import Foundation
import NIOSSL
import X509

/// Builds the one `NIOSSLContext` the TLS listener shares: from the operator's PEM files, or from a self-signed
/// certificate generated on first start into the data directory and reused afterwards.
public enum TLSCertificates {
    public struct Loaded: Sendable {
        public let context: NIOSSLContext
        /// The same certificate for an HTTPS listener (the web front end): asks for no client certificate.
        public let httpsConfiguration: TLSConfiguration
        /// SHA-256 of the leaf certificate's DER, as colon-separated hex (what clients pin).
        public let fingerprint: String
        /// True when this start generated the certificate.
        public let generated: Bool
    }

    public static let certificateFileName = "irc-tls-cert.pem"
    public static let keyFileName = "irc-tls-key.pem"

    public static func load(_ source: IRCServerConfiguration.CertificateSource) throws -> Loaded {
        switch source {
        case .files(let chain, let key):
            return try loadFiles(chain: chain, key: key, generated: false)
        case .selfSigned(let directory):
            let chain = (directory as NSString).appendingPathComponent(certificateFileName)
            let key = (directory as NSString).appendingPathComponent(keyFileName)
            var generated = false
            if !FileManager.default.fileExists(atPath: chain) || !FileManager.default.fileExists(atPath: key) {
                try generateSelfSigned(certificatePath: chain, keyPath: key)
                generated = true
            }
            return try loadFiles(chain: chain, key: key, generated: generated)
        }
    }

    static func loadFiles(chain: String, key: String, generated: Bool) throws -> Loaded {
        let certificates = try NIOSSLCertificate.fromPEMFile(chain)
        guard let leaf = certificates.first else { throw TLSCertificateError.emptyChain(chain) }
        let privateKey = try NIOSSLPrivateKey(file: key, format: .pem)
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: certificates.map { .certificate($0) }, privateKey: .privateKey(privateKey))
        configuration.minimumTLSVersion = .tlsv12
        configuration.cipherSuiteValues = Self.intermediateCipherSuites
        var https = configuration
        https.applicationProtocols = ["http/1.1"]
        // Ask for a client certificate without requiring one, for SASL EXTERNAL. Nothing is trusted: the listener's
        // verification callback accepts any certificate, and only its fingerprint is used (as IRC's CertFP is).
        // Hence this context is for `IRCListener` (or handlers given such a callback): with NIOSSL's own
        // verification and no trust roots, a client that presents a certificate would be refused.
        configuration.certificateVerification = .optionalVerification
        configuration.trustRoots = .certificates([])
        let context = try NIOSSLContext(configuration: configuration)
        let digest = SHA256.hash(data: try leaf.toDERBytes())
        let fingerprint = digest.map { String(format: "%02X", $0) }.joined(separator: ":")
        return Loaded(context: context, httpsConfiguration: https, fingerprint: fingerprint, generated: generated)
    }

    /// Mozilla's "intermediate" profile for TLS 1.2: ECDHE with AES-GCM or ChaCha20-Poly1305 only (no CBC-SHA1
    /// suites; BoringSSL has no DHE). TLS 1.3 suites are fixed by BoringSSL and all allowed by the profile.
    public static let intermediateCipherSuites: [NIOTLSCipher] = [
        .TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, .TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
        .TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, .TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
        .TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, .TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
    ]

    /// A P-256 self-signed certificate for `localhost`, valid ten years; the key file is written with mode 0600.
    static func generateSelfSigned(certificatePath: String, keyPath: String) throws {
        let key = P256.Signing.PrivateKey()
        let name = try DistinguishedName {
            CommonName("pearircd")
            OrganizationName("PearIRC")
        }
        let now = Date()
        let certificate = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: .init(key.publicKey),
            notValidBefore: now.addingTimeInterval(-3600), notValidAfter: now.addingTimeInterval(3650 * 86400),
            issuer: name, subject: name, signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                SubjectAlternativeNames([.dnsName("localhost")])
                Critical(BasicConstraints.notCertificateAuthority)
                Critical(KeyUsage(digitalSignature: true))
                try ExtendedKeyUsage([.serverAuth])
            },
            issuerPrivateKey: .init(key))
        let directory = (certificatePath as NSString).deletingLastPathComponent
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        // The key first, created private; then the certificate, which is public.
        guard FileManager.default.createFile(
            atPath: keyPath, contents: Data(key.pemRepresentation.utf8), attributes: [.posixPermissions: 0o600])
        else { throw TLSCertificateError.cannotWrite(keyPath) }
        try certificate.serializeAsPEM().pemString.write(toFile: certificatePath, atomically: true, encoding: .utf8)
    }
}

public enum TLSCertificateError: Error, CustomStringConvertible {
    case emptyChain(String)
    case cannotWrite(String)

    public var description: String {
        switch self {
        case .emptyChain(let path): "no certificate found in \(path)"
        case .cannotWrite(let path): "could not write \(path)"
        }
    }
}
