/// HAProxy 2.6's rule for a server's TLS (ssl_sock_prepare_srv_ctx): it verifies the server's
/// certificate unless `verify none` (or `ssl-server-verify none`) says otherwise, and refuses
/// a verification with no `ca-file` to verify against — for `ssl`, `check-ssl`, and a check
/// rule's `http-check|tcp-check connect ssl` alike, with or without `check` on the line.
extension SectionParser {
    /// HAProxy's refusal, word for word, when `params` would verify without a CA (nil when it
    /// would not): verification is on unless `verify none` or `ssl-server-verify none`.
    func verificationWithoutCA(_ params: ServerParameters) -> String? {
        verificationWithoutCA(verify: params.tls?.verify ?? (config.global.sslServerVerify ?? true), caFile: params.tls?.caFile)
    }

    /// The same for a TLS client that would (`verify`) or would not verify against `caFile`
    /// (a `peers` section's `server … ssl`).
    func verificationWithoutCA(verify: Bool, caFile: String?) -> String? {
        guard verify, caFile == nil else { return nil }
        // HAProxy's words follow the global setting, not the line: `verify required` under the
        // default `ssl-server-verify required` is "by default" too.
        if config.global.sslServerVerify == false { return "verify is enabled but no CA file specified." }
        return "verify is enabled by default but no CA file specified. If you're running on a LAN where you're certain to trust "
            + "the server's certificate, please set an explicit 'verify none' statement on the 'server' line, or use "
            + "'ssl-server-verify none' in the global section to disable server-side verifications by default."
    }

    /// The servers of backends whose check rules connect with `ssl`: each must have a CA to
    /// verify against or say `verify none` (the `ssl`/`check-ssl` ones were refused on their line).
    func validateCheckRuleVerification() {
        for backend in config.backends.values.sorted(by: { $0.line < $1.line }) {
            let rules = (backend.options.tcpCheck ?? []).contains { if case .connect(let c) = $0 { c.ssl } else { false } }
            guard rules || backend.options.httpCheck?.connect?.ssl == true else { continue }
            for server in backend.servers {
                guard let refusal = server.parameters.verifyWithoutCA else { continue }
                errors.append(ConfigError(file: file, line: server.line, keyword: "server", message: refusal))
            }
        }
    }
}
