/// How many connections to one server one event loop's streams hold at once, and how many they
/// held at most lately: HAProxy's `curr_used_conns` and `est_need_conns`, which size the idle pool.
/// A connection that finishes an exchange is kept only while the loop's connections to that
/// server (leased and idle) do not outnumber the recent peak of leased ones, so a burst of 1000
/// keep-alive clients keeps 1000 warm and a stream of one-request clients (`ab` without `-k`)
/// keeps one, not hundreds nobody takes before they are purged. Read and written on its loop only.
final class PoolDemand {
    /// Connections leased to a stream now.
    private(set) var leased = 0
    /// Connections parked in the pool and still open (one the server closed while parked
    /// leaves this count at once, though it stays in the pool's list until taken or purged).
    private(set) var parked = 0
    /// The most leased at once in this purge period and in the one before.
    private var peak = (current: 0, previous: 0)

    func parkedChanged(by delta: Int) { parked += delta }

    func leasedChanged(by delta: Int) {
        leased += delta
        if leased > peak.current { peak.current = leased }
    }

    /// Each `pool-purge-delay`: the estimate forgets what is older than two periods.
    func startPeriod() {
        peak = (current: leased, previous: peak.current)
    }

    /// HAProxy's `est_need_conns`.
    var estimate: Int { max(peak.current, peak.previous) }

    /// Whether a connection whose exchange just finished (still counted as leased) may join
    /// the server's parked ones: yes when none is there yet, else while leased and parked
    /// together stay within the estimate (`srv_add_to_idle_list`).
    var allowsParking: Bool {
        parked == 0 || leased + parked <= max(leased, estimate)
    }
}
