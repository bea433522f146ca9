import JobKernelCore

/// The OpenRPC document served by `rpc.discover`: protocol/openrpc.json, embedded at build time
/// by `scripts/embed-openrpc` (a test checks the two agree).
enum OpenRPCDocument {
    static let json: JSON = (try? JSONParser.parse(Array(OpenRPCDocument.text.utf8))) ?? .null
}
