#ifndef JOBKERNEL_CNATS_SHIM_H
#define JOBKERNEL_CNATS_SHIM_H
#include <nats/nats.h>
#endif
