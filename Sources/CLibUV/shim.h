#ifndef JOBKERNEL_CLIBUV_SHIM_H
#define JOBKERNEL_CLIBUV_SHIM_H
#include <uv.h>
#endif
