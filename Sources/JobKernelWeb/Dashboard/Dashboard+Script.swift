extension Dashboard { static let script = "" }
