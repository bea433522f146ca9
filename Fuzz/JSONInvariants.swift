/// What must hold for any bytes given to `JSONParser`.
enum JSONInvariants {
    /// - parse(write(v)) == v for every value the parser accepts, and writing is canonical:
    ///   write(parse(write(v))) is byte for byte write(v);
    /// - a smaller depth limit gives the same answer or `.tooDeep`, never another answer.
    static func check(_ input: [UInt8]) {
        let deep = parse(input, maxDepth: 64)
        let shallow = parse(input, maxDepth: 8)
        switch (shallow, deep) {
        case (.failure(.tooDeep), _):
            break
        case (.success(let a), .success(let b)) where a == b:
            break
        case (.failure(let a), .failure(let b)) where a == b:
            break
        default:
            violated("maxDepth 8 and 64 disagree: \(shallow) vs \(deep)", input)
        }

        guard case .success(let value) = deep else { return }
        let written = value.serialized()
        guard case .success(let reparsed) = parse(written, maxDepth: 64) else {
            violated("the parser rejects the writer's output \(String(decoding: written, as: UTF8.self))", input)
        }
        guard reparsed == value else {
            violated("parse(write(v)) != v: \(reparsed) vs \(value)", input)
        }
        guard reparsed.serialized() == written else {
            violated("write(parse(write(v))) != write(v)", input)
        }
    }

    static func parse(_ bytes: [UInt8], maxDepth: Int) -> Result<JSON, JSONParseError> {
        bytes.withUnsafeBytes { buffer in
            Result { () throws(JSONParseError) -> JSON in try JSONParser.parse(buffer, maxDepth: maxDepth) }
        }
    }
}
