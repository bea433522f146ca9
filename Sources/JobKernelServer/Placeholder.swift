// JobKernelServer
