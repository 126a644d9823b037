import Foundation
import SwiftLBTestSupport
import XCTest

/// The deployment kit (docker/, the stack scripts, docker/k8s/) judged by the tools its users
/// run, on this machine, which has no Docker engine: shellcheck on every script of the
/// repository, hadolint on the Dockerfile, `docker-compose config -q` on both compose files,
/// `swiftlb check` on every lb.conf shipped in docker/, Kubernetes' own JSON schemas
/// (kubernetes-validate, offline, strict) on the manifests, and `init_stack.sh --dry-run`.
/// Each tool is first shown a broken input it must reject, so a tool that runs but judges
/// nothing cannot pass. The tools come from scripts/lib/deps.sh (test set).
final class DeploymentKitTests: XCTestCase {
    private var dir: TempDirectory!
    private let repo = Paths.repository.path

    override func setUpWithError() throws { dir = try TempDirectory() }
    override func tearDown() { dir = nil }

    // MARK: shellcheck

    func testShellcheckPassesOnEveryScriptOfTheRepository() throws {
        let shellcheck = try tool("shellcheck")
        let broken = try dir.write("broken.sh", "#!/usr/bin/env bash\npids=()\npid=$1\npids+=($pid)\necho ${pids[@]}\n")
        let bad = run(shellcheck, [broken])
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertTrue(bad.out.contains("SC2206"), "shellcheck must flag the unquoted array element: \(bad.out)")

        let scripts = shellScripts()
        for expected in ["scripts/init_stack.sh", "scripts/down_stack.sh", "scripts/del_stack.sh", "scripts/nuke.sh",
                         "scripts/lib/stack.sh", "scripts/lib/deps.sh", "scripts/demo.sh", "scripts/test.sh", ".ci/run",
                         "docker/healthcheck.sh", "docker/postgres/standby.sh", "docker/postgres/primary-init.sh"] {
            XCTAssertTrue(scripts.contains(expected), "\(expected) was not found among the scripts: \(scripts)")
        }
        // From the repository's root, as a contributor runs it (.shellcheckrc applies).
        let result = run(shellcheck, scripts, cwd: repo)
        XCTAssertEqual(result.status, 0, "shellcheck on \(scripts.count) scripts:\n\(result.out)\(result.err)")
    }

    /// Every shell script: `*.sh`, and any file under scripts/, .ci/ or docker/ that starts
    /// with a shell's #! line. Build and VCS directories are not the repository's scripts.
    private func shellScripts() -> [String] {
        let skip: Set<String> = [".git", ".build", ".swiftpm", "node_modules", "data"]
        var found: [String] = []
        let fm = FileManager.default
        guard let walker = fm.enumerator(atPath: repo) else { return [] }
        while let relative = walker.nextObject() as? String {
            let name = (relative as NSString).lastPathComponent
            if skip.contains(name) || name.hasPrefix(".build") { walker.skipDescendants(); continue }
            let path = repo + "/" + relative
            var isDirectory: ObjCBool = false
            guard fm.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue else { continue }
            if relative.hasPrefix("Tests/fixtures/") { continue }
            if name.hasSuffix(".sh") { found.append(relative); continue }
            guard ["scripts/", ".ci/", "docker/"].contains(where: relative.hasPrefix),
                  let head = try? FileHandle(forReadingFrom: URL(fileURLWithPath: path)).read(upToCount: 64),
                  let line = String(data: head, encoding: .utf8)?.split(separator: "\n").first else { continue }
            if line.hasPrefix("#!") && (line.hasSuffix("bash") || line.hasSuffix("/sh")) { found.append(relative) }
        }
        return found.sorted()
    }

    // MARK: hadolint

    func testHadolintPassesTheDockerfile() throws {
        let hadolint = try tool("hadolint")
        let broken = try dir.write("Dockerfile", "FROM debian:bookworm-slim\nRUN apt-get update && apt-get install -y curl\nUSER root\n")
        let bad = run(hadolint, ["--no-color", broken])
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertTrue(bad.out.contains("DL3008") && bad.out.contains("DL3002"), "hadolint must flag an unpinned install and a root user: \(bad.out)")

        let result = run(hadolint, ["--no-color", "docker/Dockerfile"], cwd: repo)
        XCTAssertEqual(result.status, 0, "hadolint docker/Dockerfile:\n\(result.out)\(result.err)")

        // What the issue asks of the image, read from the file itself.
        let dockerfile = try String(contentsOfFile: repo + "/docker/Dockerfile", encoding: .utf8)
        for needle in ["ARG SWIFT_IMAGE=swift:6.3", "--static-swift-stdlib", "debian:bookworm-slim", "libssl3", "libpcre2-8-0",
                       "swiftlb check -c /etc/swiftlb/lb.conf", "swiftlb check -c /etc/swiftlb/lb-ha.conf", "USER 10001:10001",
                       "HEALTHCHECK", "STOPSIGNAL SIGTERM", "install -d -o swiftlb -g swiftlb -m 0750 /run/swiftlb"] {
            XCTAssertTrue(dockerfile.contains(needle), "docker/Dockerfile lacks '\(needle)'")
        }
        // The build context: everything the Dockerfile copies is let in, nothing else.
        let ignore = try String(contentsOfFile: repo + "/.dockerignore", encoding: .utf8)
        XCTAssertTrue(ignore.split(separator: "\n").first { !$0.hasPrefix("#") } == "*", "the .dockerignore starts by excluding everything")
        for copied in ["Package.swift", "Sources/", "scripts/gen-cert.sh", "docker/lb.conf", "docker/lb-ha.conf", "docker/healthcheck.sh"] {
            XCTAssertTrue(ignore.contains("!\(copied)"), ".dockerignore must let \(copied) in: the Dockerfile copies it")
            XCTAssertTrue(FileManager.default.fileExists(atPath: repo + "/" + copied), copied)
        }
    }

    // MARK: compose

    func testBothComposeFilesAreValidAndAgreeWithTheirConfigurations() throws {
        let compose = try tool("docker-compose")
        let broken = try dir.write("docker-compose.yml", "services:\n  lb:\n    image: swiftlb:local\n    stop_grace_period: [40s]\n    restartt: always\n")
        XCTAssertNotEqual(run(compose, ["-f", broken, "config", "-q"]).status, 0, "docker-compose must reject a misspelt key")

        let env = ["SWIFTLB_DATA": dir.file("data")]
        for (file, config) in [("docker/docker-compose.yml", "docker/lb.conf"), ("docker/docker-compose-ha.yml", "docker/lb-ha.conf")] {
            let quiet = run(compose, ["-f", file, "config", "-q"], cwd: repo, env: env)
            XCTAssertEqual(quiet.status, 0, "docker-compose -f \(file) config -q:\n\(quiet.out)\(quiet.err)")
            let resolved = run(compose, ["-f", file, "config"], cwd: repo, env: env.merging(["COMPOSE_PROFILES": "standin"]) { $1 })
            XCTAssertEqual(resolved.status, 0, resolved.err)
            let services = composeServices(resolved.out)
            let lbConf = try String(contentsOfFile: repo + "/" + config, encoding: .utf8)

            // Docker's stop grace outlasts SwiftLB's drain (hard-stop-after), for every instance.
            let hardStop = try XCTUnwrap(seconds(firstArgument(of: "hard-stop-after", in: lbConf)), "\(config) sets hard-stop-after")
            let lbs = services.filter { $0.value.contains("image: swiftlb:local") }
            XCTAssertFalse(lbs.isEmpty, "\(file) runs SwiftLB")
            for (name, block) in lbs {
                let grace = seconds(value(of: "stop_grace_period", in: block)) ?? 10
                XCTAssertGreaterThan(grace, hardStop, "\(file) \(name): stop_grace_period \(grace)s must outlast hard-stop-after \(hardStop)s")
                XCTAssertTrue(block.contains("\(repo)/\(config):/etc/swiftlb/lb.conf:ro"), "\(file) \(name) mounts \(config) read-only")
                XCTAssertTrue(block.contains("/etc/swiftlb/hipc.pem:ro"), "\(file) \(name) mounts hipc.pem")
                XCTAssertTrue(block.contains("- ALL"), "\(file) \(name) drops every capability it does not add back")
                XCTAssertNotNil(value(of: "healthcheck", in: block), "\(file) \(name) has a health check")
            }

            // Every server of the configuration is a service of the file, at the address it has there.
            let addresses = Dictionary(uniqueKeysWithValues: services.compactMap { name, block in
                value(of: "ipv4_address", in: block).map { ($0, name) }
            })
            for server in serverAddresses(lbConf) {
                XCTAssertNotNil(addresses[server], "\(config) names \(server), which no service of \(file) has")
            }
            XCTAssertFalse(serverAddresses(lbConf).isEmpty)
            if file.hasSuffix("-ha.yml") {
                // The two instances peer with each other, and the VIP is nobody's own address.
                let lb1 = try XCTUnwrap(services["lb1"]), lb2 = try XCTUnwrap(services["lb2"])
                XCTAssertEqual(value(of: "VRRP_SELF", in: lb1), value(of: "ipv4_address", in: lb1))
                XCTAssertEqual(value(of: "VRRP_PEER", in: lb1), value(of: "ipv4_address", in: lb2))
                XCTAssertEqual(value(of: "VRRP_SELF", in: lb2), value(of: "ipv4_address", in: lb2))
                XCTAssertEqual(value(of: "VRRP_PEER", in: lb2), value(of: "ipv4_address", in: lb1))
                for lb in [lb1, lb2] {
                    for cap in ["NET_ADMIN", "NET_RAW"] { XCTAssertTrue(lb.contains("- \(cap)"), "the VIP needs \(cap)") }
                }
                let vip = try XCTUnwrap(firstArgument(of: "virtual_ipaddress", in: lbConf)).split(separator: "/")[0]
                XCTAssertNil(addresses[String(vip)], "the VIP \(vip) is not a container's own address")
                XCTAssertTrue(lbConf.contains("uid 10001") && lbConf.contains("gid 10001"), "the HA instances drop to the image's user")
            }
        }
    }

    // MARK: swiftlb check

    /// Every lb.conf under docker/, with its /etc/swiftlb files made here (a certificate from
    /// gen-cert.sh, a heartbeat key), for each environment the kit gives it.
    func testEveryShippedConfigurationPassesSwiftlbCheck() throws {
        let etc = dir.file("etc")
        try FileManager.default.createDirectory(atPath: etc + "/tls", withIntermediateDirectories: true)
        for pem in [etc + "/hipc.pem", etc + "/tls/hipc.pem"] {
            XCTAssertEqual(run(repo + "/scripts/gen-cert.sh", ["hipchat.example.test", pem]).status, 0)
        }
        try "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWYK\n".write(toFile: etc + "/vrrp.key", atomically: false, encoding: .utf8)
        chmod(etc + "/vrrp.key", 0o600)

        let configs = try FileManager.default.subpathsOfDirectory(atPath: repo + "/docker")
            .filter { ($0 as NSString).lastPathComponent.hasPrefix("lb") && $0.hasSuffix(".conf") }.sorted()
        XCTAssertEqual(configs, ["k8s/lb.conf", "lb-ha.conf", "lb.conf"])
        let variants: [String: [[String: String]]] = [
            // lb2 of docker-compose-ha.yml; lb1 uses the file's defaults.
            "lb-ha.conf": [[:], ["VRRP_PRIORITY": "100", "VRRP_SELF": "172.29.20.12", "VRRP_PEER": "172.29.20.11"]],
        ]
        var pending: [String] = []
        for config in configs {
            let text = try String(contentsOfFile: repo + "/docker/" + config, encoding: .utf8)
            let copy = try dir.write(config.replacingOccurrences(of: "/", with: "-"), text.replacingOccurrences(of: "/etc/swiftlb/", with: etc + "/"))
            for env in variants[config] ?? [[:]] {
                let result = run(Paths.swiftlb, ["check", "-c", copy], env: env)
                pending += result.err.split(separator: "\n").filter { $0.contains("not yet supported") }.map { "docker/\(config): \($0)" }
                XCTAssertEqual(result.status, 0, "swiftlb check -c docker/\(config) \(env):\n\(result.err)")
                XCTAssertTrue(result.out.contains("Configuration file is valid"), result.out)
            }
        }
        if !pending.isEmpty { print("keywords the kit uses that SwiftLB does not accept yet:\n" + Set(pending).sorted().joined(separator: "\n")) }
    }

    // MARK: Kubernetes

    func testKubernetesManifestsMatchKubernetesSchemas() throws {
        let validate = try tool("kubernetes-validate")
        let k8s = repo + "/docker/k8s"
        let deployment = try String(contentsOfFile: k8s + "/deployment.yaml", encoding: .utf8)
        let typo = try dir.write("typo.yaml", deployment.replacingOccurrences(of: "  replicas: 2", with: "  replica: 2"))
        XCTAssertNotEqual(run(validate, ["--strict", typo]).status, 0, "a misspelt field must be refused")
        let wrongType = try dir.write("type.yaml", deployment.replacingOccurrences(of: "terminationGracePeriodSeconds: 45", with: "terminationGracePeriodSeconds: soon"))
        XCTAssertNotEqual(run(validate, ["--strict", wrongType]).status, 0, "a string where a number goes must be refused")

        // Every resource kustomize applies, strictly, against the oldest and newest schemas shipped.
        let kustomization = try String(contentsOfFile: k8s + "/kustomization.yaml", encoding: .utf8)
        let resources = kustomization.split(separator: "\n").compactMap { line -> String? in
            let t = line.trimmingCharacters(in: .whitespaces)
            return t.hasPrefix("- ") && t.hasSuffix(".yaml") ? String(t.dropFirst(2)) : nil
        }
        XCTAssertEqual(resources.sorted(), ["deployment.yaml", "poddisruptionbudget.yaml", "service.yaml"])
        XCTAssertTrue(kustomization.contains("- lb.conf") && kustomization.contains("- hipc.pem"), "lb.conf in a ConfigMap, hipc.pem in a Secret")
        for version in ["1.25.0", "1.37.0"] {
            let result = run(validate, ["--strict", "-k", version] + resources.map { k8s + "/" + $0 })
            XCTAssertEqual(result.status, 0, "kubernetes-validate --strict -k \(version):\n\(result.out)\(result.err)")
            XCTAssertEqual(result.out.components(separatedBy: " passed for resource ").count - 1, 4, result.out)
        }

        // Probes ask lb.conf's monitor-uri on the port that frontend binds; the grace covers the drain.
        let lbConf = try String(contentsOfFile: k8s + "/lb.conf", encoding: .utf8)
        let monitor = try XCTUnwrap(firstArgument(of: "monitor-uri", in: lbConf))
        XCTAssertEqual(deployment.components(separatedBy: "httpGet: {path: \(monitor), port: http}").count - 1, 2, "readiness and liveness on \(monitor)")
        XCTAssertEqual(firstArgument(of: "bind", in: lbConf), ":8080", "the first frontend, with the monitor-uri, binds the port named http")
        XCTAssertTrue(deployment.contains("{name: http, containerPort: 8080"))
        let grace = try XCTUnwrap(Double(try XCTUnwrap(value(of: "terminationGracePeriodSeconds", in: deployment))))
        let hardStop = try XCTUnwrap(seconds(firstArgument(of: "hard-stop-after", in: lbConf)))
        XCTAssertGreaterThan(grace, hardStop + 5, "the grace covers preStop's 5 s and hard-stop-after")
        XCTAssertTrue(deployment.contains("runAsNonRoot: true") && deployment.contains("drop: [\"ALL\"]"))
        XCTAssertFalse(lbConf.contains("\nvrrp "), "no VIP in Kubernetes: the Service owns the address")
    }

    // MARK: the stack scripts

    func testInitStackDryRunPrintsEveryStepAndWritesNothing() throws {
        let data = dir.file("data")
        let ports = (freePort(), freePort(), freePort())
        let env = ["SWIFTLB_DATA": data, "HTTP_PORT": "\(ports.0)", "HTTPS_PORT": "\(ports.1)", "STATS_PORT": "\(ports.2)"]
        let standalone = run(repo + "/scripts/init_stack.sh", ["--dry-run"], env: env)
        XCTAssertEqual(standalone.status, 0, standalone.out + standalone.err)
        let out = standalone.out
        for step in ["stack: standalone", "port \(ports.0) (HTTP_PORT): free", "port \(ports.1) (HTTPS_PORT): free",
                     "+ mkdir -p \(data)/certs \(data)/secrets",
                     "+ \(repo)/scripts/gen-cert.sh hipchat.example.test \(data)/certs/hipc.pem",
                     "+ chmod 640 \(data)/certs/hipc.pem", "secret: \(data)/secrets/postgres_password (new)",
                     "docker build -f \(repo)/docker/Dockerfile -t swiftlb:local \(repo)",
                     "-p hipchat -f \(repo)/docker/docker-compose.yml up -d --no-build --remove-orphans",
                     "hipchat-swiftlb   # until healthy", "Stats page     http://127.0.0.1:\(ports.2)/"] {
            XCTAssertTrue(out.contains(step), "init_stack.sh --dry-run does not print '\(step)':\n\(out)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: data), "a dry run writes nothing")

        let ha = run(repo + "/scripts/init_stack.sh", ["-f", "ha", "--dry-run", "--no-build"], env: env.merging(["STATS_PORT_LB2": "\(freePort())"]) { $1 })
        XCTAssertEqual(ha.status, 0, ha.out + ha.err)
        for step in ["stack: ha", "secret: \(data)/secrets/vrrp.key (new)", "secret: \(data)/secrets/replication_password (new)",
                     "-p hipchat-ha -f \(repo)/docker/docker-compose-ha.yml up -d", "hipchat-ha-lb1   # until healthy",
                     "hipchat-ha-lb2   # until healthy", "https://172.29.20.10/"] {
            XCTAssertTrue(ha.out.contains(step), "init_stack.sh -f ha --dry-run does not print '\(step)':\n\(ha.out)")
        }
        XCTAssertFalse(ha.out.contains("docker build"), "--no-build builds nothing")
        XCTAssertFalse(FileManager.default.fileExists(atPath: data))

        // An existing certificate is kept; one without a key is refused with its path.
        try FileManager.default.createDirectory(atPath: data + "/certs", withIntermediateDirectories: true)
        XCTAssertEqual(run(repo + "/scripts/gen-cert.sh", ["hipchat.example.test", data + "/certs/hipc.pem"]).status, 0)
        let kept = run(repo + "/scripts/init_stack.sh", ["--dry-run"], env: env)
        XCTAssertTrue(kept.out.contains("certificate: \(data)/certs/hipc.pem (yours, kept)"), kept.out)
        XCTAssertFalse(kept.out.contains("gen-cert.sh"), kept.out)
        try "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n".write(toFile: data + "/certs/hipc.pem", atomically: false, encoding: .utf8)
        let keyless = run(repo + "/scripts/init_stack.sh", ["--dry-run"], env: env)
        XCTAssertEqual(keyless.status, 1)
        XCTAssertTrue(keyless.out.contains("PROBLEM: the certificate \(data)/certs/hipc.pem needs the private key"), keyless.out)

        // A port in use is named with the variable that moves it.
        let busy = try ChildProcess("/usr/bin/python3", ["-m", "http.server", "\(ports.0)", "--bind", "127.0.0.1"], logDirectory: dir, name: "busy")
        defer { busy.stop() }
        XCTAssertTrue(waitForPort(ports.0))
        let taken = run(repo + "/scripts/init_stack.sh", ["--dry-run"], env: env)
        XCTAssertEqual(taken.status, 1)
        XCTAssertTrue(taken.out.contains("PROBLEM: port \(ports.0) is in use by python3 (pid \(busy.pid)): stop that or set HTTP_PORT to a free port"), taken.out)
    }

    func testStackScriptsAnswerHelpRefuseBadArgumentsAndNameAMissingDocker() throws {
        for script in ["init_stack", "down_stack", "del_stack", "nuke"] {
            let path = repo + "/scripts/\(script).sh"
            let help = run(path, ["--help"])
            XCTAssertEqual(help.status, 0, help.err)
            XCTAssertTrue(help.out.contains("scripts/\(script).sh [") && help.out.contains("--dry-run"), help.out)
            let bad = run(path, ["--bogus"])
            XCTAssertEqual(bad.status, 2)
            XCTAssertEqual(bad.err, "\(script).sh: unknown argument '--bogus' (see --help)\n")
        }
        let stack = run(repo + "/scripts/init_stack.sh", ["-f", "staging"])
        XCTAssertEqual(stack.status, 2)
        XCTAssertTrue(stack.err.contains("unknown stack 'staging': use -f standalone (docker/docker-compose.yml) or -f ha (docker/docker-compose-ha.yml)"), stack.err)
        XCTAssertEqual(run(repo + "/scripts/nuke.sh", ["-y"]).status, 2, "nuke.sh's only 'do not ask' is -f")

        // No docker on PATH: a PATH holding only what the scripts need before their docker check,
        // so no docker of this machine can be reached, whatever is installed.
        let bin = dir.file("bin")
        try FileManager.default.createDirectory(atPath: bin, withIntermediateDirectories: true)
        for name in ["bash", "dirname", "sed"] {
            let found = run("/usr/bin/which", [name]).out.trimmingCharacters(in: .whitespacesAndNewlines)
            try FileManager.default.createSymbolicLink(atPath: bin + "/" + name, withDestinationPath: found)
        }
        for script in ["init_stack", "down_stack", "del_stack", "nuke"] {
            let result = run(repo + "/scripts/\(script).sh", [], env: ["PATH": bin, "SWIFTLB_DATA": dir.file("data")], inheritEnvironment: false)
            XCTAssertEqual(result.status, 1, "\(script): \(result.err)")
            XCTAssertTrue(result.err.contains("\(script).sh: docker is not installed (no 'docker' on PATH): install Docker Engine and its CLI"), result.err)
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir.file("data")))

        // A docker CLI whose daemon does not answer is named as such (a socket nobody serves).
        if let docker = try? tool("docker") {
            let socket = "unix://" + dir.file("no-daemon.sock")
            let result = run(repo + "/scripts/init_stack.sh", [], env: ["DOCKER_HOST": socket, "SWIFTLB_DATA": dir.file("data"),
                                                                        "PATH": (docker as NSString).deletingLastPathComponent + ":/usr/bin:/bin"])
            XCTAssertEqual(result.status, 1)
            XCTAssertTrue(result.err.contains("init_stack.sh: docker cannot reach a Docker daemon at \(socket)"), result.err)
        }
    }

    /// nuke.sh removes only what carries the two stacks' compose labels, and refuses to empty a
    /// data directory holding anything init_stack.sh did not write.
    func testNukeTouchesOnlyTheStacksObjects() throws {
        let data = dir.file("data")
        try FileManager.default.createDirectory(atPath: data + "/certs", withIntermediateDirectories: true)
        let dry = run(repo + "/scripts/nuke.sh", ["--dry-run"], env: ["SWIFTLB_DATA": data])
        XCTAssertEqual(dry.status, 0, dry.err)
        let commands = dry.out.split(separator: "\n").filter { $0.hasPrefix("+ ") }
        XCTAssertFalse(commands.isEmpty)
        for command in commands {
            let line = String(command)
            if line.contains("docker rm") || line.contains("docker volume rm") || line.contains("docker network rm") {
                XCTAssertTrue(line.contains("--filter label=com.docker.compose.project=hipchat"), "unfiltered removal: \(line)")
            } else if line.contains(" down ") {
                XCTAssertTrue(line.contains("-p hipchat ") || line.contains("-p hipchat-ha "), line)
            } else {
                XCTAssertTrue(line == "+ docker image rm swiftlb:local" || line == "+ rm -rf -- \(data)", "unexpected step: \(line)")
            }
            XCTAssertFalse(line.contains("prune"), line)
        }
        XCTAssertTrue(FileManager.default.fileExists(atPath: data + "/certs"), "a dry run removes nothing")

        _ = try dir.write("data/notes.txt", "mine\n")
        let refused = run(repo + "/scripts/nuke.sh", ["--dry-run"], env: ["SWIFTLB_DATA": data])
        XCTAssertEqual(refused.status, 1)
        XCTAssertTrue(refused.err.contains("nuke.sh: \(data) holds more than init_stack.sh wrote (notes.txt): not removing it"), refused.err)
    }

    // MARK: the HA stack's master detectors

    /// lb-ha.conf's two detectors, copied line for line from the file, run by SwiftLB's checker
    /// against real peers on loopback: a Redis master and its replica, a Postgres primary and
    /// a standby cloned with pg_basebackup. Only the master and the primary are up; after
    /// `REPLICAOF NO ONE` and `pg_ctl promote` the promoted ones come up too.
    func testHADetectorsFindTheRedisMasterAndThePostgresPrimary() throws {
        let conf = try String(contentsOfFile: repo + "/docker/lb-ha.conf", encoding: .utf8)
        let redisChecks = checkLines(of: "listen redis_master", in: conf)
        let pgChecks = checkLines(of: "listen postgres_primary", in: conf)
        XCTAssertTrue(redisChecks.contains("    tcp-check expect string role:master"), redisChecks)
        XCTAssertTrue(pgChecks.contains("    tcp-check expect binary 440000000b00010000000166"), pgChecks)

        let masterPort = freePort()
        let master = try ChildProcess("/usr/bin/redis-server", redisArguments(port: masterPort), logDirectory: dir, name: "redis-master")
        defer { master.stop() }
        XCTAssertTrue(waitForPort(masterPort))
        let replicaPort = freePort()
        let replica = try ChildProcess("/usr/bin/redis-server", redisArguments(port: replicaPort) + ["--replicaof", "127.0.0.1", "\(masterPort)"],
                                       logDirectory: dir, name: "redis-replica")
        defer { replica.stop() }
        XCTAssertTrue(waitForPort(replicaPort))
        let postgres = try PostgresPair(in: dir, run: run)
        defer { postgres.stop() }

        let port = freePort(), socket = dir.file("ctl.sock")
        let lb = try SwiftLBInstance(config: """
            global
                stats socket \(socket)

            """ + testDefaults() + """
            frontend fe
                bind 127.0.0.1:\(port)
                default_backend redis_master
            backend redis_master
            \(redisChecks)
                timeout check 1s
                default-server check inter 200ms fall 1 rise 1
                server master 127.0.0.1:\(masterPort)
                server replica 127.0.0.1:\(replicaPort)
            backend postgres_primary
            \(pgChecks)
                timeout check 1s
                default-server check inter 200ms fall 1 rise 1
                server primary 127.0.0.1:\(postgres.primaryPort)
                server standby 127.0.0.1:\(postgres.standbyPort)
            """, waitPort: port, in: dir)
        defer { lb.stop() }
        func states() -> [String: String] {
            // HAProxy's `show servers state`: backend, server, srv_op_state (2 running, 0 stopped).
            let out = run(Paths.swiftlb, ["ctl", "-s", socket, "show", "servers", "state"]).out
            var result: [String: String] = [:]
            for row in out.split(separator: "\n").map({ $0.split(separator: " ") }) where row.count > 6 {
                result["\(row[1])/\(row[3])"] = String(row[5])
            }
            return result
        }
        let expected = ["redis_master/master": "2", "redis_master/replica": "0", "postgres_primary/primary": "2", "postgres_primary/standby": "0"]
        let settled = waitUntil(timeout: 10) { states().filter { expected[$0.key] != nil } == expected }
        XCTAssertNotNil(settled, "\(states()) after 10 s\n\(lb.child.stderr)")
        XCTAssertFalse(lb.child.stderr.contains("postgres_primary/primary is DOWN"), lb.child.stderr)
        XCTAssertFalse(lb.child.stderr.contains("redis_master/master is DOWN"), lb.child.stderr)

        // The promotions Sentinel and an operator make: the promoted server comes up.
        XCTAssertEqual(run("/usr/bin/redis-cli", ["-p", "\(replicaPort)", "replicaof", "no", "one"]).out, "OK\n")
        try postgres.promoteStandby()
        let promoted = waitUntil(timeout: 10) { states()["redis_master/replica"] == "2" && states()["postgres_primary/standby"] == "2" }
        XCTAssertNotNil(promoted, "\(states())\n\(lb.child.stderr)")
    }

    /// The check lines (`option tcp-check`, `tcp-check …`) of one section of an lb.conf.
    private func checkLines(of section: String, in conf: String) -> String {
        var inside = false, lines: [String] = []
        for line in conf.split(separator: "\n", omittingEmptySubsequences: false) {
            if !line.hasPrefix(" ") && !line.isEmpty && !line.hasPrefix("#") { inside = line == Substring(section); continue }
            let t = line.trimmingCharacters(in: .whitespaces)
            if inside && (t.hasPrefix("tcp-check ") || t == "option tcp-check") { lines.append("    " + t) }
        }
        return lines.joined(separator: "\n")
    }

    private func redisArguments(port: Int) -> [String] {
        ["--port", "\(port)", "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--daemonize", "no", "--dir", dir.path]
    }

    // MARK: the image's health check

    /// docker/healthcheck.sh against a real SwiftLB answering lb.conf's `monitor-uri`, then
    /// against the same port once nothing listens there.
    func testHealthcheckScriptAsksTheMonitorURI() throws {
        let port = freePort()
        let lb = try SwiftLBInstance(config: testDefaults() + """
            frontend fe
                bind 127.0.0.1:\(port)
                monitor-uri /healthz
                redirect scheme https code 301 if !{ ssl_fc }
            """, waitPort: port, in: dir)
        let script = repo + "/docker/healthcheck.sh"
        let env = ["SWIFTLB_HEALTH_PORT": "\(port)"]
        let healthy = run(script, [], env: env)
        XCTAssertEqual(healthy.status, 0, healthy.out + healthy.err)
        XCTAssertTrue(healthy.out.hasPrefix("healthy: HTTP/1.") && healthy.out.contains(" 200"), healthy.out)
        let elsewhere = run(script, [], env: env.merging(["SWIFTLB_HEALTH_PATH": "/"]) { $1 })
        XCTAssertEqual(elsewhere.status, 1, "a redirect is not healthy: \(elsewhere.out)")
        XCTAssertTrue(elsewhere.err.contains("unhealthy: 127.0.0.1:\(port)/ answered 'HTTP/1.1 301"), elsewhere.err)
        lb.stop()
        let down = run(script, [], env: env)
        XCTAssertEqual(down.status, 1)
        XCTAssertEqual(down.err, "unhealthy: nothing accepts connections on 127.0.0.1:\(port)\n")
    }

    // MARK: helpers

    /// A tool the tests need, from PATH or the Python scripts directory (pip's hadolint and
    /// kubernetes-validate); missing is a failure: scripts/test.sh installs them.
    private func tool(_ name: String) throws -> String {
        var dirs = (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").map(String.init)
        let scripts = run("/usr/bin/env", ["python3", "-c", "import sysconfig; print(sysconfig.get_path('scripts'))"])
        dirs.append(scripts.out.trimmingCharacters(in: .whitespacesAndNewlines))
        for dir in dirs where !dir.isEmpty {
            let path = dir + "/" + name
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        throw HarnessError("\(name) is not installed: scripts/test.sh installs it (scripts/lib/deps.sh, test set)")
    }

    /// Runs a command to completion under `timeout` (120 s), in a directory, with extra
    /// environment variables; stdin is empty.
    private func run(_ executable: String, _ arguments: [String], cwd: String? = nil, env: [String: String] = [:],
                     inheritEnvironment: Bool = true) -> (status: Int32, out: String, err: String) {
        let run = runProcess("/usr/bin/timeout", ["120", executable] + arguments, environment: env, inheritEnvironment: inheritEnvironment,
                             directory: cwd, timeout: 150)
        return (run.status, run.out, run.err)
    }

    /// The service blocks of `docker-compose config` output (two-space indentation, one
    /// service per `  name:` line under `services:`).
    private func composeServices(_ yaml: String) -> [String: String] {
        var services: [String: String] = [:]
        var inServices = false, current: String?
        for line in yaml.split(separator: "\n", omittingEmptySubsequences: false) {
            if !line.hasPrefix(" ") { inServices = line == "services:"; current = nil; continue }
            guard inServices else { continue }
            if line.hasPrefix("  ") && !line.hasPrefix("   ") && line.hasSuffix(":") {
                current = String(line.dropFirst(2).dropLast())
                services[current!] = ""
            } else if let current {
                services[current, default: ""] += line + "\n"
            }
        }
        return services
    }

    /// The value of `key: value` (YAML) or `- key=…`/`KEY: value` in a block, first match.
    private func value(of key: String, in text: String) -> String? {
        for line in text.split(separator: "\n") {
            let t = line.trimmingCharacters(in: .whitespaces)
            guard t.hasPrefix(key + ":") else { continue }
            let v = t.dropFirst(key.count + 1).trimmingCharacters(in: .whitespaces)
            return v.trimmingCharacters(in: CharacterSet(charactersIn: "'\""))
        }
        return nil
    }

    /// The first argument of a keyword's line in an lb.conf (comments skipped).
    private func firstArgument(of keyword: String, in conf: String) -> String? {
        for line in conf.split(separator: "\n") {
            let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            if words.first == Substring(keyword), words.count > 1 { return String(words[1]) }
        }
        return nil
    }

    /// `30s`, `1m`, `40s`, `45` as seconds.
    private func seconds(_ text: String?) -> Double? {
        guard var t = text else { return nil }
        var unit = 1.0
        if t.hasSuffix("ms") { unit = 0.001; t.removeLast(2) } else if t.hasSuffix("s") { t.removeLast() } else if t.hasSuffix("m") { unit = 60; t.removeLast() }
        return Double(t).map { $0 * unit }
    }

    /// The addresses of an lb.conf's `server` lines (the default of a `"${VAR-ADDR:PORT}"`),
    /// without the port.
    private func serverAddresses(_ conf: String) -> [String] {
        conf.split(separator: "\n").compactMap { line in
            let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard words.first == "server", words.count > 2 else { return nil }
            var address = String(words[2]).trimmingCharacters(in: CharacterSet(charactersIn: "\""))
            if address.hasPrefix("${"), let dash = address.firstIndex(of: "-") {
                address = String(address[address.index(after: dash)...].dropLast())
            }
            return address.split(separator: ":").first.map(String.init)
        }
    }
}
