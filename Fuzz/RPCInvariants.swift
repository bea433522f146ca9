/// What must hold for any frame given to `RPCDecoder`.
enum RPCInvariants {
    /// - decoding is deterministic and agrees with decoding the parsed value;
    /// - every frame is classified: a non-empty JSON array is a batch of one entry per element,
    ///   anything else a single entry; unparsable bytes are `-32700`, too deep `-32600 too_deep`;
    /// - every invalid entry carries a `-32600`/`-32700` error with a string, number or null id;
    /// - every valid message, encoded again with `RPCEncoder`, decodes to itself.
    static func check(_ input: [UInt8]) {
        let inbound = RPCDecoder.decode(input)
        guard RPCDecoder.decode(input) == inbound else { violated("decoding twice differs", input) }

        switch JSONInvariants.parse(input, maxDepth: 64) {
        case .failure(let error):
            guard case .single(.invalid(id: .null, error: let rpcError)) = inbound else {
                violated("unparsable bytes not answered with one error: \(inbound)", input)
            }
            let expected = error == .tooDeep ? (-32600, "too_deep") : (-32700, "parse_error")
            guard rpcError.code == expected.0, rpcError.reason == expected.1 else {
                violated("parse failure \(error) answered with \(rpcError)", input)
            }
        case .success(let value):
            guard RPCDecoder.decode(value) == inbound else { violated("decode(bytes) != decode(parse(bytes))", input) }
            guard RPCDecoder.decode(value.serialized()) == inbound else {
                violated("decode(write(parse(bytes))) != decode(bytes)", input)
            }
            switch (value, inbound) {
            case (.array(let elements), .batch(let entries)) where !elements.isEmpty:
                guard entries.count == elements.count else { violated("batch of \(elements.count) gave \(entries.count) entries", input) }
            case (.array(let elements), .single(.invalid)) where elements.isEmpty:
                break
            case (.array, _):
                violated("array classified as \(inbound)", input)
            case (_, .single):
                break
            default:
                violated("non-array classified as a batch", input)
            }
        }

        let entries: [RPCEntry]
        switch inbound {
        case .single(let entry): entries = [entry]
        case .batch(let batch): entries = batch
        }
        for entry in entries { check(entry, input) }
    }

    private static func check(_ entry: RPCEntry, _ input: [UInt8]) {
        switch entry {
        case .invalid(let id, let error):
            guard [-32600, -32700].contains(error.code), error.reason != nil else {
                violated("invalid entry with error \(error)", input)
            }
            switch id {
            case .string, .int, .double, .rawNumber, .null: break
            default: violated("invalid entry echoes id \(id)", input)
            }
        case .message(let message):
            let again = RPCDecoder.entry(RPCEncoder.message(message))
            guard again == entry else { violated("re-encoded \(message) decodes to \(again)", input) }
        }
    }
}
