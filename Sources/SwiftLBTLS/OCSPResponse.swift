import CLibSSL

/// OCSP responses as the stats socket shows and takes them (HAProxy's `.ocsp` files, `show
/// ssl ocsp-response`, `set ssl ocsp-response`): the key of a response is its certificate ID
/// (DER, in hex), its text is OpenSSL's OCSP_RESPONSE_print. SwiftLB does not staple them yet.
public enum OCSPResponse {
    /// The hex certificate ID of a DER response, after HAProxy's checks (one successful
    /// single response, a known status, a next update, still valid).
    public static func key(of der: [UInt8]) throws(CertificateCommandError) -> String {
        var failure: String?
        let key: String? = der.withUnsafeBufferPointer { buffer -> String? in
            var cursor: UnsafePointer<UInt8>? = buffer.baseAddress
            guard let response = d2i_OCSP_RESPONSE(nil, &cursor, buffer.count) else { failure = "Unable to parse OCSP response"; return nil }
            defer { OCSP_RESPONSE_free(response) }
            guard OCSP_response_status(response) == OCSP_RESPONSE_STATUS_SUCCESSFUL else { failure = "OCSP response status not successful"; return nil }
            guard let basic = OCSP_response_get1_basic(response) else { failure = "Failed to get basic response from OCSP Response"; return nil }
            defer { OCSP_BASICRESP_free(basic) }
            let count = OCSP_resp_count(basic)
            guard count == 1 else { failure = "OCSP response ignored because contains multiple single responses (\(count))"; return nil }
            guard let single = OCSP_resp_get0(basic, 0) else { failure = "Failed to get OCSP single response"; return nil }
            var reason: Int32 = 0
            var revoked: UnsafeMutablePointer<ASN1_GENERALIZEDTIME>?, thisUpdate: UnsafeMutablePointer<ASN1_GENERALIZEDTIME>?, nextUpdate: UnsafeMutablePointer<ASN1_GENERALIZEDTIME>?
            let status = OCSP_single_get0_status(single, &reason, &revoked, &thisUpdate, &nextUpdate)
            guard status == V_OCSP_CERTSTATUS_GOOD || status == V_OCSP_CERTSTATUS_REVOKED else {
                failure = "OCSP single response: certificate status is unknown"; return nil
            }
            guard let nextUpdate else { failure = "OCSP single response: missing nextupdate"; return nil }
            guard OCSP_check_validity(thisUpdate, nextUpdate, 300, -1) == 1 else { failure = "OCSP single response: no longer valid."; return nil }
            guard let id = OCSP_SINGLERESP_get0_id(single) else { failure = "OCSP single response: Unable to encode Certificate ID"; return nil }
            let length = i2d_OCSP_CERTID(id, nil)
            guard length > 0 else { failure = "OCSP single response: Unable to encode Certificate ID"; return nil }
            var bytes = [UInt8](repeating: 0, count: Int(length))
            bytes.withUnsafeMutableBufferPointer { out in
                var p: UnsafeMutablePointer<UInt8>? = out.baseAddress
                _ = i2d_OCSP_CERTID(id, &p)
            }
            return bytes.map { String($0, radix: 16).leftPadded }.joined()
        }
        ERR_clear_error()
        guard let key else { throw CertificateCommandError(failure ?? "Unable to parse OCSP response") }
        return key
    }

    /// OCSP_RESPONSE_print's text, an empty line given a space (as HAProxy prints it).
    public static func text(of der: [UInt8]) -> String {
        der.withUnsafeBufferPointer { buffer in
            var cursor: UnsafePointer<UInt8>? = buffer.baseAddress
            guard let response = d2i_OCSP_RESPONSE(nil, &cursor, buffer.count) else { return "Unable to parse OCSP response" }
            defer { OCSP_RESPONSE_free(response) }
            guard let bio = BIO_new(BIO_s_mem()) else { return "" }
            defer { BIO_free(bio) }
            guard OCSP_RESPONSE_print(bio, response, 0) == 1 else { return "" }
            return read(bio).replacingEmptyLines
        }
    }

    /// `show ssl ocsp-response`'s description of a key: the certificate ID's hashes and serial.
    public static func describe(key: String) -> String {
        let bytes = stride(from: 0, to: key.utf8.count - 1, by: 2).compactMap { i -> UInt8? in
            let start = key.utf8.index(key.utf8.startIndex, offsetBy: i)
            return UInt8(String(key.utf8[start..<key.utf8.index(start, offsetBy: 2)])!, radix: 16)
        }
        return bytes.withUnsafeBufferPointer { buffer in
            var cursor: UnsafePointer<UInt8>? = buffer.baseAddress
            guard let id = d2i_OCSP_CERTID(nil, &cursor, buffer.count) else { return "" }
            defer { OCSP_CERTID_free(id) }
            var nameHash: UnsafeMutablePointer<ASN1_OCTET_STRING>?, keyHash: UnsafeMutablePointer<ASN1_OCTET_STRING>?
            var serial: UnsafeMutablePointer<ASN1_INTEGER>?
            guard OCSP_id_get0_info(&nameHash, nil, &keyHash, &serial, id) == 1, let bio = BIO_new(BIO_s_mem()) else { return "" }
            defer { BIO_free(bio) }
            BIO_puts(bio, " Certificate ID:\n   Issuer Name Hash: ")
            i2a_ASN1_STRING(bio, nameHash, 0)
            BIO_puts(bio, "\n   Issuer Key Hash: ")
            i2a_ASN1_STRING(bio, keyHash, 0)
            BIO_puts(bio, "\n   Serial Number: ")
            i2a_ASN1_INTEGER(bio, serial)
            return read(bio) + "\n"
        }
    }

    private static func read(_ bio: OpaquePointer) -> String {
        var out: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = BIO_read(bio, &buffer, Int32(buffer.count))
            if n <= 0 { break }
            out += buffer[0..<Int(n)]
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Base64 (line breaks allowed) to bytes; nil when it is not base64.
    public static func base64(_ text: String) -> [UInt8]? {
        let clean = Array(text.utf8.filter { $0 != UInt8(ascii: "\n") && $0 != UInt8(ascii: "\r") && $0 != UInt8(ascii: " ") })
        guard !clean.isEmpty, clean.count % 4 == 0 else { return nil }
        var out = [UInt8](repeating: 0, count: clean.count / 4 * 3)
        let n = EVP_DecodeBlock(&out, clean, Int32(clean.count))
        guard n >= 0 else { return nil }
        // Base64 pads with at most two '='; more (or a block of them alone) is not base64.
        let padding = clean.reversed().prefix { $0 == UInt8(ascii: "=") }.count
        guard padding <= 2, Int(n) >= padding else { return nil }
        return Array(out[0..<(Int(n) - padding)])
    }
}

extension String {
    fileprivate var leftPadded: String { count == 1 ? "0" + self : self }
    /// HAProxy puts a space on each empty line of a printed response (an empty line ends a CLI answer).
    fileprivate var replacingEmptyLines: String {
        split(separator: "\n", omittingEmptySubsequences: false).map { $0.isEmpty ? " " : String($0) }.joined(separator: "\n")
            .replacingTrailingSpaceLine
    }
    private var replacingTrailingSpaceLine: String { hasSuffix("\n ") ? String(dropLast()) : self }
}
