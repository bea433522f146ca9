// JobKernelStore
