/* Distance kernels: the scalar reference and the start-up dispatch.
 *
 * The reference kernels are the definition every SIMD variant is tested against
 * (tests/unit/test_vector.c, tolerance MD_TEST_KERNEL_REL_TOL). They accumulate in
 * four independent float lanes so the compiler may vectorise them without -ffast-math
 * and so their rounding is close to the SIMD variants'.
 *
 * Dispatch: mdv_kernels_get() runs CPUID once (pthread_once) and keeps the best table
 * in a static pointer that is written exactly once and only read afterwards; it is the
 * one piece of process state in this module and it is immutable after start-up.
 */
#include "medify/vector.h"
#include "search/vec_kernels.h"

#include <pthread.h>

static float dot_f32_ref(const float *a, const float *b, size_t n) {
    float s0 = 0.0f, s1 = 0.0f, s2 = 0.0f, s3 = 0.0f;
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        s0 += a[i] * b[i];
        s1 += a[i + 1] * b[i + 1];
        s2 += a[i + 2] * b[i + 2];
        s3 += a[i + 3] * b[i + 3];
    }
    for (; i < n; i++) {
        s0 += a[i] * b[i];
    }
    return (s0 + s1) + (s2 + s3);
}

static float l2sq_f32_ref(const float *a, const float *b, size_t n) {
    float s0 = 0.0f, s1 = 0.0f, s2 = 0.0f, s3 = 0.0f;
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        float d0 = a[i] - b[i], d1 = a[i + 1] - b[i + 1];
        float d2 = a[i + 2] - b[i + 2], d3 = a[i + 3] - b[i + 3];
        s0 += d0 * d0;
        s1 += d1 * d1;
        s2 += d2 * d2;
        s3 += d3 * d3;
    }
    for (; i < n; i++) {
        float d = a[i] - b[i];
        s0 += d * d;
    }
    return (s0 + s1) + (s2 + s3);
}

static float dot_f32_u8_ref(const float *a, const uint8_t *codes, size_t n) {
    float s0 = 0.0f, s1 = 0.0f, s2 = 0.0f, s3 = 0.0f;
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        s0 += a[i] * (float)codes[i];
        s1 += a[i + 1] * (float)codes[i + 1];
        s2 += a[i + 2] * (float)codes[i + 2];
        s3 += a[i + 3] * (float)codes[i + 3];
    }
    for (; i < n; i++) {
        s0 += a[i] * (float)codes[i];
    }
    return (s0 + s1) + (s2 + s3);
}

static const mdv_kernels KERNELS_REF = {
    .name = "scalar",
    .dot_f32 = dot_f32_ref,
    .l2sq_f32 = l2sq_f32_ref,
    .dot_f32_u8 = dot_f32_u8_ref,
};

const mdv_kernels *mdv_kernels_ref(void) { return &KERNELS_REF; }

static bool cpu_has_avx2(void) {
#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
    return false;
#endif
}

static bool cpu_has_avx512(void) {
#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vl");
#else
    return false;
#endif
}

size_t mdv_kernels_all(const mdv_kernels **out, size_t n_max) {
    size_t n = 0;
    if (n < n_max) {
        out[n++] = mdv_kernels_ref();
    }
    if (n < n_max && cpu_has_avx2() && mdv_kernels_avx2()) {
        out[n++] = mdv_kernels_avx2();
    }
    if (n < n_max && cpu_has_avx512() && mdv_kernels_avx512()) {
        out[n++] = mdv_kernels_avx512();
    }
    return n;
}

static const mdv_kernels *g_kernels; /* written once under g_kernels_once */
static pthread_once_t g_kernels_once = PTHREAD_ONCE_INIT;

static void kernels_choose(void) {
    const mdv_kernels *all[3];
    size_t n = mdv_kernels_all(all, MD_ARRAY_LEN(all));
    g_kernels = all[n - 1]; /* the list is ordered from slowest to fastest */
}

const mdv_kernels *mdv_kernels_get(void) {
    pthread_once(&g_kernels_once, kernels_choose);
    return g_kernels;
}

const char *md_vector_kernel_name(void) { return mdv_kernels_get()->name; }

float md_vector_dot_f32(const float *a, const float *b, size_t n) { return mdv_kernels_get()->dot_f32(a, b, n); }

float md_vector_l2sq_f32(const float *a, const float *b, size_t n) { return mdv_kernels_get()->l2sq_f32(a, b, n); }
