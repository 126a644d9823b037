import Foundation

/// The `show stat` CSV columns `columns` of a proxy's `FRONTEND` row, as the command `command`
/// prints them (`socat` on HAProxy's socket, `swiftlb ctl` on ours); empty when the row or the
/// command is missing. The differential tests compare HAProxy's counters with SwiftLB's this way.
func frontendStatColumns(_ command: [String], _ columns: [String], proxy: String = "fe") -> [String] {
    let rows = runCommand(command[0], Array(command.dropFirst())).out.split(separator: "\n").map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
    guard let header = rows.first?.map({ $0.replacingOccurrences(of: "# ", with: "") }),
          let row = rows.first(where: { $0.count > 1 && $0[0] == proxy && $0[1] == "FRONTEND" }) else { return [] }
    return columns.compactMap { name in header.firstIndex(of: name).map { row[$0] } }
}

/// `show stat` through HAProxy's stats socket at `socket`, with socat.
func haproxyStatCommand(_ socket: String) -> [String] {
    ["/bin/sh", "-c", "echo 'show stat' | socat -t 2 - UNIX-CONNECT:\(socket)"]
}
