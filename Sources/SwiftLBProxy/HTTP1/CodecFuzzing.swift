import NIOCore

/// The HTTP/1 codec's fuzz target, public so that the libFuzzer harness (Fuzz/, a package of
/// its own built with `-sanitize=fuzzer`) and the corpus replay test call the same code.
///
/// It feeds arbitrary bytes as a request stream and as a response stream, and checks the
/// invariants the proxy relies on — a trap here is a finding:
/// * parsing never crashes, whatever the bytes;
/// * a parsed head, written out untouched, is exactly the bytes it was parsed from, and parses
///   again to the same fields (what goes to the server is what we parsed);
/// * a head split anywhere parses the same as in one piece;
/// * a body taken through `BodyFramer` is exactly the bytes it consumed (chunked passes as it
///   came), and decoding it never crashes.
public enum CodecFuzzing {
    public static func run(_ data: UnsafeRawBufferPointer) {
        guard !data.isEmpty else { return }
        let split = Int(data[0]) % max(1, data.count)
        let input = ByteBuffer(bytes: data.dropFirst())
        for kind in [MessageHead.Kind.request, .response] {
            check(input, kind: kind, limits: HeadParser.Limits(), split: split)
        }
        // A backend's `option accept-invalid-http-response`: the same invariants.
        check(input, kind: .response, limits: HeadParser.Limits().acceptingInvalidResponses, split: split)
    }

    private static func check(_ input: ByteBuffer, kind: MessageHead.Kind, limits: HeadParser.Limits, split: Int) {
        var whole = input
        var parser = HeadParser(kind: kind, limits: limits)
        let outcome = parser.parse(&whole)
        // The same bytes in two pieces give the same answer.
        let first = min(split, input.readableBytes)
        var pieces = input.getSlice(at: input.readerIndex, length: first)!
        var splitParser = HeadParser(kind: kind, limits: limits)
        var splitOutcome = splitParser.parse(&pieces)
        if case .incomplete = splitOutcome {
            var rest = input.getSlice(at: input.readerIndex + first, length: input.readableBytes - first)!
            pieces.writeBuffer(&rest)
            splitOutcome = splitParser.parse(&pieces)
        }
        switch (outcome, splitOutcome) {
        case (.head(let a), .head(let b)):
            precondition(a.fields.count == b.fields.count && a.bytes == b.bytes, "a head parses differently when split")
        case (.failure, .failure):
            // Both are the same answer (a 400, a 502). The reason may differ with the cut: a
            // start line refused before it ends cannot tell which part a whole one fails on.
            break
        case (.incomplete, .incomplete):
            break
        default:
            preconditionFailure("split parsing disagrees: \(outcome) vs \(splitOutcome)")
        }
        guard case .head(let head) = outcome else { return }
        // Untouched, it goes out exactly as it came, and reads back the same.
        var out = ByteBuffer()
        head.write(into: &out)
        precondition(out == head.bytes, "an untouched head is not written as it came")
        var again = HeadParser(kind: kind, limits: limits)
        guard case .head(let reparsed) = again.parse(&out) else { preconditionFailure("a written head does not parse again") }
        precondition(reparsed.fields.count == head.fields.count, "a written head parses to other fields")
        for i in head.fields.indices { precondition(reparsed.name(i) == head.name(i) && reparsed.value(i) == head.value(i)) }
        // Its body.
        let mode: BodyFramer.Mode?
        switch kind {
        case .request:
            guard case .success(let m) = MessageFraming.request(head) else { return }
            mode = m
        case .response:
            guard case .success(let body) = MessageFraming.response(head, requestMethod: .get), case .framed(let m) = body else { return }
            mode = m
        }
        guard let mode else { return }
        for decode in [false, true] {
            var framer = BodyFramer(mode)
            var rest = whole
            var taken = ByteBuffer()
            let before = rest.readableBytes
            _ = try? framer.take(from: &rest, decode: decode) { slice in
                var s = slice
                taken.writeBuffer(&s)
            }
            if !decode && framer.isRaw == false {
                // Passed through: exactly the bytes consumed.
                let consumed = before - rest.readableBytes
                precondition(taken.readableBytes <= consumed, "a chunked body gave more than it consumed")
            }
        }
    }
}
