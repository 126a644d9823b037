import Atomics
import SwiftLBConfig
import SwiftLBLog

/// `unique-id-format` and `unique-id-header`: an id for each request, rendered with the
/// log-format machinery when the request head is in (so `%ci:%cp_%fi:%fp_%Ts_%rt:%pid`, the
/// usual format, is unique per request), logged as `%ID` and sent to the server in the named
/// header — HAProxy's request tracing, so a request can be followed from the load balancer's
/// log into the application's.
struct UniqueID: Sendable {
    let format: SwiftLBLog.LogFormat
    /// `unique-id-header`: the header the server receives the id in (nil: only logged).
    let header: String?
    /// The format's `%[…]` expressions, compiled (`TEST-%[req.hdr(in)]`), evaluated on the
    /// request head.
    let samples: [SampleExpression]

    /// The frontend's, or nil without `unique-id-format` (a `unique-id-header` alone sends
    /// nothing, as in HAProxy).
    static func make(_ frontend: Frontend, file: String) throws(ConfigErrors) -> UniqueID? {
        guard let text = frontend.options.uniqueIDFormat else { return nil }
        do {
            let format = try SwiftLBLog.LogFormat.parse(text, mode: .http)
            var samples: [SampleExpression] = []
            for expression in format.sampleExpressions { samples.append(try SampleExpression(parsing: expression)) }
            return UniqueID(format: format, header: frontend.options.uniqueIDHeader, samples: samples)
        } catch {
            throw ConfigErrors([ConfigError(file: file, line: frontend.options.uniqueIDFormatLine, keyword: "unique-id-format",
                                            message: "in frontend '\(frontend.name)': \(error)")])
        }
    }

    /// The id of the request `record` describes (its addresses, accept time and counter);
    /// `input` is what its samples read (nil when it has none).
    func render(_ record: AccessLogRecord, tls: Bool, input: SampleInput? = nil) -> String {
        var log = record.logRecord(frontendIsTLS: tls, http: true)
        // Encoded as a rule's format is (the id may become a header: `unique-id-header`); an
        // empty sample writes nothing, as HAProxy's.
        if let input { log.samples = samples.map { LogFormat.encoded($0.evaluate(input)?.text ?? "") } }
        let id = format.string(log)
        // HAProxy keeps at most UNIQUEID_LEN - 1 bytes of it (127): an id made of request
        // headers cannot grow past that into the log, the header, or a PROXY v2 TLV.
        return id.utf8.count <= Self.maximumLength ? id : String(decoding: id.utf8.prefix(Self.maximumLength), as: UTF8.self)
    }

    static let maximumLength = 127
}

/// HAProxy's `%rt`: a process-wide count of the streams started, each stream's number.
enum RequestCounter {
    private static let next = ManagedAtomic<Int>(0)
    /// The next stream's number (one relaxed atomic increment; called only when a log line or
    /// a unique id needs it).
    static func take() -> Int { next.loadThenWrappingIncrement(ordering: .relaxed) }
}
