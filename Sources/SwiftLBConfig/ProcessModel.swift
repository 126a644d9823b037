/// One `cpu-map` line: which event-loop threads run on which CPUs.
///
/// `cpu-map 1/1 0` pins thread 1 to CPU 0; `cpu-map 1 0-3` (or `1/all`) lets every thread run
/// on CPUs 0-3; `cpu-map auto:1/1-4 0-3` spreads threads 1-4 one per CPU over 0-3, HAProxy's
/// way of writing one line for many threads. Threads are numbered from 1, as in HAProxy.
public struct CPUMapping: Sendable, Equatable {
    /// nil: every thread.
    public var threads: ClosedRange<Int>?
    public var cpus: [Int]
    /// `auto:`: thread N of `threads` gets the N-th CPU of `cpus` alone.
    public var auto: Bool
    public var line: Int

    public init(threads: ClosedRange<Int>?, cpus: [Int], auto: Bool, line: Int) {
        self.threads = threads
        self.cpus = cpus
        self.auto = auto
        self.line = line
    }

    /// The CPUs thread `thread` (1-based) may run on under this line, or nil if the line
    /// does not name it.
    public func cpus(forThread thread: Int) -> [Int]? {
        guard let threads else { return auto ? nil : cpus }
        guard threads.contains(thread) else { return nil }
        guard auto else { return cpus }
        let index = thread - threads.lowerBound
        return index < cpus.count ? [cpus[index]] : nil
    }
}

extension GlobalSettings {
    /// The CPUs of event-loop thread `thread` (1-based) after every `cpu-map` line, in order
    /// (a later line overrides an earlier one); nil when none names it.
    public func cpus(forThread thread: Int) -> [Int]? {
        cpuMap.reduce(nil) { current, mapping in mapping.cpus(forThread: thread) ?? current }
    }
}
