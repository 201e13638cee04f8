/* Distance kernels for the vector indexes (private to src/search).
 *
 * One table per instruction set; vec_distance.c holds the scalar reference and picks
 * the best table the CPU supports once, at the first call (pthread_once), by CPUID
 * through __builtin_cpu_supports. The AVX2 and AVX-512 tables live in their own files
 * and are compiled with per-function target attributes, so the library itself needs
 * no -m flags and still runs on any x86-64 (or other) CPU.
 *
 * Kernels:
 *   dot_f32(a, b, n)       sum a[i] * b[i]
 *   l2sq_f32(a, b, n)      sum (a[i] - b[i])^2
 *   dot_f32_u8(a, c, n)    sum a[i] * c[i] with c the 8-bit codes of a quantised vector
 */
#ifndef MEDIFY_SEARCH_VEC_KERNELS_H
#define MEDIFY_SEARCH_VEC_KERNELS_H

#include <stddef.h>
#include <stdint.h>

typedef struct mdv_kernels {
    const char *name;
    float (*dot_f32)(const float *a, const float *b, size_t n);
    float (*l2sq_f32)(const float *a, const float *b, size_t n);
    float (*dot_f32_u8)(const float *a, const uint8_t *codes, size_t n);
} mdv_kernels;

/* The table chosen for this CPU (never NULL). */
const mdv_kernels *mdv_kernels_get(void);
/* Every table this CPU can run, the scalar reference first (for tests and benches). */
size_t mdv_kernels_all(const mdv_kernels **out, size_t n_max);

const mdv_kernels *mdv_kernels_ref(void);
/* NULL when the compiler cannot build the variant (not x86-64 GCC/Clang). */
const mdv_kernels *mdv_kernels_avx2(void);
const mdv_kernels *mdv_kernels_avx512(void);

#endif
