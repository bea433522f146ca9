import Testing
@testable import JobKernelIO
