// swift-tools-version:6.0
import PackageDescription

/// In a release build, the kernel's own modules (the loop, the store, the I/O layer) have their
/// exclusive access checked at compile time only. The run-time check costs a call for each
/// access to a class's stored property, and the loop's state lives in classes: it was 4 % of
/// the loop thread's instructions (bench/README.md). Debug builds, which the tests use, keep
/// the run-time check. These modules are not part of the `JobKernelClient` library product, so
/// packages that depend on that product see no unsafe flag.
let hotPath: [SwiftSetting] = [.unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release))]

let package = Package(
    name: "jobkernel",
    products: [
        .executable(name: "jobkernel", targets: ["jobkernel"]),
        .executable(name: "jobkernel-supervise", targets: ["jobkernel-supervise"]),
        .executable(name: "jobkernel-web", targets: ["jobkernel-web"]),
        .library(name: "JobKernelClient", targets: ["JobKernelClient", "JobKernelCore"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/LebJe/TOMLKit", from: "0.6.0"),
        .package(url: "https://github.com/apple/swift-collections", from: "1.1.0"),
        // The HTTP gateway only (`jobkernel-web`): the kernel and the CLI link no SwiftNIO.
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.0.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-websocket", from: "2.0.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.0.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.70.0"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.0.0"),
    ],
    targets: [
        // C libraries, linked from the system (Debian: libuv1-dev, libsqlite3-dev, libnats-dev).
        .systemLibrary(name: "CLibUV", pkgConfig: "libuv", providers: [.apt(["libuv1-dev"])]),
        .systemLibrary(name: "CSQLite", pkgConfig: "sqlite3", providers: [.apt(["libsqlite3-dev"])]),
        // The NATS C client with JetStream (Debian: libnats-dev), for `[broker] kind = "nats"`.
        .systemLibrary(name: "CNATS", pkgConfig: "libnats", providers: [.apt(["libnats-dev"])]),

        // The pure core: JSON, JSON-RPC codec and framing, job model, reducer, config model.
        // No C import, no I/O.
        .target(name: "JobKernelCore"),
        // A thin SQLite layer and the job store.
        // The store's SQLite VFS: unix-excl with each transaction's WAL writes gathered into one.
        .target(name: "CSQLiteSupport", dependencies: ["CSQLite"]),
        .target(name: "JobKernelStore", dependencies: ["JobKernelCore", "CSQLite", "CSQLiteSupport"], swiftSettings: hotPath),
        // libuv handles: loop, timers, signals, streams, the Unix socket server.
        .target(name: "JobKernelIO", dependencies: ["CLibUV"], swiftSettings: hotPath),
        // The kernel: connections, methods, broker, events, scheduling.
        .target(name: "JobKernelServer", dependencies: [
            "JobKernelCore", "JobKernelStore", "JobKernelIO", "JobKernelNATS",
            .product(name: "TOMLKit", package: "TOMLKit"),
            .product(name: "HeapModule", package: "swift-collections"),
        ], swiftSettings: hotPath),
        // The sync_api pool's worker role: POSTs batches with FoundationNetworking (libcurl).
        .target(name: "JobKernelSyncWorker", dependencies: ["JobKernelCore"]),
        // The NATS JetStream broker for async_api units, driven from the kernel's loop.
        .target(name: "JobKernelNATS", dependencies: ["CNATS", "JobKernelIO"]),
        // A blocking client over the Unix socket, used by the CLI.
        .target(name: "JobKernelClient", dependencies: ["JobKernelCore"]),
        // Linked with jemalloc (Debian: libjemalloc-dev), which replaces malloc for the whole
        // process: the loop thread allocates what the store's writer thread frees, and glibc's
        // malloc serves that pattern from its slow paths on both threads (bench/README.md).
        .executableTarget(name: "jobkernel", dependencies: [
            "JobKernelServer", "JobKernelClient", "JobKernelSyncWorker", "JobKernelIO",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ], linkerSettings: [.linkedLibrary("jemalloc")]),
        // Plain C: the supervisor every handler and worker runs under (setsid, parent-death
        // signal, subreaper), installed next to the jobkernel binary.
        .executableTarget(name: "jobkernel-supervise", path: "Sources/jobkernel-supervise"),
        // The HTTP gateway (docs/web.md): a client of the kernel's socket, on Hummingbird (SwiftNIO).
        // The dashboard's files are embedded by scripts/embed-dashboard, not as resources (those
        // would be a bundle directory beside the binary on Linux).
        .target(name: "JobKernelWeb", dependencies: [
            "JobKernelCore",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
            .product(name: "Prometheus", package: "swift-prometheus"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "HTTPTypes", package: "swift-http-types"),
        ], exclude: ["Dashboard/index.html", "Dashboard/style.css", "Dashboard/app.js"]),
        // `jobkernel web` execs this binary, installed next to the jobkernel binary.
        .executableTarget(name: "jobkernel-web", dependencies: [
            "JobKernelWeb",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),

        .testTarget(name: "JobKernelCoreTests", dependencies: ["JobKernelCore"]),
        // The kernel's concerns, each tested on its own: no loop, no socket, no process, and a
        // clock the test moves.
        .testTarget(name: "JobKernelServerTests", dependencies: ["JobKernelServer", "JobKernelCore", "JobKernelStore"]),
        .testTarget(name: "JobKernelStoreTests", dependencies: ["JobKernelStore", "CSQLiteSupport"]),
        .testTarget(name: "JobKernelIOTests", dependencies: ["JobKernelIO"]),
        .testTarget(name: "JobKernelClientTests", dependencies: ["JobKernelClient"]),
        .testTarget(name: "JobKernelNATSTests", dependencies: ["JobKernelNATS", "CNATS", "JobKernelIO"]),
        .testTarget(name: "JobKernelWebTests", dependencies: [
            "JobKernelWeb", "JobKernelCore", .product(name: "NIOEmbedded", package: "swift-nio"),
        ]),
    ],
    swiftLanguageModes: [.v6]
)
