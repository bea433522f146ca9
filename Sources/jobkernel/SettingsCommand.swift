import ArgumentParser
import JobKernelClient
import JobKernelCore

/// `jobkernel settings [KEY [VALUE]]`: reads and changes the workflow toggles.
struct SettingsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "settings",
        abstract: "Show all settings, one setting, or set one.",
        discussion: """
            Keys are `workflow.<name>` (a key without a dot is read as `workflow.<key>`), and \
            `paused.<type>` / `paused.*` (what `pause` and `resume` set). VALUE is JSON (`true`, \
            `false`). Prints `KEY VALUE` lines (KEY alone: just the value); --json \
            prints the result object.
            """)

    @OptionGroup var client: ClientOptions

    @Argument(help: "A setting key, e.g. workflow.publishing.")
    var key: String?

    @Argument(help: ArgumentHelp("The new value, as JSON.", valueName: "value"), transform: { try JSONArgument.parse($0) })
    var value: JSON?

    @Flag(help: "Print the result as JSON.")
    var json = false

    /// The key as the kernel names it.
    var fullKey: String? {
        key.map { $0.contains(".") ? $0 : "workflow." + $0 }
    }

    func run() throws {
        try client.withClient { kernel in
            let result: JSON
            if let fullKey, let value {
                result = try kernel.call("settings.set", ["key": .string(fullKey), "value": value])
            } else if let fullKey {
                result = try kernel.call("settings.get", ["key": .string(fullKey)])
            } else {
                result = try kernel.call("settings.get", .object([:]))
            }
            if json {
                Output.json(result)
            } else if let fullKey, value == nil {
                Output.line(result[fullKey]?.compactString ?? "null")
            } else {
                let pairs = result.objectValue.map { Array($0) } ?? []
                let width = pairs.map(\.key.count).max() ?? 0
                for (k, v) in pairs {
                    Output.line(k + String(repeating: " ", count: width - k.count + 2) + v.compactString)
                }
            }
        }
    }
}
