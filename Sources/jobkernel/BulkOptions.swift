import ArgumentParser
import JobKernelCore

/// The filter `cancel`, `retry` and `remove` share (docs/promises.md §13): the jobs in a status,
/// of a type, with a label, or older than a duration; the parts AND.
struct BulkFilterOptions: ParsableArguments {
    @Option(name: .customLong("status"), help: ArgumentHelp(
        "Only jobs in this status (repeatable, or comma-separated).", valueName: "status"))
    var statuses: [String] = []

    @Option(name: .customLong("type"), help: ArgumentHelp("Only jobs of this type (repeatable).", valueName: "type"))
    var types: [String] = []

    @Option(help: ArgumentHelp("Only jobs with exactly this label.", valueName: "label"))
    var label: String?

    @Option(name: .customLong("older-than"), help: ArgumentHelp(
        "Only jobs at least this old (e.g. 10m, 7d): since they finished, or were created if they have not.",
        valueName: "duration"),
        transform: { try CLIDuration.seconds($0, "--older-than") })
    var olderThan: Double?

    var isEmpty: Bool { statuses.isEmpty && types.isEmpty && label == nil && olderThan == nil }

    /// The method's filter parameters.
    var params: JSONObject {
        var p: JSONObject = [:]
        let statuses = StatusCommand.split(self.statuses)
        if !statuses.isEmpty { p["status"] = .array(statuses.map { .string($0) }) }
        let types = StatusCommand.split(self.types)
        if !types.isEmpty { p["type"] = .array(types.map { .string($0) }) }
        if let label { p["label"] = .string(label) }
        if let olderThan { p["older_than_s"] = .double(olderThan) }
        return p
    }

    /// Job ids or a filter, not both and not neither: "every job" is never implied.
    func validate(ids: [String]) throws {
        for s in StatusCommand.split(statuses) where JobStatus(rawValue: s) == nil {
            throw ValidationError("'\(s)' is not a job status (\(JobStatus.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        if let label, label.isEmpty || label.utf8.count > 200 { throw ValidationError("--label: 1 to 200 bytes") }
        if ids.isEmpty && isEmpty {
            throw ValidationError("give job ids, or a filter (--status, --type, --label, --older-than)")
        }
        if !ids.isEmpty && !isEmpty { throw ValidationError("give job ids or a filter, not both") }
    }

    /// `ids` or the filter as the method's parameters.
    func params(ids: [String]) -> JSONObject {
        ids.isEmpty ? params : ["ids": .array(ids.map { .string($0) })]
    }
}
