extension Dashboard { static let css = "" }
