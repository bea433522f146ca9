print("jobkernel")
