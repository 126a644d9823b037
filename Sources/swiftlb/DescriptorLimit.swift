#if canImport(Glibc)
import Glibc
#endif
import SwiftLBConfig

/// RLIMIT_NOFILE as HAProxy 2.6.12 sets it (haproxy.c, "ulimits"): to `ulimit-n`, else to the
/// `maxsock` the file's `maxconn` needs (DescriptorBudget), the hard limit raised with it when
/// needed (root) — raised only: a limit already higher stays (2.6's backport of "do not try to
/// shrink existing RLIMIT_NOFILE"). Under `strict-limits` (the default) a limit that cannot be
/// raised, or that stays below `maxsock`, stops the start (and refuses a reload); with
/// `no strict-limits` the most the system allows is taken and a warning says so.
enum DescriptorLimit {
    /// The limit before SwiftLB changed it: HAProxy derives `maxconn` from this one, also at a
    /// reload (its new worker starts from the limits the master restored). Read at the first
    /// configuration load, which comes before any change.
    static let atBoot = DescriptorLimits.current()

    enum Outcome: Equatable {
        /// `ulimitN`: what `show info` reports as `Ulimit-n` (HAProxy's global.rlimit_nofile).
        case applied(ulimitN: Int)
        /// Applied as far as the system allows; the message says what is missing.
        case warned(ulimitN: Int, String)
        /// `strict-limits`: the process must not run with this file.
        case refused(String)
    }

    private static let resource = __rlimit_resource_t(RLIMIT_NOFILE.rawValue)

    static func apply(_ global: GlobalSettings) -> Outcome {
        var nofile = global.ulimitN ?? global.maxsock
        var limit = rlimit(rlim_cur: rlim_t(nofile), rlim_max: rlim_t(max(atBoot.hard, nofile)))
        var warnings: [String] = []
        if (global.fdHardLimit.map { nofile > $0 } ?? false) || !raise(to: limit) {
            getrlimit(resource, &limit)
            if let cap = global.fdHardLimit, Int(limit.rlim_cur) > cap { limit.rlim_cur = rlim_t(cap) }
            if global.strictLimits { return .refused("Cannot raise FD limit to \(nofile), limit is \(limit.rlim_cur).") }
            // The most it may be, at least.
            limit.rlim_cur = limit.rlim_max
            if let cap = global.fdHardLimit, Int(limit.rlim_cur) > cap { limit.rlim_cur = rlim_t(cap) }
            if raise(to: limit) { getrlimit(resource, &limit) }
            warnings.append("Cannot raise FD limit to \(nofile), limit is \(limit.rlim_cur).")
            nofile = Int(limit.rlim_cur)
        }
        // The limit a process starting now would have: HAProxy's new worker starts from the
        // limits at boot and raises them to this file's, so a reload is judged by this file's
        // limit, not by one an earlier file raised (the process keeps that one: never shrunk).
        let fresh = max(atBoot.soft, nofile)
        if fresh < global.maxsock {
            let message = "FD limit (\(fresh)) too low for maxconn=\(global.maxconn)/maxsock=\(global.maxsock). "
                + "Please raise 'ulimit-n' to \(global.maxsock) or more to avoid any trouble."
            if global.strictLimits { return .refused(message) }
            warnings.append(message)
        }
        return warnings.isEmpty ? .applied(ulimitN: nofile) : .warned(ulimitN: nofile, warnings.joined(separator: " "))
    }

    /// HAProxy's raise_rlim_nofile: setrlimit only when the soft or the hard limit goes up.
    private static func raise(to wanted: rlimit) -> Bool {
        var now = rlimit()
        guard getrlimit(resource, &now) == 0 else { return false }
        guard now.rlim_max < wanted.rlim_max || now.rlim_cur < wanted.rlim_cur else { return true }
        var wanted = wanted
        return setrlimit(resource, &wanted) == 0
    }
}
