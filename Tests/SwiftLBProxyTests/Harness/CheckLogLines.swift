import Foundation

/// What HAProxy and SwiftLB send a backend's log targets about its servers, as the check tests
/// compare them.
extension SyslogReceiver {
    /// A line with what varies masked: the syslog header's date, tag and pid, the durations.
    static func masked(_ line: String) -> String {
        line.replacingOccurrences(of: #"^<(\d+)>[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d [a-z]+\[\d+\]: "#, with: "<$1>", options: .regularExpression)
            .replacingOccurrences(of: #"check duration: \d+ms"#, with: "check duration: Nms", options: .regularExpression)
    }

    /// Receives until `count` lines about servers arrived (other lines, such as HAProxy's
    /// "Proxy started", are dropped) or `seconds` passed; masked and sorted, since the checks
    /// of different servers run concurrently.
    func serverLines(count: Int, within seconds: Double) -> [String] {
        var got: [String] = []
        let deadline = Date().addingTimeInterval(seconds)
        while got.count < count, deadline.timeIntervalSinceNow > 0 {
            got += receive(count: 1, within: deadline.timeIntervalSinceNow).map(Self.masked)
                .filter { $0.contains("Health check for") || $0.contains("Server ") || $0.contains(" has no server available") }
        }
        return got.sorted()
    }
}
