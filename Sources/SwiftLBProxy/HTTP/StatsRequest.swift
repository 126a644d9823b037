import NIOCore
import SwiftLBAdmin
import SwiftLBConfig

extension RuntimeFrontend {
    /// `stats enable` on this frontend as the admin module's settings; a pure stats listener
    /// (`servesMetrics`: no server behind it) also answers `/metrics` (Prometheus) beside the page.
    static func statsSettings(_ page: SwiftLBConfig.StatsPage?, servesMetrics: Bool, proxyName: String) -> StatsPageSettings? {
        guard let page, page.enabled else { return nil }
        var settings = StatsPageSettings(uri: page.uri)
        settings.refreshSeconds = page.refresh.map { Int($0.nanoseconds / 1_000_000_000) }
        if let realm = page.realm { settings.realm = realm }
        settings.credentials = page.credentials.map { "\($0.user):\($0.password)" }
        settings.hideVersion = page.hideVersion
        settings.showLegends = page.showLegends
        settings.metricsPath = servesMetrics ? "/metrics" : nil
        settings.scopes = page.scopes.map { $0 == "." ? proxyName : $0 }
        settings.showNode = page.showNode
        settings.showDescription = page.showDescription
        return settings
    }
}

extension StatsHTTPRequest {
    /// The stats request a parsed head (and its small body, already received) makes.
    init(head: MessageHead, body: [UInt8], adminAllowed: Bool) {
        var headers: [(String, String)] = []
        for i in head.keptIndices { headers.append((head.name(i), head.value(i))) }
        self.init(method: head.string(head.part1), target: head.currentTarget, headers: headers, body: body, adminAllowed: adminAllowed)
    }
}

extension StatsHTTPResponse {
    /// The response's bytes; the connection closes after it.
    func bytes(minorVersion: Int, headOnly: Bool, allocator: ByteBufferAllocator) -> ByteBuffer {
        let body = Array(self.body.utf8)
        var out = allocator.buffer(capacity: 256 + body.count)
        out.writeString("HTTP/1.1 \(status) \(reason)\r\n")  // as HAProxy's own answers, whatever the client's version
        for (name, value) in headers { out.writeString("\(name): \(value)\r\n") }
        out.writeString("content-length: \(body.count)\r\nconnection: close\r\n\r\n")
        if !headOnly { out.writeBytes(body) }
        return out
    }
}
