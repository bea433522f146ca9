// swift-tools-version:6.0
// A program that uses jobkernel's Swift client library (the product `JobKernelClient`).
import PackageDescription

let package = Package(
    name: "swift-client-example",
    dependencies: [.package(name: "jobkernel", path: "../..")],
    targets: [
        .executableTarget(
            name: "swift-client-example",
            dependencies: [.product(name: "JobKernelClient", package: "jobkernel")],
            path: "Sources"),
    ],
    swiftLanguageModes: [.v5]
)
