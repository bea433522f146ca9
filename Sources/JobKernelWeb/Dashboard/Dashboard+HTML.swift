extension Dashboard {
    static let html = #"""
<!doctype html><html lang="en"><head><meta charset="utf-8"><title>jobkernel</title></head><body></body></html>
"""#
}
