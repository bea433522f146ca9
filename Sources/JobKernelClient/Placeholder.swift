// JobKernelClient
