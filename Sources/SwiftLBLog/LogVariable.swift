/// The `%` variables of HAProxy 2.6's log-format (configuration.txt §8.2.6, `logformat_keywords`
/// in src/log.c), every one of them: each reads one value of a `LogRecord`. A few are HTTP-only
/// and refused in a `mode tcp` format, as HAProxy refuses them.
public enum LogVariable: UInt8, Sendable, CaseIterable {
    case bytesOut            // B
    case requestCookie       // CC
    case responseCookie      // CS
    case hostname            // H
    case uniqueID            // ID
    case status              // ST
    case acceptDateGMT       // T
    case Ta, Tc, Td, Th, Ti
    case acceptDateLocal     // Tl
    case Tq, Tr, TR
    case timestamp           // Ts
    case Tt, Tu, Tw
    case bytesIn             // U
    case activeConnections   // ac
    case backend             // b
    case backendConnections  // bc
    case backendSourceIP     // bi
    case backendSourcePort   // bp
    case backendQueue        // bq
    case clientIP            // ci
    case clientPort          // cp
    case frontend            // f
    case frontendConnections // fc
    case frontendIP          // fi
    case frontendPort        // fp
    case frontendTransport   // ft
    case requestHeaders      // hr
    case requestHeaderList   // hrl
    case responseHeaders     // hs
    case responseHeaderList  // hsl
    case method              // HM
    case path                // HP
    case pathOnly            // HPO
    case query               // HQ
    case uri                 // HU
    case version             // HV
    case logCounter          // lc
    case acceptMilliseconds  // ms
    case pid                 // pid
    case request             // r
    case retries             // rc
    case requestCounter      // rt
    case server              // s
    case serverConnections   // sc
    case serverIP            // si
    case serverPort          // sp
    case serverQueue         // sq
    case sslCipher           // sslc
    case sslVersion          // sslv
    case acceptDate          // t
    case requestDate         // tr
    case requestDateGMT      // trg
    case requestDateLocal    // trl
    case terminationState    // ts
    case terminationCookie   // tsc

    /// The name after `%`, exactly as HAProxy spells it.
    public var name: String {
        switch self {
        case .bytesOut: "B"
        case .requestCookie: "CC"
        case .responseCookie: "CS"
        case .hostname: "H"
        case .uniqueID: "ID"
        case .status: "ST"
        case .acceptDateGMT: "T"
        case .Ta: "Ta"
        case .Tc: "Tc"
        case .Td: "Td"
        case .Th: "Th"
        case .Ti: "Ti"
        case .acceptDateLocal: "Tl"
        case .Tq: "Tq"
        case .Tr: "Tr"
        case .TR: "TR"
        case .timestamp: "Ts"
        case .Tt: "Tt"
        case .Tu: "Tu"
        case .Tw: "Tw"
        case .bytesIn: "U"
        case .activeConnections: "ac"
        case .backend: "b"
        case .backendConnections: "bc"
        case .backendSourceIP: "bi"
        case .backendSourcePort: "bp"
        case .backendQueue: "bq"
        case .clientIP: "ci"
        case .clientPort: "cp"
        case .frontend: "f"
        case .frontendConnections: "fc"
        case .frontendIP: "fi"
        case .frontendPort: "fp"
        case .frontendTransport: "ft"
        case .requestHeaders: "hr"
        case .requestHeaderList: "hrl"
        case .responseHeaders: "hs"
        case .responseHeaderList: "hsl"
        case .method: "HM"
        case .path: "HP"
        case .pathOnly: "HPO"
        case .query: "HQ"
        case .uri: "HU"
        case .version: "HV"
        case .logCounter: "lc"
        case .acceptMilliseconds: "ms"
        case .pid: "pid"
        case .request: "r"
        case .retries: "rc"
        case .requestCounter: "rt"
        case .server: "s"
        case .serverConnections: "sc"
        case .serverIP: "si"
        case .serverPort: "sp"
        case .serverQueue: "sq"
        case .sslCipher: "sslc"
        case .sslVersion: "sslv"
        case .acceptDate: "t"
        case .requestDate: "tr"
        case .requestDateGMT: "trg"
        case .requestDateLocal: "trl"
        case .terminationState: "ts"
        case .terminationCookie: "tsc"
        }
    }

    /// HAProxy refuses these in a format of a `mode tcp` proxy ("reserved for HTTP mode").
    public var httpOnly: Bool {
        switch self {
        case .requestCookie, .responseCookie, .Ta, .Ti, .Tq, .Tr, .TR, .method, .path, .pathOnly,
             .query, .uri, .version, .request, .requestDate, .requestDateGMT, .requestDateLocal:
            true
        default:
            false
        }
    }

    /// Looks a name up (case-sensitive, as HAProxy does: `%tr` and `%TR` differ).
    public init?(name: String) {
        guard let v = Self.byName[name] else { return nil }
        self = v
    }

    private static let byName: [String: LogVariable] = Dictionary(uniqueKeysWithValues: allCases.map { ($0.name, $0) })

    /// Every name, for "did you mean" and the documentation.
    public static let names = allCases.map(\.name)
}
