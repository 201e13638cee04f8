/* kernels_dispatch.c: the scalar kernel table and the once-per-process choice of the
 * kernel level (kernels.h).
 *
 * The scalar table wraps the reference functions of quants_ref.c, so MEDIFY_CPU=scalar
 * runs exactly the specification. The choice reads CPUID through
 * __builtin_cpu_supports: AVX2 needs avx2, fma and f16c; AVX512 adds avx512f, bw, vl
 * and vnni. MEDIFY_CPU may lower the level, never raise it past what the CPU has.
 */
#include "engine/kernels.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static void ref_vec_dot(md_tensor_type type, int64_t n, const void *w, const void *x, float *out) {
    if (md_vec_dot(type, n, w, x, out) != MD_OK) *out = 0.0f; /* unreachable: the table lists valid types */
}

#define REF_DOT(T)                                                                  \
    static void ref_vec_dot_##T(int64_t n, const void *w, const void *x, float *out) { \
        ref_vec_dot(MD_TENSOR_TYPE_##T, n, w, x, out);                              \
    }
REF_DOT(F32)
REF_DOT(F16)
REF_DOT(BF16)
REF_DOT(Q8_0)
REF_DOT(Q4_0)
REF_DOT(Q4_K)
REF_DOT(Q5_K)
REF_DOT(Q6_K)

#define REF_QUANT(T)                                                            \
    static void ref_quantize_##T(const float *x, void *dst, int64_t n) {       \
        if (md_quantize_row(MD_TENSOR_TYPE_##T, x, dst, n) != MD_OK) return;   \
    }
REF_QUANT(F32)
REF_QUANT(F16)
REF_QUANT(BF16)
REF_QUANT(Q8_0)
REF_QUANT(Q8_K)

static double ref_dot_f32_f64(const float *a, const float *b, size_t n) {
    double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0;
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        s0 += (double)a[i] * (double)b[i];
        s1 += (double)a[i + 1] * (double)b[i + 1];
        s2 += (double)a[i + 2] * (double)b[i + 2];
        s3 += (double)a[i + 3] * (double)b[i + 3];
    }
    for (; i < n; i++)
        s0 += (double)a[i] * (double)b[i];
    return (s0 + s1) + (s2 + s3);
}

const md_kernels md_kernels_scalar = {
    .level = MD_CPU_LEVEL_SCALAR,
    .name = "scalar",
    .vec_dot =
        {
            [MD_TENSOR_TYPE_F32] = ref_vec_dot_F32,
            [MD_TENSOR_TYPE_F16] = ref_vec_dot_F16,
            [MD_TENSOR_TYPE_BF16] = ref_vec_dot_BF16,
            [MD_TENSOR_TYPE_Q8_0] = ref_vec_dot_Q8_0,
            [MD_TENSOR_TYPE_Q4_0] = ref_vec_dot_Q4_0,
            [MD_TENSOR_TYPE_Q4_K] = ref_vec_dot_Q4_K,
            [MD_TENSOR_TYPE_Q5_K] = ref_vec_dot_Q5_K,
            [MD_TENSOR_TYPE_Q6_K] = ref_vec_dot_Q6_K,
        },
    .quantize =
        {
            [MD_TENSOR_TYPE_F32] = ref_quantize_F32,
            [MD_TENSOR_TYPE_F16] = ref_quantize_F16,
            [MD_TENSOR_TYPE_BF16] = ref_quantize_BF16,
            [MD_TENSOR_TYPE_Q8_0] = ref_quantize_Q8_0,
            [MD_TENSOR_TYPE_Q8_K] = ref_quantize_Q8_K,
        },
    .dot_f32_f64 = ref_dot_f32_f64,
};

#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
#include <cpuid.h>

/* F16C is CPUID leaf 1, ECX bit 29 (not every compiler's __builtin_cpu_supports
 * knows the name). */
static bool cpu_has_f16c(void) {
    unsigned a = 0, b = 0, c = 0, d = 0;
    return __get_cpuid(1, &a, &b, &c, &d) && (c & (1u << 29)) != 0;
}
#endif

static bool cpu_has_level(md_cpu_level level) {
#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
    __builtin_cpu_init();
    switch (level) {
    case MD_CPU_LEVEL_SCALAR: return true;
    case MD_CPU_LEVEL_AVX2:
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && cpu_has_f16c();
    case MD_CPU_LEVEL_AVX512:
        return cpu_has_level(MD_CPU_LEVEL_AVX2) && __builtin_cpu_supports("avx512f") &&
               __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
               __builtin_cpu_supports("avx512vnni");
    }
    return false;
#else
    return level == MD_CPU_LEVEL_SCALAR;
#endif
}

const md_kernels *md_kernels_for_level(md_cpu_level level) {
    if (!cpu_has_level(level)) return NULL;
    switch (level) {
    case MD_CPU_LEVEL_SCALAR: return &md_kernels_scalar;
    case MD_CPU_LEVEL_AVX2: return md_kernels_avx2_table();
    case MD_CPU_LEVEL_AVX512: return md_kernels_avx512_table();
    }
    return NULL;
}

bool md_cpu_level_from_name(const char *name, md_cpu_level *out) {
    static const char *const k_names[MD_CPU_LEVEL_N] = {"scalar", "avx2", "avx512"};
    for (int i = 0; name && i < MD_CPU_LEVEL_N; i++) {
        if (strcmp(name, k_names[i]) == 0) {
            *out = (md_cpu_level)i;
            return true;
        }
    }
    return false;
}

static const md_kernels *g_kernels; /* written once under g_once, then read-only */
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

static void choose_kernels(void) {
    int top = MD_CPU_LEVEL_N - 1;
    md_cpu_level wanted;
    const char *env = getenv("MEDIFY_CPU");
    if (env && md_cpu_level_from_name(env, &wanted)) top = (int)wanted;
    for (int l = top; l >= 0; l--) {
        const md_kernels *k = md_kernels_for_level((md_cpu_level)l);
        if (k) {
            g_kernels = k;
            return;
        }
    }
    g_kernels = &md_kernels_scalar;
}

const md_kernels *md_kernels_get(void) {
    pthread_once(&g_once, choose_kernels);
    return g_kernels;
}
