/// Whether this instance's shared tables still wait for a whole lesson from a peer, and from
/// whom it is being taken: HAProxy's resync from a remote peer, as a pure state machine (the
/// service feeds it session events and its timers, and does what it answers).
///
/// At start the tables are empty: the first established session asks its peer for the whole
/// table. "Finished" ends the wait; "partial" (the teacher is not up to date itself) means
/// asking again later, on any session; a session that ends mid-lesson frees the request for
/// the next one. After `timeout` without a finished lesson the tables count as up to date —
/// two instances starting together would otherwise wait on each other for ever. While we
/// wait, a lesson we give ends "partial", as HAProxy's does.
struct PeerLesson: Equatable {
    private enum State: Equatable {
        /// No lesson yet; `asked`: the peer we asked.
        case waiting(asked: String?)
        case upToDate
    }

    private var state: State = .waiting(asked: nil)

    var isUpToDate: Bool { state == .upToDate }

    /// A session with `peer` is established: true when it is to be asked for the lesson now.
    mutating func established(_ peer: String) -> Bool {
        guard case .waiting(nil) = state else { return false }
        state = .waiting(asked: peer)
        return true
    }

    /// `peer` answered "finished" (`complete`) or "partial". True when the lesson ended the
    /// wait; a partial one leaves it waiting, with no peer asked.
    mutating func answered(by peer: String, complete: Bool) -> Bool {
        guard case .waiting(let asked) = state, asked == peer else { return false }
        state = complete ? .upToDate : .waiting(asked: nil)
        return complete
    }

    /// The session with `peer` ended: if it was teaching us, another may be asked.
    mutating func ended(_ peer: String) {
        if case .waiting(peer) = state { state = .waiting(asked: nil) }
    }

    /// The time for a lesson ran out: true when it ends the wait now.
    mutating func timedOut() -> Bool {
        guard case .waiting = state else { return false }
        state = .upToDate
        return true
    }

    /// Asking again (after a partial lesson) on a session with `peer`: true when it is to be
    /// asked now.
    mutating func askAgain(_ peer: String) -> Bool { established(peer) }
}
