import Foundation
import XCTest

/// Real nginx servers on loopback, one `server` block per port, each answering its own name on
/// `/`, the X-Forwarded-For it received on `/xff`, and any file under its root.
final class NginxBackends {
    let ports: [Int]
    let root: String
    private let child: ChildProcess

    init(count: Int, in dir: TempDirectory) throws {
        ports = (0..<count).map { _ in freePort() }
        root = dir.file("nginx")
        try FileManager.default.createDirectory(atPath: root + "/tmp", withIntermediateDirectories: true)
        var servers = ""
        for (i, port) in ports.enumerated() {
            servers += """
              server {
                listen 127.0.0.1:\(port);
                root \(root)/www;
                location = / { return 200 "node\(i + 1)\\n"; }
                location = /xff { return 200 "xff=$http_x_forwarded_for host=$host node\(i + 1)\\n"; }
                location = /path1 { return 200 "one\\n"; }
                location = /path2 { return 200 "two\\n"; }
                location = /path3 { return 200 "three\\n"; }
                location = /slow { return 200 "slow\\n"; }
              }

            """
        }
        try FileManager.default.createDirectory(atPath: root + "/www", withIntermediateDirectories: true)
        let user = getuid() == 0 ? "user root;" : ""
        let conf = try dir.write("nginx.conf", """
            \(user)
            worker_processes 1;
            daemon off;
            master_process off;
            pid \(root)/nginx.pid;
            error_log \(root)/error.log;
            events { worker_connections 1024; }
            http {
              access_log off;
              keepalive_requests 100000;
              client_body_temp_path \(root)/tmp;
              proxy_temp_path \(root)/tmp;
              fastcgi_temp_path \(root)/tmp;
              uwsgi_temp_path \(root)/tmp;
              scgi_temp_path \(root)/tmp;
            \(servers)
            }
            """)
        child = try ChildProcess("/usr/sbin/nginx", ["-c", conf, "-e", root + "/error.log"], logDirectory: dir, name: "nginx")
        for port in ports where !waitForPort(port) {
            throw HarnessError("nginx did not start on \(port): \(child.stderr)")
        }
    }

    func stop() { child.stop() }
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

    /// Writes the config, starts swiftlb, and waits until `port` accepts connections.
    init(config: String, waitPort: Int, in dir: TempDirectory, name: String = "swiftlb") throws {
        configPath = try dir.write("\(name).conf", config)
        child = try ChildProcess(Paths.swiftlb, ["run", "-c", configPath], logDirectory: dir, name: name)
        guard waitForPort(waitPort) else {
            child.stop()
            throw HarnessError("swiftlb did not listen on \(waitPort): \(child.stderr)")
        }
    }

    var accessLog: String { child.stdout }
    func stop() { child.stop() }
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
