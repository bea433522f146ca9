import JobKernelCore

extension JSON {
    /// Indented JSON text (two spaces, keys in their order) for people to read.
    public var prettyString: String {
        var out = ""
        writePretty(into: &out, indent: 0)
        return out
    }

    private func writePretty(into out: inout String, indent: Int) {
        let pad = String(repeating: " ", count: indent + 2)
        switch self {
        case .array(let elements) where !elements.isEmpty:
            out += "[\n"
            for (k, element) in elements.enumerated() {
                out += pad
                element.writePretty(into: &out, indent: indent + 2)
                out += k == elements.count - 1 ? "\n" : ",\n"
            }
            out += String(repeating: " ", count: indent) + "]"
        case .object(let object) where !object.isEmpty:
            out += "{\n"
            var k = 0
            for (key, value) in object {
                out += pad + JSON.string(key).compactString + ": "
                value.writePretty(into: &out, indent: indent + 2)
                k += 1
                out += k == object.count ? "\n" : ",\n"
            }
            out += String(repeating: " ", count: indent) + "}"
        default:
            out += compactString
        }
    }
}
