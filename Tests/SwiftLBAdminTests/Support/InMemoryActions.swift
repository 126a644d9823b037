import NIOConcurrencyHelpers
import SwiftLBAdmin
import SwiftLBTLS

/// A small in-memory implementation of `RuntimeAPIActions` (a test double of SwiftLB's own
/// interface): a mutable snapshot that the actions change, and a record of what was asked.
final class InMemoryActions: RuntimeAPIActions {
    private let state: NIOLockedValueBox<StatsSnapshot>
    private let log = NIOLockedValueBox<[String]>([])
    let reloadOutcome: ReloadOutcome
    let vrrp: String?

    init(_ snapshot: StatsSnapshot = Fixtures.snapshot(), reload: ReloadOutcome = ReloadOutcome(success: true, messages: ["lb.conf reloaded: 2 frontends, 1 backend"]),
         vrrp: String? = "instance: hipchat_vip\nstate: MASTER\n") {
        state = NIOLockedValueBox(snapshot)
        reloadOutcome = reload
        self.vrrp = vrrp
    }

    /// What the actions were asked, in order.
    var calls: [String] { log.withLockedValue { $0 } }
    var current: StatsSnapshot { state.withLockedValue { $0 } }

    private func record(_ s: String) { log.withLockedValue { $0.append(s) } }

    private func update(_ backend: String, _ server: String, _ change: (inout ServerStats) -> Void) throws(RuntimeAPIError) {
        let found = state.withLockedValue { snapshot -> Bool in
            for p in snapshot.proxies.indices where snapshot.proxies[p].name == backend {
                guard let i = snapshot.proxies[p].backend?.servers.firstIndex(where: { $0.name == server }) else { continue }
                change(&snapshot.proxies[p].backend!.servers[i])
                return true
            }
            return false
        }
        if !found { throw RuntimeAPIError("No such server.") }
    }

    func snapshot() async -> StatsSnapshot { current }

    func setAdminState(backend: String, server: String, to newState: ServerStats.AdminState) async throws(RuntimeAPIError) {
        record("state \(backend)/\(server) \(newState.rawValue)")
        try update(backend, server) { $0.admin = newState }
    }

    func setWeight(backend: String, server: String, weight: Int) async throws(RuntimeAPIError) {
        record("weight \(backend)/\(server) \(weight)")
        try update(backend, server) { $0.userWeight = weight; $0.effectiveWeight = weight }
    }

    func setAddress(backend: String, server: String, address: String, port: Int?) async throws(RuntimeAPIError) {
        record("addr \(backend)/\(server) \(address) \(port.map(String.init) ?? "-")")
        try update(backend, server) { s in
            s.address = address
            if let port { s.port = port }
        }
    }

    func setHealthChecks(backend: String, server: String, enabled: Bool) async throws(RuntimeAPIError) {
        record("health \(backend)/\(server) \(enabled)")
        try update(backend, server) { $0.check?.enabled = enabled }
    }

    func reload() async -> ReloadOutcome {
        record("reload")
        return reloadOutcome
    }

    func vrrpStatus() async -> String? { vrrp }

    func rotateTicketKeys() async -> Int {
        record("rotate")
        return 2
    }

    func blockEventLoop(milliseconds: Int) async throws(RuntimeAPIError) { record("block \(milliseconds)") }

    func clearCounters(all: Bool) async throws(RuntimeAPIError) { record("clear \(all)") }

    let caFiles = CAFileStore()
    func caFileStore() async -> CAFileStore? { caFiles }
}
