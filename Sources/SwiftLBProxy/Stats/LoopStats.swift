import SwiftLBAdmin

/// The counters one event loop keeps for the stats page, `show stat` and /metrics: plain
/// values written only on their loop (no atomics, no locks on the data path), in arrays
/// indexed by the process-wide counter ids of frontends, backends and servers (grown on first
/// use). A snapshot copies every loop's arrays on that loop and adds them up.
struct LoopStats {
    var frontends: [TrafficCounters] = []
    var backends: [TrafficCounters] = []
    var servers: [TrafficCounters] = []
    var frontendRates: [RateCounter] = []
    var backendRates: [RateCounter] = []

    @inline(__always)
    mutating func frontend(_ id: Int, _ body: (inout TrafficCounters) -> Void) {
        if id >= frontends.count { Self.grow(&frontends, to: id) }
        body(&frontends[id])
    }

    @inline(__always)
    mutating func backend(_ id: Int, _ body: (inout TrafficCounters) -> Void) {
        if id >= backends.count { Self.grow(&backends, to: id) }
        body(&backends[id])
    }

    @inline(__always)
    mutating func server(_ id: Int, _ body: (inout TrafficCounters) -> Void) {
        if id >= servers.count { Self.grow(&servers, to: id) }
        body(&servers[id])
    }

    mutating func frontendRequest(_ id: Int, at now: UInt64) {
        if id >= frontendRates.count { frontendRates.append(contentsOf: repeatElement(RateCounter(), count: id - frontendRates.count + 1)) }
        frontendRates[id].record(atNanoseconds: now)
    }

    mutating func backendRequest(_ id: Int, at now: UInt64) {
        if id >= backendRates.count { backendRates.append(contentsOf: repeatElement(RateCounter(), count: id - backendRates.count + 1)) }
        backendRates[id].record(atNanoseconds: now)
    }

    private static func grow(_ array: inout [TrafficCounters], to id: Int) {
        array.append(contentsOf: repeatElement(TrafficCounters(), count: id - array.count + 1))
    }

    /// One stream's outcome, counted where HAProxy counts it: the frontend's request and
    /// response, the backend's and the server's (when one was chosen).
    mutating func recordExchange(frontend: Int, backend: Int?, server: Int?, status: Int, bytesIn: Int, bytesOut: Int,
                                 totalNanoseconds: UInt64?, connectNanoseconds: UInt64?, retries: Int,
                                 failure: ExchangeFailure?) {
        self.frontend(frontend) { c in
            c.requestsTotal += 1
            c.responses.count(status: status)
            c.bytesIn += bytesIn
            c.bytesOut += bytesOut
            if failure == .badRequest { c.requestErrors += 1 }
            if failure == .clientAbort { c.clientAborts += 1 }
        }
        if let backend {
            self.backend(backend) { c in
                Self.countSession(&c, status: status, bytesIn: bytesIn, bytesOut: bytesOut, retries: retries,
                                  failure: failure, totalNanoseconds: totalNanoseconds)
                c.requestsTotal += 1
                if let connectNanoseconds { c.connectLatency = c.connectLatency ?? LatencyHistogram(); c.connectLatency!.record(nanoseconds: connectNanoseconds) }
            }
        }
        if let server {
            self.server(server) { c in
                Self.countSession(&c, status: status, bytesIn: bytesIn, bytesOut: bytesOut, retries: retries,
                                  failure: failure, totalNanoseconds: totalNanoseconds)
                c.loadBalanced += 1
            }
        }
    }

    /// What a backend and its chosen server both count of one stream.
    private static func countSession(_ c: inout TrafficCounters, status: Int, bytesIn: Int, bytesOut: Int, retries: Int,
                                     failure: ExchangeFailure?, totalNanoseconds: UInt64?) {
        c.stot += 1
        c.responses.count(status: status)
        c.bytesIn += bytesIn
        c.bytesOut += bytesOut
        c.retries += retries
        count(failure, into: &c)
        if let totalNanoseconds { c.latency = c.latency ?? LatencyHistogram(); c.latency!.record(nanoseconds: totalNanoseconds) }
    }

    private static func count(_ failure: ExchangeFailure?, into c: inout TrafficCounters) {
        switch failure {
        case .connect?: c.connectionErrors += 1
        case .response?: c.responseErrors += 1
        case .clientAbort?: c.clientAborts += 1
        case .serverAbort?: c.serverAborts += 1
        case .badRequest?, nil: break
        }
    }
}

/// Why a stream did not end well, in the stats' terms.
enum ExchangeFailure: Equatable {
    case badRequest, connect, response, clientAbort, serverAbort
}
