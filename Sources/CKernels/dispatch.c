// Which build of the kernels runs: chosen once from the CPU, lowered by ATTNLAB_SIMD or a test.
#include "simd.h"
#include <stdlib.h>

attn_simd_level attn_level = attn_simd_portable;

attn_simd_level attn_simd_best(void) {
#if defined(__x86_64__)
    // Checks the CPU's bits and that the operating system saves the wider registers.
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq")
        && __builtin_cpu_supports("avx512vl"))
        return attn_simd_avx512;
    if (__builtin_cpu_supports("avx2")) return attn_simd_avx2;
#endif
    return attn_simd_portable;
}

void attn_simd_use(attn_simd_level level) {
    attn_simd_level best = attn_simd_best();
    attn_level = level < best ? level : best;
}

attn_simd_level attn_simd_current(void) { return attn_level; }

/// Runs before main: the best level, unless the environment asks for a lower one.
__attribute__((constructor)) static void attn_simd_choose(void) {
    const char *wanted = getenv("ATTNLAB_SIMD");
    if (wanted && strcmp(wanted, "portable") == 0) attn_simd_use(attn_simd_portable);
    else if (wanted && strcmp(wanted, "avx2") == 0) attn_simd_use(attn_simd_avx2);
    else attn_simd_use(attn_simd_avx512);
}
