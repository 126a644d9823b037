/// `<stats uri>;json` and `show stat json`: the same rows and fields as the CSV (named by
/// HAProxy's column names, numbers as JSON numbers, empty cells left out), the `show info`
/// fields, and SwiftLB's extras — latency percentiles, WebSocket tunnels, TLS handshakes, the
/// age of each server's last check, and the VIP.
///
/// HAProxy's own `;json` is a list of typed field records (`{"field":{"pos":0,"name":
/// "pxname"},"value":{"type":"str","value":"fe"}}` per cell); SwiftLB writes a plain object
/// per row instead, which jq and dashboards read directly. The field names are HAProxy's, so
/// a script can move from one to the other by name.
public enum JSONRenderer {
    public static func render(_ snapshot: StatsSnapshot, hideVersion: Bool = false, legends: Bool = true) -> String {
        let w = JSONWriter()
        w.object {
            w.key("info")
            w.object {
                for (name, value) in InfoRenderer.fields(snapshot.process, hideVersion: hideVersion) where !value.isEmpty {
                    w.key(name)
                    if let n = Int(value) { w.number(n) } else { w.string(value) }
                }
            }
            w.key("stats")
            w.array {
                for row in StatRow.rows(of: snapshot) { rowObject(row, legends: legends, w) }
            }
            w.key("vip")
            if let vip = snapshot.vip { vipObject(vip, takenAt: snapshot.takenAt, w) } else { w.null() }
        }
        return w.text + "\n"
    }

    static func rowObject(_ row: StatRow, legends: Bool, _ w: JSONWriter) {
        w.object {
            for column in StatColumn.all where column.name != "-" && (legends || !StatColumn.legendColumns.contains(column.name)) {
                switch column(row) {
                case .empty: continue
                case .int(let n): w.key(column.name); w.number(n)
                case .string(let s): w.key(column.name); w.string(s)
                }
            }
            let c = row.counters
            w.key("latency_ms")
            histogramObject(c.latency, w)
            if case .frontend = row {} else {
                w.key("connect_latency_ms")
                histogramObject(c.connectLatency, w)
            }
            w.key("websocket")
            w.object {
                w.key("current"); w.number(c.tunnels.current)
                w.key("total"); w.number(c.tunnels.total)
                w.key("bytes_in"); w.number(c.tunnels.bytesIn)
                w.key("bytes_out"); w.number(c.tunnels.bytesOut)
            }
            w.key("tls")
            w.object {
                w.key("handshakes"); w.number(c.tls.handshakes)
                w.key("resumed"); w.number(c.tls.resumed)
                w.key("failures"); w.number(c.tls.failures)
            }
            if case .server(_, _, let s) = row {
                w.key("admin_state"); w.string(s.admin.rawValue.uppercased())
                w.key("last_check_age")
                if let age = s.check?.lastCheckAge { w.number(age) } else { w.null() }
            }
        }
    }

    static func histogramObject(_ h: LatencyHistogram?, _ w: JSONWriter) {
        guard let h, h.count > 0 else { w.null(); return }
        w.object {
            w.key("count"); w.number(Int(h.count))
            w.key("mean"); w.double(Double(h.sumNanoseconds) / Double(h.count) / 1_000_000)
            for (label, q) in [("p50", 0.5), ("p90", 0.9), ("p99", 0.99)] {
                w.key(label); w.double(h.quantileMilliseconds(q) ?? 0)
            }
            w.key("max"); w.double(Double(h.maxNanoseconds) / 1_000_000)
        }
    }

    static func vipObject(_ vip: VIPStats, takenAt: Double, _ w: JSONWriter) {
        w.object {
            w.key("instance"); w.string(vip.instance)
            w.key("state"); w.string(vip.state.rawValue)
            w.key("priority"); w.number(vip.priority)
            w.key("configured_priority"); w.number(vip.configuredPriority)
            w.key("addresses"); w.array { for a in vip.addresses { w.string(a) } }
            w.key("peer"); if let p = vip.peer { w.string(p) } else { w.null() }
            w.key("peer_priority"); if let p = vip.peerPriority { w.number(p) } else { w.null() }
            w.key("peer_last_heard_seconds"); if let s = vip.peerLastHeard { w.double(s) } else { w.null() }
            w.key("last_transition")
            if let t = vip.lastTransition {
                w.object {
                    w.key("from"); w.string(t.from.rawValue)
                    w.key("to"); w.string(t.to.rawValue)
                    w.key("reason"); w.string(t.reason)
                    w.key("at"); w.double(t.at)
                    w.key("age_seconds"); w.double(max(0, takenAt - t.at))
                }
            } else {
                w.null()
            }
            w.key("transitions"); w.number(vip.transitions)
            w.key("fault"); if let f = vip.fault { w.string(f) } else { w.null() }
            w.key("heartbeat_drops")
            w.object {
                for (reason, n) in vip.heartbeatDrops.sorted(by: { $0.key < $1.key }) { w.key(reason); w.number(n) }
            }
            w.key("heartbeat_send_failures"); w.number(vip.heartbeatSendFailures)
        }
    }
}

/// A minimal JSON writer that keeps keys in the order written (column order), with RFC 8259
/// string escaping. A class, so the nested-closure style (`w.object { w.key(…) }`) needs no
/// overlapping inout access.
final class JSONWriter {
    private(set) var text = ""
    /// Per open container: whether the next element needs a comma first.
    private var needsComma = [false]
    /// A key was just written: its value follows without a comma.
    private var afterKey = false

    private func beginValue() {
        if afterKey {
            afterKey = false
        } else if needsComma[needsComma.count - 1] {
            text += ","
        }
        needsComma[needsComma.count - 1] = true
    }

    func object(_ body: () -> Void) { container("{", "}", body) }
    func array(_ body: () -> Void) { container("[", "]", body) }

    private func container(_ open: String, _ close: String, _ body: () -> Void) {
        beginValue()
        text += open
        needsComma.append(false)
        body()
        needsComma.removeLast()
        text += close
    }

    func key(_ k: String) {
        beginValue()
        text += Self.escaped(k) + ":"
        afterKey = true
    }

    func string(_ s: String) { beginValue(); text += Self.escaped(s) }
    func number(_ n: Int) { beginValue(); text += String(n) }
    /// Three decimals (milliseconds to the microsecond), no exponent.
    func double(_ d: Double) {
        beginValue()
        guard d.isFinite else { text += "null"; return }
        // Past what fits in Int thousandths: whole units, then the exponent form (JSON numbers both).
        guard abs(d) < 9e15 else { text += abs(d) < 9e18 ? String(Int64(d.rounded())) : String(d); return }
        let scaled = Int((d * 1000).rounded())
        let sign = scaled < 0 ? "-" : ""
        let magnitude = abs(scaled)
        let frac = String(magnitude % 1000)
        text += "\(sign)\(magnitude / 1000).\(String(repeating: "0", count: 3 - frac.count))\(frac)"
    }
    func null() { beginValue(); text += "null" }

    static func escaped(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where u.value < 0x20:
                let hex = String(u.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(u)
            }
        }
        return out + "\""
    }
}
