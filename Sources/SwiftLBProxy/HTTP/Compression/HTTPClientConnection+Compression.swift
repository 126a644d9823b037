import SwiftLBAdmin

/// The compression counters of an exchange that compressed (or re-chunked, for identity) its
/// response, added to its frontend's and backend's `comp_*` when it ends, as HAProxy counts
/// them: bytes in and out of the compressor, bytes bypassed, one compressed response.
extension HTTPClientConnection {
    func countCompression(_ deflater: Deflater, _ ex: HTTPExchange) {
        loop.stats.frontend(frontend.counterID) { $0.compression.add(deflater) }
        loop.stats.backend(ex.dispatch.backend.counterID) { $0.compression.add(deflater) }
    }
}

extension CompressionCounters {
    fileprivate mutating func add(_ deflater: Deflater) {
        bytesIn += deflater.bytesIn
        bytesOut += deflater.bytesOut
        bypassed += deflater.bypassed
        responses += 1
    }
}
