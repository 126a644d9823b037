import SwiftLBAdmin

/// The stats socket's `ssl cert` and `crt-list` commands act on the runtime in force.
extension InstanceActions: SSLCertificateActions {
    func certificateControl() async -> (any CertificateControl)? { instance.server.runtime.certificates }
}
