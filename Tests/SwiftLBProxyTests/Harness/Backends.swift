import Foundation
import XCTest

/// Real nginx servers on loopback, one `server` block per port, each answering its own name on
/// `/`, the X-Forwarded-For it received on `/xff`, `healthy nodeN` on `/health`, 503 on
/// `/sick`, and any file under its root. With `separate`, each port is its own nginx process,
/// so a test can kill and restart one server.
final class NginxBackends {
    let ports: [Int]
    let root: String
    private let dir: TempDirectory
    private var children: [ChildProcess?]
    private let configs: [String]

    /// `anyPath`: every other path answers "nodeN" too (the `/` answer), for tests that tell
    /// servers apart by the path they send.
    init(count: Int, in dir: TempDirectory, separate: Bool = false, anyPath: Bool = false) throws {
        self.dir = dir
        let ports = (0..<count).map { _ in freePort() }
        let root = dir.file("nginx")
        self.ports = ports
        self.root = root
        try FileManager.default.createDirectory(atPath: root + "/tmp", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: root + "/www", withIntermediateDirectories: true)
        let blocks = ports.enumerated().map { i, port in
            """
              server {
                listen 127.0.0.1:\(port);
                root \(root)/www;
                location = / { return 200 "node\(i + 1)\\n"; }
                location = /xff { return 200 "xff=$http_x_forwarded_for host=$host node\(i + 1)\\n"; }
                location = /health { return 200 "healthy node\(i + 1)\\n"; }
                location = /sick { return 503 "sick\\n"; }
                location = /boom { return 500 "boom\\n"; }
                location = /path1 { return 200 "one\\n"; }
                location = /path2 { return 200 "two\\n"; }
                location = /path3 { return 200 "three\\n"; }
                \(anyPath ? "location / { return 200 \"node\(i + 1)\\n\"; }" : "")
              }

            """
        }
        let groups = separate ? blocks.map { [$0] } : [blocks]
        var configs: [String] = []
        for (g, group) in groups.enumerated() {
            let user = getuid() == 0 ? "user root;" : ""
            configs.append(try dir.write("nginx\(g).conf", """
                \(user)
                worker_processes 1;
                daemon off;
                master_process off;
                pid \(root)/nginx\(g).pid;
                error_log \(root)/error\(g).log;
                events { worker_connections 1024; }
                http {
                  access_log off;
                  keepalive_requests 100000;
                  client_body_temp_path \(root)/tmp;
                  proxy_temp_path \(root)/tmp;
                  fastcgi_temp_path \(root)/tmp;
                  uwsgi_temp_path \(root)/tmp;
                  scgi_temp_path \(root)/tmp;
                \(group.joined())
                }
                """))
        }
        self.configs = configs
        self.children = Array(repeating: nil, count: configs.count)
        for g in configs.indices { try start(g) }
        for port in ports where !waitForPort(port) {
            throw HarnessError("nginx did not start on \(port)")
        }
    }

    /// Starts (again) the nginx process of group `g` (with `separate`, server g).
    func start(_ g: Int) throws {
        children[g] = try ChildProcess("/usr/sbin/nginx", ["-c", configs[g], "-e", root + "/error\(g).log"], logDirectory: dir, name: "nginx\(g)-\(UUID().uuidString.prefix(4))")
        if configs.count == ports.count { _ = waitForPort(ports[g]) }
    }

    /// Stops server `g` (its process; with `separate` only).
    func kill(_ g: Int) {
        children[g]?.stop()
        children[g] = nil
    }

    func stop() { for g in children.indices { kill(g) } }
}

/// The nginx.conf of a one-process test nginx kept under `root` (pid, error log and temp
/// directories there, created here) with `server` as its one `server { … }` block.
func singleNginxConfig(root: String, server: String) throws -> String {
    try FileManager.default.createDirectory(atPath: root + "/tmp", withIntermediateDirectories: true)
    return """
        \(getuid() == 0 ? "user root;" : "")
        worker_processes 1;
        daemon off;
        master_process off;
        pid \(root)/nginx.pid;
        error_log \(root)/error.log;
        events { worker_connections 1024; }
        http {
          access_log off;
          client_body_temp_path \(root)/tmp;
          proxy_temp_path \(root)/tmp;
          fastcgi_temp_path \(root)/tmp;
          uwsgi_temp_path \(root)/tmp;
          scgi_temp_path \(root)/tmp;
          server {
        \(server)
          }
        }
        """
}

/// The Python streaming/hashing backend of Tests/fixtures/stream_server.py.
final class StreamBackend {
    let port = freePort()
    private let child: ChildProcess
    init(in dir: TempDirectory) throws {
        child = try ChildProcess("/usr/bin/env", ["python3", Paths.fixtures.appendingPathComponent("stream_server.py").path, "\(port)"], logDirectory: dir, name: "stream-\(port)")
        guard waitForPort(port) else { throw HarnessError("stream_server did not start: \(child.stderr)") }
    }
    func stop() { child.stop() }
}

/// A running `swiftlb run -c FILE`.
final class SwiftLBInstance {
    let child: ChildProcess
    let configPath: String

    /// Writes the config, starts swiftlb (with `environment` on top of the test process's), and
    /// waits until `port` accepts connections.
    init(config: String, waitPort: Int, in dir: TempDirectory, name: String = "swiftlb", environment: [String: String] = [:]) throws {
        configPath = try dir.write("\(name).conf", config)
        child = try ChildProcess(Paths.swiftlb, ["run", "-c", configPath], logDirectory: dir, name: name, environment: environment)
        guard waitForPort(waitPort) else {
            child.stop()
            throw HarnessError("swiftlb did not listen on \(waitPort): \(child.stderr)")
        }
    }

    var accessLog: String { child.stdout }

    /// Waits (bounded) until the access log satisfies `condition`: a line is written when its
    /// request or session ends, a moment after the client saw the answer. The caller asserts
    /// on the log afterwards, so a log that never gets there fails with its text.
    func waitForAccessLog(timeout: TimeInterval = 5, _ condition: (String) -> Bool) {
        _ = waitUntil(timeout: timeout) { condition(self.accessLog) }
    }

    func stop() { child.stop() }
}

/// The `stats socket` of a proxy started by `startProxy(global:)`, read with `swiftlb ctl`.
struct StatsClient {
    let path: String
    init(in dir: TempDirectory) { path = dir.file("stats.sock") }

    /// The `global` section that opens it.
    var global: String { "global\n    stats socket \(path)\n\n" }

    /// The `column` of `proxy`/`server` (`BACKEND` for the backend's row) in `show stat`.
    func field(_ proxy: String, _ server: String, _ column: String) -> String? {
        let rows = runCommand(Paths.swiftlb, ["ctl", "-s", path, "show", "stat"]).out.split(separator: "\n").map { $0.split(separator: ",", omittingEmptySubsequences: false) }
        guard let header = rows.first, let index = header.firstIndex(where: { $0 == column }),
              let row = rows.first(where: { $0.count > index && $0[0] == proxy && $0[1] == server }) else { return nil }
        return String(row[index])
    }

    /// `scur`: the sessions holding a slot of `proxy`/`server` now.
    func sessions(_ proxy: String, _ server: String) -> Int? { field(proxy, server, "scur").flatMap { Int($0) } }

    /// Waits (bounded) until `proxy`/`server` holds `count` sessions: the request sent just
    /// before has been given its server.
    func waitForSessions(_ proxy: String, _ server: String, _ count: Int, timeout: TimeInterval = 5) -> Bool {
        waitUntil(timeout: timeout) { self.sessions(proxy, server) == count } != nil
    }
}

struct HarnessError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// The usual defaults section of the tests: short timeouts so failures show quickly.
func testDefaults(server: String = "5s", httpRequest: String = "5s") -> String {
    """
    defaults
        mode http
        option httplog
        timeout connect 2s
        timeout client 30s
        timeout server \(server)
        timeout http-request \(httpRequest)
        timeout http-keep-alive 5s

    """
}

/// The `defaults` of tests that run one configuration text through both HAProxy and SwiftLB:
/// plain HTTP with short timeouts, nothing HAProxy would warn about.
let differentialHTTPDefaults = """
    defaults
        mode http
        timeout connect 2s
        timeout client 5s
        timeout server 5s

    """

/// Skips a test that compares with HAProxy when haproxy is not installed.
func requireHAProxy() throws {
    try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: "/usr/sbin/haproxy"), "haproxy is installed by scripts/test.sh")
}

/// A real redis-server on loopback (no persistence), for tcp-check sequences.
final class RedisBackend {
    let port = freePort()
    private let child: ChildProcess
    init(in dir: TempDirectory) throws {
        child = try ChildProcess("/usr/bin/redis-server", ["--port", "\(port)", "--bind", "127.0.0.1", "--save", "",
                                                           "--appendonly", "no", "--daemonize", "no", "--dir", dir.path],
                                 logDirectory: dir, name: "redis-\(port)")
        guard waitForPort(port) else { throw HarnessError("redis-server did not start: \(child.stderr)") }
    }
    func stop() { child.stop() }
}

/// `server` lines for lb.conf: `    server node1 127.0.0.1:PORT [cookie n1] [PARAMS]`,
/// numbered from 1; `cookie` is the prefix of each server's cookie value.
func serverLines(_ ports: [Int], name: String = "node", cookie: String? = nil, params: String = "") -> String {
    ports.enumerated().map { i, port in
        var line = "    server \(name)\(i + 1) 127.0.0.1:\(port)"
        if let cookie { line += " cookie \(cookie)\(i + 1)" }
        if !params.isEmpty { line += " " + params }
        return line
    }.joined(separator: "\n")
}

/// The common shape of a proxy test: swiftlb on a free loopback port with `testDefaults`, one
/// frontend `fe` (plus `frontendExtra` lines) whose default backend is `backend`, and `backends`
/// as the rest of the file. Returns the instance and its port; the caller stops it.
func startProxy(backend: String, backends: String, frontendExtra: String = "", global: String = "",
                server: String = "5s", httpRequest: String = "5s", in dir: TempDirectory) throws -> (SwiftLBInstance, Int) {
    let port = freePort()
    let extra = frontendExtra.isEmpty ? "" : frontendExtra.split(separator: "\n").map { "    " + $0.trimmingCharacters(in: .whitespaces) }.joined(separator: "\n") + "\n"
    let config = global + testDefaults(server: server, httpRequest: httpRequest)
        + "frontend fe\n    bind 127.0.0.1:\(port)\n" + extra + "    default_backend \(backend)\n" + backends
    return (try SwiftLBInstance(config: config, waitPort: port, in: dir), port)
}

/// An nginx that terminates TLS itself on `port` with the key and certificate of `pem`, its
/// `server` block holding `locations` (nginx's `$ssl_server_name` shows the SNI it got).
/// `http2`: it speaks HTTP/2 too (ALPN h2).
func startTLSNginx(port: Int, pem: String, locations: String, http2: Bool = false, in dir: TempDirectory, name: String = "tlsnginx") throws -> ChildProcess {
    let root = dir.file(name)
    try FileManager.default.createDirectory(atPath: root + "/tmp", withIntermediateDirectories: true)
    let user = getuid() == 0 ? "user root;" : ""
    let conf = try dir.write("\(name).conf", """
        \(user)
        worker_processes 1; daemon off; master_process off;
        pid \(root)/nginx.pid; error_log \(root)/error.log;
        events { worker_connections 64; }
        http {
          access_log off; client_body_temp_path \(root)/tmp; proxy_temp_path \(root)/tmp;
          fastcgi_temp_path \(root)/tmp; uwsgi_temp_path \(root)/tmp; scgi_temp_path \(root)/tmp;
          server {
            listen 127.0.0.1:\(port) ssl\(http2 ? " http2" : "");
            ssl_certificate \(pem); ssl_certificate_key \(pem);
            \(locations)
          }
        }
        """)
    return try ChildProcess("/usr/sbin/nginx", ["-c", conf, "-e", root + "/error.log"], logDirectory: dir, name: name)
}
