import ArgumentParser
import JobKernelSyncWorker

/// `jobkernel worker sync-api`: the kernel's own worker roles, spawned by its pools.
struct WorkerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worker",
        abstract: "Run as one of the kernel's pool workers (the kernel spawns these itself).",
        shouldDisplay: false,
        subcommands: [SyncAPI.self])

    /// Posts sync_api batches to their endpoint, speaking the worker protocol on stdin/stdout.
    struct SyncAPI: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "sync-api",
            abstract: "Serve the sync_api pool: POST each batch the kernel sends to its endpoint.")

        func run() throws {
            SyncAPIWorker().run()
        }
    }
}
