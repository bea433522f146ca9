// JobKernelIO
