// JobKernelCore
