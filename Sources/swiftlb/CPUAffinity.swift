#if canImport(Glibc)
import Glibc
#endif
import NIOCore
import SwiftLBConfig

/// `cpu-map`: pins each event-loop thread of the data path to its CPUs, from the thread
/// itself (sched_setaffinity on tid 0). Only the proxy's event loops are pinned: the health
/// checker and the VIP thread run wherever the kernel puts them.
enum CPUAffinity {
    /// Returns one message per thread that could not be pinned.
    static func apply(_ global: GlobalSettings, loops: [any EventLoop]) async -> [String] {
        var failures: [String] = []
        for (index, loop) in loops.enumerated() {
            guard let cpus = global.cpus(forThread: index + 1) else { continue }
            let result = try? await loop.submit { () -> Int32 in
                var mask = [UInt64](repeating: 0, count: 16)  // 1024 CPUs, glibc's cpu_set_t
                for cpu in cpus { mask[cpu / 64] |= 1 << UInt64(cpu % 64) }
                let rc = mask.withUnsafeBytes { LinuxCalls.schedSetaffinity(0, $0.count, $0.baseAddress!) }
                return rc == 0 ? 0 : errno
            }.get()
            if let result, result != 0 {
                failures.append("thread \(index + 1) on CPUs \(cpus.map(String.init).joined(separator: ",")): \(String(cString: strerror(result)))")
            }
        }
        return failures
    }
}
