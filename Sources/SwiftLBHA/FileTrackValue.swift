/// What a `track_file` says, as keepalived 2.2 reads it (track_file.c), as pure functions.
///
/// The file's text is read as C's `strtol(text, NULL, 0)` reads it: leading white space, a
/// sign, `0x` for hexadecimal and a leading `0` for octal, up to the first other character;
/// no digits at all (or no file, or an empty one) is 0. A number outside the 32-bit range is
/// ignored (the previous value stands), as keepalived ignores it.
public enum FileTrackValue {
    /// The value, or nil when it is to be ignored.
    public static func parse(_ bytes: [UInt8]) -> Int64? {
        var i = bytes.startIndex
        while i < bytes.endIndex, [0x20, 0x09, 0x0A, 0x0B, 0x0C, 0x0D].contains(bytes[i]) { i += 1 }
        var negative = false
        if i < bytes.endIndex, bytes[i] == UInt8(ascii: "-") || bytes[i] == UInt8(ascii: "+") {
            negative = bytes[i] == UInt8(ascii: "-")
            i += 1
        }
        var base: Int64 = 10
        if i < bytes.endIndex, bytes[i] == UInt8(ascii: "0") {
            base = 8
            // "0x" counts only before a hexadecimal digit: "0xg" is 0, as strtol reads it.
            if i + 2 < bytes.endIndex, bytes[i + 1] | 0x20 == UInt8(ascii: "x"), digit(bytes[i + 2], base: 16) != nil {
                base = 16
                i += 2
            }
        }
        var value: Int64 = 0
        while i < bytes.endIndex, let d = digit(bytes[i], base: base) {
            value = value * base + d
            // Past the 32-bit range: ignored, however many digits follow.
            if value > Int64(UInt32.max) { return nil }
            i += 1
        }
        let result = negative ? -value : value
        guard result >= Int64(Int32.min), result <= Int64(Int32.max) + 1 else { return nil }
        return result
    }

    private static func digit(_ byte: UInt8, base: Int64) -> Int64? {
        let d: Int64
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): d = Int64(byte - UInt8(ascii: "0"))
        case UInt8(ascii: "a")...UInt8(ascii: "f"): d = Int64(byte - UInt8(ascii: "a") + 10)
        case UInt8(ascii: "A")...UInt8(ascii: "F"): d = Int64(byte - UInt8(ascii: "A") + 10)
        default: return nil
        }
        return d < base ? d : nil
    }

    /// The file's effect on one instance: `nil` for a FAULT, else the priority change.
    /// Weight 0: a non-zero value is a FAULT (with `reverse`: a zero one). Otherwise
    /// value × weight (× −1 with `reverse`): −254 or below is a FAULT, above 253 counts as 253.
    public static func effect(value: Int64, weight: Int, reverse: Bool) -> Int? {
        if weight == 0 { return (value != 0) != reverse ? nil : 0 }
        let product = value * Int64(weight) * (reverse ? -1 : 1)
        if product <= -254 { return nil }
        return Int(min(product, 253))
    }

    /// The tracked input `Tracking` folds in: a FAULT, or a fixed change of the priority.
    public static func input(_ name: String, value: Int64, weight: Int, reverse: Bool) -> Tracking.Input {
        let what = "file '\(name)' reads \(value)" + (weight == 0 ? "" : " (× \(weight)\(reverse ? " reverse" : ""))")
        guard let change = effect(value: value, weight: weight, reverse: reverse) else {
            var input = Tracking.Input(name: "file '\(name)'", weight: 0, up: false, downReason: what + ": FAULT")
            input.effect = weight == 0 ? (reverse ? "FAULT when 0" : "FAULT when not 0") : "FAULT at -254 or below"
            return input
        }
        // A positive change counts while "up", a negative one while "down" (Tracking's rules).
        var input = Tracking.Input(name: "file '\(name)'", weight: change, up: change >= 0, downReason: what)
        input.effect = weight == 0 ? (reverse ? "FAULT when 0" : "FAULT when not 0") : "\(change >= 0 ? "+" : "")\(change) now"
        return input
    }
}
