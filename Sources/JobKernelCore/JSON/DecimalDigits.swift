/// Decimal digits written two at a time from a table, for the writers of integers and
/// timestamps on the hot path (a job object and its events carry a dozen numbers per change).
enum DecimalDigits {
    /// "00", "01", … "99", back to back.
    static var pairs: StaticString {
        "00010203040506070809101112131415161718192021222324252627282930313233343536373839404142434445464748495051525354555657585960616263646566676869707172737475767778798081828384858687888990919293949596979899"
    }

    /// Writes `v` (0…99) as two digits at `p`.
    @inline(__always)
    static func put2(_ v: Int, at p: UnsafeMutablePointer<UInt8>) {
        let s = pairs.utf8Start + 2 * v
        p[0] = s[0]
        p[1] = s[1]
    }

    /// How many digits `v` has.
    @inline(__always)
    static func count(_ v: UInt) -> Int {
        var n = 1
        var x = v
        while x >= 100 {
            x /= 100
            n += 2
        }
        return x >= 10 ? n + 1 : n
    }

    /// Writes the digits of `v` so that they end just before `end`.
    @inline(__always)
    static func write(_ v: UInt, endingAt end: UnsafeMutablePointer<UInt8>) {
        var m = v
        var p = end
        while m >= 100 {
            p -= 2
            put2(Int(m % 100), at: p)
            m /= 100
        }
        if m >= 10 {
            put2(Int(m), at: p - 2)
        } else {
            (p - 1).pointee = UInt8(ascii: "0") + UInt8(m)
        }
    }
}
