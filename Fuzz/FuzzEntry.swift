/// The libFuzzer entry point. Every input goes through all three parsers of the pure core: the
/// JSON parser, the RPC decoder and the frame decoder. A violated invariant is a `fatalError`,
/// which libFuzzer reports as a crash and saves the input for.
///
/// Built by `scripts/fuzz` with `swiftc -sanitize=fuzzer,address` from these files and the
/// sources of JobKernelCore as one module, so the harness also sees `internal` members.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let input = Array(UnsafeBufferPointer(start: data, count: size))
    JSONInvariants.check(input)
    RPCInvariants.check(input)
    FrameInvariants.check(input)
    return 0
}

/// Stops the run with a message libFuzzer prints next to the crashing input.
func violated(_ invariant: String, _ input: [UInt8], file: StaticString = #file, line: UInt = #line) -> Never {
    let shown = String(decoding: input.prefix(300), as: UTF8.self).debugDescription
    fatalError("invariant violated: \(invariant)\n  input (\(input.count) bytes): \(shown)", file: file, line: line)
}
