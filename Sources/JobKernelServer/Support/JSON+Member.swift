import JobKernelCore

extension JSON {
    /// This object with the member `key: value` added last; a job object serialized as bytes
    /// gets it written after its bytes, without parsing them. Anything else is returned as is.
    func addingMember(_ key: String, _ value: JSON) -> JSON {
        switch self {
        case .serialized(let s) where s.bytes.last == UInt8(ascii: "}"):
            var b = ByteWriter(capacity: s.bytes.count + key.utf8.count + 48)
            b.append(Array(s.bytes.dropLast()))
            b.append(UInt8(ascii: ","))
            JSONWriter.writeString(key, into: &b)
            b.append(UInt8(ascii: ":"))
            JSONWriter.write(value, into: &b)
            b.append(UInt8(ascii: "}"))
            return .serialized(SerializedJSON(bytes: b.finish()))
        case .object(var o):
            o[key] = value
            return .object(o)
        default:
            return self
        }
    }
}
