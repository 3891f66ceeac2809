// The cores this process may run on: its affinity mask (what `taskset` sets), not the machine's count.
#define _GNU_SOURCE
#include "CKernels.h"
#include <sched.h>
#include <unistd.h>

int attn_allowed_cores(void) {
#if defined(__linux__)
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0) return CPU_COUNT(&set);
#endif
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}
