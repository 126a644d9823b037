import Glibc

/// keepalived.conf's syntax inside lb.conf: `vrrp_instance NAME { … }`, `vrrp_script NAME { … }`,
/// `vrrp_track_process NAME { … }`, `track_file NAME { … }` and `global_defs { … }` blocks, verbatim — braces (on the line or the next), nested
/// lists (`virtual_ipaddress { … }`, `unicast_peer { … }`, `track_script { … }`), `!` and `#`
/// comments. A block's lines are read with the same keyword registry as the `vrrp` section
/// (SectionKind.vrrp, .vrrpScript, .vrrpTrackProcess, .trackFile, .globalDefs), so both
/// spellings mean the same.
enum KeepalivedBlock {
    /// One line of a block, or a nested block with the words before its `{`.
    indirect case statement(words: [String], line: Int)
    case block(header: [String], line: Int, children: [KeepalivedBlock])

    /// Top-level keywords that open a keepalived block.
    static let openers: Set<String> = ["vrrp_instance", "vrrp_script", "global_defs", "vrrp_sync_group", "virtual_server",
                                       "virtual_server_group", "static_ipaddress", "static_routes", "static_rules",
                                       "linkbeat_interfaces", "track_file", "garp_group", "bfd_instance", "track_process",
                                       "vrrp_track_process", "vrrp_track_file"]
    /// Openers that are also keywords of a `vrrp` section (`track_process NAME` there).
    static let alsoVRRPKeywords: Set<String> = ["track_process", "track_file"]
    /// Those SwiftLB refuses, with what to write instead.
    static let unsupportedOpeners: [String: String] = [
        "virtual_server": "LVS virtual servers are what SwiftLB's own frontend and backend sections do: write 'frontend' + 'backend'",
        "virtual_server_group": "LVS virtual servers are what SwiftLB's own frontend and backend sections do: write 'frontend' + 'backend'",
        "static_ipaddress": "SwiftLB manages only its VIPs; configure static addresses in the system's network configuration",
        "static_routes": "SwiftLB manages only its VIPs; configure routes in the system's network configuration",
        "static_rules": "SwiftLB manages only its VIPs; configure rules in the system's network configuration",
        "linkbeat_interfaces": "the VIP runtime watches its interface's link itself",
        "garp_group": "not supported; use garp_master_repeat and garp_master_refresh",
        "bfd_instance": "BFD is not supported",
        // keepalived 2.2 has no such block (its parser would not know the line): the block is
        // vrrp_track_process, the list inside an instance track_process.
        "track_process": "keepalived names the block 'vrrp_track_process NAME { … }' ('track_process { NAME … }' is the list inside a vrrp_instance)",
    ]
}

/// Gathers the lines of one top-level block until its braces balance.
struct KeepalivedCollector {
    private var stack: [(header: [String], line: Int, children: [KeepalivedBlock])] = []
    /// The previous line's words, for a `{` alone on the next line.
    private var pending: (words: [String], line: Int)?
    private(set) var result: KeepalivedBlock?
    /// What is wrong with the text (a `}` too many); the block is dropped.
    private(set) var problem: (message: String, line: Int)?
    /// The opener had no `{` on its line or the next: the line given to `feed` was not read.
    private(set) var lineNotRead = false

    /// Feeds one line; true once the block is complete.
    mutating func feed(_ line: ConfigLine) -> Bool {
        if stack.isEmpty, let opener = pending, line.words.first?.hasPrefix("{") != true {
            problem = ("'\(opener.words.joined(separator: " "))' opens a keepalived block: '{' expected (on its line or the next)", opener.line)
            lineNotRead = true
            return true
        }
        var words: [String] = []
        for raw in line.words {
            if raw.hasPrefix("!") { break }  // keepalived's comment
            // `{` and `}` are separate tokens even when written against a word.
            var token = ""
            for ch in raw {
                if ch == "{" || ch == "}" {
                    if !token.isEmpty { words.append(token); token = "" }
                    words.append(String(ch))
                } else {
                    token.append(ch)
                }
            }
            if !token.isEmpty { words.append(token) }
        }
        var current: [String] = []
        for word in words {
            switch word {
            case "{":
                var header = current
                var headerLine = line.number
                if header.isEmpty, let previous = pending {
                    header = previous.words
                    headerLine = previous.line
                    pending = nil
                }
                if let previous = pending { append(.statement(words: previous.words, line: previous.line)); pending = nil }
                stack.append((header, headerLine, []))
                current = []
            case "}":
                flush(&current, line.number)
                guard let closed = stack.popLast() else { problem = ("'}' without a matching '{'", line.number); return true }
                let block = KeepalivedBlock.block(header: closed.header, line: closed.line, children: closed.children)
                if stack.isEmpty { result = block; return true }
                append(block)
            default:
                current.append(word)
            }
        }
        if !current.isEmpty {
            if let previous = pending { append(.statement(words: previous.words, line: previous.line)) }
            // Kept back one line: a `{` may follow on the next.
            pending = (current, line.number)
        }
        return false
    }

    var isOpen: Bool { !stack.isEmpty || pending != nil }
    var awaitingBrace: Bool { stack.isEmpty && pending != nil }

    private mutating func flush(_ current: inout [String], _ line: Int) {
        if let previous = pending { append(.statement(words: previous.words, line: previous.line)); pending = nil }
        if !current.isEmpty { append(.statement(words: current, line: line)) }
        current = []
    }

    private mutating func append(_ item: KeepalivedBlock) {
        guard !stack.isEmpty else { return }
        stack[stack.count - 1].children.append(item)
    }
}

extension SectionParser {
    /// A complete top-level block.
    func process(_ block: KeepalivedBlock) {
        guard case .block(let header, let line, let children) = block else { return }
        let headerLine = ConfigLine(number: line, words: header)
        let keyword = header.first ?? ""
        if let reason = KeepalivedBlock.unsupportedOpeners[keyword] {
            fail(headerLine, "'\(keyword)' blocks are not supported by SwiftLB: \(reason)")
            return
        }
        let saved = section
        defer { section = saved }
        switch keyword {
        case "vrrp_instance":
            guard header.count == 2 else { fail(headerLine, "expects 'vrrp_instance NAME {'"); return }
            guard let index = addVRRPInstance(header[1], line: headerLine) else { return }
            section = .vrrp(index: index)
            read(children, as: .vrrp, lists: ["virtual_ipaddress", "virtual_ipaddress_excluded", "unicast_peer", "track_script", "track_interface",
                                                "track_process", "track_file"])
        case "vrrp_script":
            guard header.count == 2 else { fail(headerLine, "expects 'vrrp_script NAME {'"); return }
            do { try gate(KeywordRegistry.vrrpScriptStatus, "'vrrp_script'") } catch { fail(headerLine, error.message) }
            var script = VRRPScript(name: header[1], line: line)
            if file != config.file { script.file = file }
            config.vrrpScripts[header[1]] = script
            section = .vrrpScript(name: header[1])
            read(children, as: .vrrpScript, lists: [])
            if let script = config.vrrpScripts[header[1]]?.script {
                if script.isEmpty {
                    fail(headerLine, "vrrp_script '\(header[1])' has no 'script'")
                } else if let problem = ScriptCommand.problem(script) {
                    fail(headerLine, "vrrp_script '\(header[1])': \(problem) (keepalived disables such a script, so what it watches would never move the VIP)")
                }
            }
        case "vrrp_track_process":
            readTrackProcess(header, line: line, children: children)
        case "track_file", "vrrp_track_file":
            readTrackFile(header, line: line, children: children)
        case "vrrp_sync_group":
            readSyncGroup(header, line: line, children: children)
        case "global_defs":
            section = .globalDefs
            read(children, as: .globalDefs, lists: ["notification_email"])
        default:
            fail(headerLine, "unknown keepalived block '\(keyword)'")
        }
    }

    /// The lines of a block; `lists` are keywords whose `{ … }` holds one value per line
    /// (each line reads as `KEYWORD VALUE…`). Any other nested block is read by its
    /// header's keyword, which refuses or warns about it.
    private func read(_ children: [KeepalivedBlock], as kind: SectionKind, lists: Set<String>) {
        for child in children {
            switch child {
            case .statement(let words, let line):
                handleKeyword(ConfigLine(number: line, words: words), in: kind)
            case .block(let header, let line, let items):
                guard let keyword = header.first else { fail(ConfigLine(number: line, words: ["{"]), "a '{' block without a keyword"); continue }
                if keyword == "authentication", header.count == 1, kind == .vrrp {
                    // Its lines (`auth_type`, `auth_pass`) are keywords of the instance.
                    read(items, as: kind, lists: [])
                    continue
                }
                guard lists.contains(keyword) else {
                    handleKeyword(ConfigLine(number: line, words: header), in: kind)
                    continue
                }
                for item in items {
                    switch item {
                    case .statement(let words, let itemLine): handleKeyword(ConfigLine(number: itemLine, words: [keyword] + words), in: kind)
                    case .block(_, let itemLine, _): fail(ConfigLine(number: itemLine, words: [keyword]), "unexpected block inside '\(keyword) { … }'")
                    }
                }
            }
        }
    }

    /// `vrrp_track_process NAME { process …; … }`: the process to count is required; a
    /// command name longer than the kernel keeps (15 characters) would never match.
    private func readTrackProcess(_ header: [String], line: Int, children: [KeepalivedBlock]) {
        let headerLine = ConfigLine(number: line, words: header)
        guard let done = readNamedBlock(header, line: line, children: children, as: .vrrpTrackProcess(name: header.last ?? ""), into: \.vrrpTrackProcesses,
                                        make: { VRRPTrackProcess(name: $0, line: line) }, file: \.file) else { return }
        if done.process.isEmpty {
            fail(headerLine, "vrrp_track_process '\(header[1])' has no 'process NAME' (keepalived drops such a block, and every instance tracking it would be refused)")
        } else if !done.fullCommand && done.process.utf8.count > 15 {
            warn(line, "vrrp_track_process", "vrrp_track_process '\(header[1])': '\(done.process)' is longer than the 15 characters the kernel keeps of a command name, so it never matches (as in keepalived): add 'full_command' to match argv[0]")
        }
    }

    /// `track_file NAME { file PATH; … }` (or `vrrp_track_file`, keepalived's old name): the
    /// file is required, and its directory must exist (keepalived drops the block otherwise,
    /// and what tracks it would never move).
    private func readTrackFile(_ header: [String], line: Int, children: [KeepalivedBlock]) {
        let headerLine = ConfigLine(number: line, words: header)
        guard let done = readNamedBlock(header, line: line, children: children, as: .trackFile(name: header.last ?? ""), into: \.vrrpTrackFiles,
                                        make: { VRRPTrackFile(name: $0, line: line) }, file: \.file) else { return }
        if done.path.isEmpty {
            fail(headerLine, "track_file '\(header[1])' has no 'file PATH' (keepalived drops such a block, and every instance tracking it would be refused)")
            return
        }
        let directory = done.path.contains("/") ? String(done.path[..<done.path.lastIndex(of: "/")!]) : "."
        var info = stat()
        if stat(directory.isEmpty ? "/" : directory, &info) != 0 || (info.st_mode & S_IFMT) != S_IFDIR {
            fail(headerLine, "track_file '\(header[1])': the directory of '\(done.path)' does not exist (keepalived drops such a block)")
        }
        if let initial = done.initial, !(-254...254).contains(initial.value) {
            warn(line, header[0], "track_file '\(header[1])': init_file \(initial.value) is outside -254...254, a value that cannot be a priority change (as keepalived warns)")
        }
    }

    /// `KEYWORD NAME { … }` declared once, its lines read as `blockSection` into
    /// `blocks[NAME]` (made by `make`, with the included file that declared it); the block as read.
    private func readNamedBlock<Block>(_ header: [String], line: Int, children: [KeepalivedBlock], as blockSection: Section,
                                       into blocks: WritableKeyPath<Configuration, [String: Block]>, make: (String) -> Block,
                                       file fileField: WritableKeyPath<Block, String?>) -> Block? {
        let headerLine = ConfigLine(number: line, words: header)
        guard header.count == 2 else { fail(headerLine, "expects '\(header[0]) NAME {'"); return nil }
        guard config[keyPath: blocks][header[1]] == nil else { fail(headerLine, "\(header[0]) '\(header[1])' is declared twice"); return nil }
        var block = make(header[1])
        if file != config.file { block[keyPath: fileField] = file }
        config[keyPath: blocks][header[1]] = block
        section = blockSection
        read(children, as: blockSection.kind!, lists: [])
        return config[keyPath: blocks][header[1]]
    }

    /// `vrrp_sync_group NAME { group { INSTANCE… } notify_master|notify_backup|notify_fault|notify
    /// SCRIPT }`. Its members are checked once the whole file is read (they may come later).
    private func readSyncGroup(_ header: [String], line: Int, children: [KeepalivedBlock]) {
        let headerLine = ConfigLine(number: line, words: header)
        guard header.count == 2 else { fail(headerLine, "expects 'vrrp_sync_group NAME {'"); return }
        guard !config.vrrpSyncGroups.contains(where: { $0.name == header[1] }) else {
            fail(headerLine, "vrrp_sync_group '\(header[1])' is declared twice")
            return
        }
        var group = VRRPSyncGroup(name: header[1], line: line)
        for child in children {
            switch child {
            case .block(let words, let blockLine, let items) where words == ["track_process"] || words == ["track_file"]:
                // Tracked by every member (finishVRRP copies them into the members' lists).
                for item in items {
                    guard case .statement(let names, let itemLine) = item else {
                        fail(ConfigLine(number: blockLine, words: words), "unexpected block inside '\(words[0]) { … }'")
                        continue
                    }
                    let call = KeywordCall(line: ConfigLine(number: itemLine, words: words + names), args: names, negated: false, section: .vrrp)
                    do {
                        if words == ["track_process"] { group.trackProcesses.append(try KeywordRegistry.trackProcess(call)) }
                        else { group.trackFiles.append(try KeywordRegistry.trackFile(call)) }
                    } catch {
                        fail(call.line, error.message)
                    }
                }
            case .block(let words, let blockLine, let items):
                guard words == ["group"] else {
                    fail(ConfigLine(number: blockLine, words: words), "'\(words.first ?? "{")' in a vrrp_sync_group is not supported by SwiftLB: track scripts and interfaces in each vrrp_instance of the group (a member's FAULT takes the group with it)")
                    continue
                }
                for item in items {
                    switch item {
                    case .statement(let names, _): group.members += names
                    case .block(_, let itemLine, _): fail(ConfigLine(number: itemLine, words: ["group"]), "unexpected block inside 'group { … }'")
                    }
                }
            case .statement(let words, let statementLine):
                let keyword = words[0], script = words.dropFirst().joined(separator: " ")
                let place = ConfigLine(number: statementLine, words: words)
                let field: WritableKeyPath<VRRPSyncGroup, String?>? = switch keyword {
                case "notify_master": \.notifyMaster
                case "notify_backup": \.notifyBackup
                case "notify_fault": \.notifyFault
                case "notify_stop": \.notifyStop
                case "notify": \.notify
                default: nil
                }
                if keyword == "smtp_alert" {
                    do { group.smtpAlert = try keepalivedBool(Array(words.dropFirst())) } catch { fail(place, "'smtp_alert' \(error.message)") }
                    continue
                }
                guard let field else {
                    fail(place, "'\(keyword)' in a vrrp_sync_group is not supported by SwiftLB (it takes 'group { … }', notify_master, notify_backup, notify_fault, notify_stop, notify and smtp_alert)")
                    continue
                }
                guard !script.isEmpty else { fail(place, "'\(keyword)' expects a script (quote it when it has arguments)"); continue }
                group[keyPath: field] = script
            }
        }
        guard !group.members.isEmpty else { fail(headerLine, "vrrp_sync_group '\(header[1])' has no 'group { INSTANCE… }'"); return }
        config.vrrpSyncGroups.append(group)
    }
}
