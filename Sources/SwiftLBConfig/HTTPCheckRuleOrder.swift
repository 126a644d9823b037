/// Where a section's `http-check connect|send|expect` rules stand while they are parsed, so
/// that what HAProxy 2.6 refuses is refused with its reason and its step number
/// (tcpcheck.c: `parse_tcpcheck_connect`'s first-step rule, `tcpcheck_add_http_rule`'s order:
/// a send follows a connect, an expect follows a send or an expect, a connect follows an
/// expect). `set-var`/`unset-var` (and HAProxy's comments) count as steps but not in the order.
/// Parse-time state only: the checker never reads it.
public struct HTTPCheckRuleOrder: Sendable, Equatable {
    enum Kind: String, Sendable { case connect, send, expect }

    /// `option httpchk` is in force (here or inherited): HAProxy checks the order of the rules
    /// written after it; the ones before it it keeps unchecked.
    private var enforced = false
    /// The option's own request not yet completed by an `http-check send` (HAProxy's implicit
    /// send rule, which the first explicit one merges into).
    private var implicitSend = false
    /// The last connect/send/expect rule (nil: none, or only the option's implicit send).
    private var last: Kind?
    private var sawConnect = false
    private var sawSend = false
    /// A send or expect rule came before any connect.
    private var sawOtherFirst = false
    /// The number HAProxy gives the next rule (its `chk->index`): errors say step index + 1.
    private var nextIndex = 0
    /// Written in a `defaults` section: a proxy's own rules start their own order (HAProxy
    /// gives each proxy its own http-check ruleset), still checked if the option is in force.
    private var inDefaults = false

    public init() {}

    /// After `option httpchk` (or a section inheriting it): the rules written from now on are
    /// checked, against an empty ruleset (`implicitSend`: the option's request heads it).
    init(enforcedWithImplicitSend implicitSend: Bool, inDefaults: Bool) {
        enforced = true
        self.implicitSend = implicitSend
        self.inDefaults = inDefaults
    }

    /// `option httpchk` in a section: the order is checked from now on. After rules of this
    /// section it continues them (HAProxy keeps one ruleset per proxy: a second option does
    /// not clear it, its request merges into the first `send`); else it starts afresh.
    func afterOption(inDefaults defaults: Bool) -> HTTPCheckRuleOrder {
        guard inDefaults == defaults, last != nil || nextIndex > 0 else {
            return HTTPCheckRuleOrder(enforcedWithImplicitSend: true, inDefaults: defaults)
        }
        var next = self
        next.enforced = true
        next.implicitSend = !sawSend
        return next
    }

    /// A proxy's first rule after a defaults section's: its own order, checked if the option is.
    private mutating func enter(defaults: Bool) {
        if inDefaults && !defaults { self = enforced ? HTTPCheckRuleOrder(enforcedWithImplicitSend: false, inDefaults: false) : HTTPCheckRuleOrder() }
        inDefaults = defaults
    }

    /// `http-check set-var|unset-var`: a step outside the order.
    mutating func addAction(inDefaults defaults: Bool) {
        enter(defaults: defaults)
        nextIndex += 1
    }

    mutating func add(_ kind: Kind, inDefaults defaults: Bool) throws(ParseFailure) {
        enter(defaults: defaults)
        let step = nextIndex + 1, rule = "'http-check \(kind.rawValue)': "
        if kind == .connect, !sawConnect, sawOtherFirst {
            throw ParseFailure(rule + "first step MUST also be a 'connect', optionally preceded by a 'set-var', an 'unset-var' or a 'comment', when there is a 'connect' step in the tcp-check ruleset")
        }
        if enforced, let last {
            switch (kind, last) {
            case (.send, .send), (.send, .expect):
                throw ParseFailure(rule + "unable to add http-check send rule at step \(step) (missing connect rule).")
            case (.expect, .connect):
                throw ParseFailure(rule + "unable to add http-check expect rule at step \(step) (missing send rule).")
            case (.connect, .connect), (.connect, .send):
                throw ParseFailure(rule + "unable to add http-check connect rule at step \(step) (missing expect rule).")
            default: break
            }
        }
        if kind == .connect { sawConnect = true } else if !sawConnect { sawOtherFirst = true }
        if kind == .send { sawSend = true }
        last = kind
        if kind == .send, implicitSend {
            // Merged into the option's rule, which keeps its number (0) and goes last.
            implicitSend = false
            nextIndex = 1
        } else {
            nextIndex += 1
        }
    }
}
