import Logging
import SwiftLBConfig

/// The single-instance entry point the command used before `VRRPGroup`: one `vrrp` section,
/// without `track_script`. Kept so the command keeps building until it starts every instance
/// with `VRRPGroup.start(configuration:hooks:logger:)`; it is a group of one underneath.
public final class VRRPService: Sendable {
    public typealias Hooks = VRRPGroup.Hooks
    public typealias StartFailure = VRRPGroup.StartFailure

    private let group: VRRPGroup

    private init(group: VRRPGroup) {
        self.group = group
    }

    public static func start(_ settings: VRRPSettings, configFile: String, hooks: Hooks, logger: Logger) async throws(StartFailure) -> VRRPService {
        VRRPService(group: try await VRRPGroup.start(instances: [settings], configFile: configFile, hooks: hooks, logger: logger))
    }

    /// See `VRRPGroup.resignAndStop`.
    public func resignAndStop() async {
        await group.resignAndStop()
    }

    /// `swiftlb ctl show vrrp`.
    public var statusText: String { group.statusText }
}
