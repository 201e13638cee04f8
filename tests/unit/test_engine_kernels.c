/* The engine's SIMD kernels against the scalar reference, on every ISA level this CPU
 * has (kernels.h): for every weight type, random rows of many lengths (block counts
 * 1..17, odd and even, float rows with tails), weight scales from fp16 subnormals to
 * 6e4 and activations from 1e-20 to 1e20, the kernel's dot must equal md_vec_dot
 * within a named tolerance relative to Σ|w·x| (K-quants: bit for bit); the activation
 * quantisers must equal md_quantize_row bit for bit, also on ties, NaN, ±Inf,
 * subnormals and all-zero blocks. The batched product (matmul.c) must give, for 1
 * and 2 threads and any number of tokens, exactly the kernel's per-pair dot. */
#include "check.h"
#include "engine/kernels.h"
#include "medify/threadpool.h"

#include <float.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Q8_0, Q4_0 and float rows: |kernel − reference| ≤ TOL · Σ_i |w_i·x_i| (the
 * dequantised values; + the smallest normal float). The integer block sums (Q8_0,
 * Q4_0) or exact products (floats) are accumulated in float lanes instead of one
 * running float (double for floats): a relative rounding of at most a few hundred
 * additions of terms bounded by Σ|w·x| (measured on AVX2/AVX-512: up to 1.3e-7). */
#define TOL_DOT_QUANT_REL 1.0e-6
#define TOL_DOT_FLOAT_REL 1.0e-6
/* K-quants: each super-block's integer sums are reduced exactly and the float steps
 * are the reference's, so the result must be bit-identical (tolerance 0). */
#define TOL_DOT_KQUANT_REL 0.0

#define MAX_N 4352 /* 17 · 256 */

static uint64_t rng_state = 20251208;

static uint64_t rng_next(void) { /* splitmix64 */
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static double rng_uniform(void) { return ((double)(rng_next() >> 11) + 0.5) / 9007199254740992.0; }

static float rng_gauss(void) {
    double u = rng_uniform(), v = rng_uniform();
    return (float)(sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v));
}

static const md_tensor_type k_weight_types[] = {MD_TENSOR_TYPE_F32,  MD_TENSOR_TYPE_F16,  MD_TENSOR_TYPE_BF16,
                                                MD_TENSOR_TYPE_Q8_0, MD_TENSOR_TYPE_Q4_0, MD_TENSOR_TYPE_Q4_K,
                                                MD_TENSOR_TYPE_Q5_K, MD_TENSOR_TYPE_Q6_K};
static const md_tensor_type k_act_types[] = {MD_TENSOR_TYPE_F32, MD_TENSOR_TYPE_F16, MD_TENSOR_TYPE_BF16,
                                             MD_TENSOR_TYPE_Q8_0, MD_TENSOR_TYPE_Q8_K};
/* fp16 scales written into random weight blocks (times 0.5..1): subnormal, small, 1,
 * near the fp16 maximum (65504). */
static const float k_weight_scales[] = {6.0e-8f, 1.0e-3f, 1.0f, 6.0e4f};
/* Activation magnitudes, kept where the activation type and the float result stay
 * finite: Q8_0 and F16 activations carry fp16 scales or values (from fp16-subnormal
 * Q8_0 scales up), Q8_K and BF16 a float32 range. */
static const float k_act_scales_half[] = {1.0e-6f, 1.0e-3f, 1.0f, 1.0e3f};
static const float k_act_scales_wide[] = {1.0e-20f, 1.0e-3f, 1.0f, 1.0e3f, 1.0e20f};

static const float *act_scales(md_tensor_type act_type, size_t *n) {
    if (act_type == MD_TENSOR_TYPE_Q8_0 || act_type == MD_TENSOR_TYPE_F16) {
        *n = MD_ARRAY_LEN(k_act_scales_half);
        return k_act_scales_half;
    }
    *n = MD_ARRAY_LEN(k_act_scales_wide);
    return k_act_scales_wide;
}

static void put_fp16(uint8_t *p, float v) {
    uint16_t h = md_f32_to_fp16(v);
    memcpy(p, &h, 2);
}

/* A random weight row of n elements: random bytes with sane fp16 scales for the
 * quantised types, Gaussian values times `scale` for the float ones. */
static void make_weight_row(md_tensor_type type, int64_t n, float scale, uint8_t *row) {
    const md_tensor_traits *t = md_tensor_traits_get((uint32_t)type);
    const int64_t nb = n / t->block_size;
    if (!t->is_quantized) {
        for (int64_t i = 0; i < n; i++) {
            float v = rng_gauss() * (scale > 1.0f ? 1.0f : scale) * 4.0f;
            if (type == MD_TENSOR_TYPE_F32) memcpy(row + 4 * i, &v, 4);
            else if (type == MD_TENSOR_TYPE_F16) put_fp16(row + 2 * i, v);
            else {
                uint16_t h = md_f32_to_bf16(v);
                memcpy(row + 2 * i, &h, 2);
            }
        }
        return;
    }
    for (int64_t i = 0; i < nb * t->block_bytes; i++)
        row[i] = (uint8_t)rng_next();
    for (int64_t b = 0; b < nb; b++) {
        uint8_t *blk = row + b * t->block_bytes;
        const float s1 = scale * (float)(0.5 + 0.5 * rng_uniform()), s2 = scale * (float)(0.5 + 0.5 * rng_uniform());
        switch (type) {
        case MD_TENSOR_TYPE_Q8_0:
        case MD_TENSOR_TYPE_Q4_0: put_fp16(blk, s1); break;
        case MD_TENSOR_TYPE_Q4_K:
        case MD_TENSOR_TYPE_Q5_K:
            put_fp16(blk, s1);
            put_fp16(blk + 2, s2);
            break;
        case MD_TENSOR_TYPE_Q6_K: put_fp16(blk + 208, s1); break;
        default: break;
        }
    }
}

/* Σ_i |w_i·x_i| over the dequantised rows. */
static double abs_dot(md_tensor_type type, int64_t n, const uint8_t *w, const uint8_t *xq) {
    static float wf[MAX_N], xf[MAX_N];
    const md_tensor_traits *t = md_tensor_traits_get((uint32_t)type);
    CHECK(md_dequantize_row(type, w, wf, n) == MD_OK);
    CHECK(md_dequantize_row(t->vec_dot_type, xq, xf, n) == MD_OK);
    double mag = 0.0;
    for (int64_t i = 0; i < n; i++)
        mag += fabs((double)wf[i] * (double)xf[i]);
    return mag;
}

static double tol_rel(md_tensor_type type) {
    const md_tensor_traits *t = md_tensor_traits_get((uint32_t)type);
    if (t->block_size == MD_QK_K) return TOL_DOT_KQUANT_REL;
    return t->is_quantized ? TOL_DOT_QUANT_REL : TOL_DOT_FLOAT_REL;
}

static int64_t lengths_for(md_tensor_type type, int64_t out[16]) {
    const md_tensor_traits *t = md_tensor_traits_get((uint32_t)type);
    if (!t->is_quantized) {
        static const int64_t k_f[] = {1, 7, 8, 15, 16, 17, 31, 33, 63, 64, 100, 257, 1023, 2048, 4099};
        memcpy(out, k_f, sizeof k_f);
        return (int64_t)MD_ARRAY_LEN(k_f);
    }
    static const int64_t k_blocks[] = {1, 2, 3, 4, 5, 8, 9, 16, 17};
    int64_t k = 0;
    for (size_t i = 0; i < MD_ARRAY_LEN(k_blocks); i++)
        if (k_blocks[i] * t->block_size <= MAX_N) out[k++] = k_blocks[i] * t->block_size;
    if (t->block_size == 32) out[k++] = 128 * 32; /* a long Q8_0/Q4_0 row: 4096 */
    return k;
}

static void test_vec_dot_level(const md_kernels *k) {
    static uint8_t w[MAX_N * 4], xq[MAX_N * 4 + 512];
    static float x[MAX_N];
    for (size_t it = 0; it < MD_ARRAY_LEN(k_weight_types); it++) {
        const md_tensor_type type = k_weight_types[it];
        const md_tensor_traits *t = md_tensor_traits_get((uint32_t)type);
        CHECK_MSG(k->vec_dot[type] != NULL, "%s: no vec_dot for %s", k->name, t->name);
        if (!k->vec_dot[type]) continue;
        int64_t lens[16];
        const int64_t n_lens = lengths_for(type, lens);
        double worst = 0.0;
        int n_cases = 0, n_bad = 0;
        size_t n_as;
        const float *a_scales = act_scales(t->vec_dot_type, &n_as);
        for (int64_t li = 0; li < n_lens; li++) {
            const int64_t n = lens[li];
            for (size_t ws = 0; ws < MD_ARRAY_LEN(k_weight_scales); ws++) {
                for (size_t as = 0; as < n_as; as++) {
                    make_weight_row(type, n, k_weight_scales[ws], w);
                    for (int64_t i = 0; i < n; i++)
                        x[i] = rng_gauss() * a_scales[as];
                    if (as == 0 && n > 3) x[n / 2] = 0.0f; /* a zero among the values */
                    CHECK(md_quantize_row(t->vec_dot_type, x, xq, n) == MD_OK);
                    float ref = 0.0f, got = 0.0f;
                    CHECK(md_vec_dot(type, n, w, xq, &ref) == MD_OK);
                    k->vec_dot[type](n, w, xq, &got);
                    const double mag = abs_dot(type, n, w, xq);
                    const double tol = tol_rel(type) == 0.0 ? 0.0 : tol_rel(type) * mag + (double)FLT_MIN;
                    const double diff = fabs((double)got - (double)ref);
                    const bool ok = tol == 0.0 ? memcmp(&got, &ref, sizeof got) == 0 : diff <= tol;
                    n_cases++;
                    if (!ok) {
                        if (n_bad++ < 5)
                            fprintf(stderr, "%s %s n=%lld wscale=%g xscale=%g: got %.9g ref %.9g (mag %.3g)\n",
                                    k->name, t->name, (long long)n, (double)k_weight_scales[ws],
                                    (double)a_scales[as], (double)got, (double)ref, mag);
                    } else if (mag > 0.0 && diff / mag > worst) {
                        worst = diff / mag;
                    }
                }
            }
        }
        CHECK_MSG(n_bad == 0, "%s %s: %d of %d rows outside tolerance", k->name, t->name, n_bad, n_cases);
        fprintf(stderr, "  %-6s %-4s %3d rows, worst |Δ|/Σ|w·x| %.2e\n", k->name, t->name, n_cases, worst);
    }
}

/* Values that probe the quantisers' rounding and special cases. */
static float special_value(int kind, float scale) {
    switch (kind % 12) {
    case 0: return NAN;
    case 1: return INFINITY;
    case 2: return -INFINITY;
    case 3: return -0.0f;
    case 4: return 1.0e-40f; /* subnormal */
    case 5: return scale * 0.5f;
    case 6: return scale * (float)(int)(rng_uniform() * 255.0 - 127.0) * 0.5f; /* halves: ties */
    default: return rng_gauss() * scale;
    }
}

static void test_quantize_level(const md_kernels *k) {
    static float x[MAX_N];
    static uint8_t ref[MAX_N * 4 + 512], got[MAX_N * 4 + 512];
    for (size_t ia = 0; ia < MD_ARRAY_LEN(k_act_types); ia++) {
        const md_tensor_type type = k_act_types[ia];
        const md_tensor_traits *t = md_tensor_traits_get((uint32_t)type);
        CHECK_MSG(k->quantize[type] != NULL, "%s: no quantiser for %s", k->name, t->name);
        if (!k->quantize[type]) continue;
        int n_bad = 0, n_cases = 0;
        for (int mode = 0; mode < 4; mode++) {
            for (size_t as = 0; as < MD_ARRAY_LEN(k_act_scales_wide); as++) {
                const float scale = k_act_scales_wide[as];
                const int64_t n = t->block_size == 1 ? 1031 : 4 * (int64_t)t->block_size;
                for (int64_t i = 0; i < n; i++) {
                    switch (mode) {
                    case 0: x[i] = rng_gauss() * scale; break;
                    case 1: x[i] = rng_next() % 7 == 0 ? special_value((int)(rng_next() % 12), scale)
                                                       : rng_gauss() * scale;
                        break;
                    case 2: x[i] = i < n / 2 ? 0.0f : special_value(6, 1.0f); break; /* zero block, ties */
                    default: { /* largest magnitude present with both signs: the first one wins */
                        x[i] = rng_gauss();
                        if (i % 37 == 5) x[i] = (i % 2 ? -8.0f : 8.0f) * scale;
                    }
                    }
                }
                const int64_t bytes = n / t->block_size * t->block_bytes;
                memset(ref, 0xA5, (size_t)bytes);
                memset(got, 0x5A, (size_t)bytes);
                CHECK(md_quantize_row(type, x, ref, n) == MD_OK);
                k->quantize[type](x, got, n);
                n_cases++;
                if (memcmp(ref, got, (size_t)bytes) != 0 && n_bad++ < 3)
                    fprintf(stderr, "%s quantize %s: mode %d scale %g differs from the reference\n", k->name, t->name,
                            mode, (double)scale);
            }
        }
        CHECK_MSG(n_bad == 0, "%s quantize %s: %d of %d rows differ", k->name, t->name, n_bad, n_cases);
    }
}

/* The batched product equals the per-pair kernel dot exactly, for 1 and 2 threads and
 * several token counts, also with three weights sharing one input. */
static void test_matmul(const md_kernels *k, md_pool *pool) {
    enum { N_IN = 512, N_OUT = 37, MAX_TOK = 11 };
    static const md_tensor_type types[] = {MD_TENSOR_TYPE_Q4_K, MD_TENSOR_TYPE_Q6_K, MD_TENSOR_TYPE_Q8_0,
                                           MD_TENSOR_TYPE_F16, MD_TENSOR_TYPE_F32};
    static uint8_t w[3][N_OUT * N_IN * 4];
    static float x[MAX_TOK * N_IN], y[3][MAX_TOK * (N_OUT + 3)];
    static uint8_t xq[MAX_TOK * N_IN * 4];
    for (size_t it = 0; it < MD_ARRAY_LEN(types); it++) {
        const md_tensor_type type = types[it];
        const md_tensor_traits *t = md_tensor_traits_get((uint32_t)type);
        uint64_t row_bytes = 0;
        md_tensor_row_bytes((uint32_t)type, N_IN, &row_bytes);
        for (int m = 0; m < 3; m++)
            for (int r = 0; r < N_OUT; r++)
                make_weight_row(type, N_IN, 0.01f, w[m] + (size_t)r * row_bytes);
        for (int i = 0; i < MAX_TOK * N_IN; i++)
            x[i] = rng_gauss();
        static const size_t k_ntok[] = {1, 3, 8, 11};
        int n_bad = 0;
        for (size_t ti = 0; ti < MD_ARRAY_LEN(k_ntok); ti++) {
            const size_t n_tok = k_ntok[ti], ldy = N_OUT + 3;
            md_matmul mm = {.kernels = k, .n_weights = 3, .n_in = N_IN, .n_tok = n_tok, .x = x, .ldx = N_IN,
                            .xq = xq, .xq_stride = N_IN * 4};
            for (int m = 0; m < 3; m++) {
                mm.w[m] = (md_matmul_weight){.data = w[m], .type = type, .row_bytes = (size_t)row_bytes,
                                             .n_out = N_OUT - (size_t)m * 5, .y = y[m], .ldy = ldy};
                memset(y[m], 0, sizeof y[m]);
            }
            md_matmul_run(pool, &mm);
            static uint8_t xq1[N_IN * 4];
            for (size_t tok = 0; tok < n_tok; tok++) {
                k->quantize[t->vec_dot_type](x + tok * N_IN, xq1, N_IN);
                for (int m = 0; m < 3; m++) {
                    for (size_t r = 0; r < mm.w[m].n_out; r++) {
                        float want = 0.0f;
                        k->vec_dot[type](N_IN, w[m] + r * row_bytes, xq1, &want);
                        if (memcmp(&want, &y[m][tok * ldy + r], sizeof want) != 0) n_bad++;
                    }
                    for (size_t r = mm.w[m].n_out; r < ldy; r++) /* untouched past n_out */
                        if (y[m][tok * ldy + r] != 0.0f) n_bad++;
                }
            }
        }
        CHECK_MSG(n_bad == 0, "%s matmul %s (%d threads): %d outputs differ", k->name, t->name,
                  md_pool_n_threads(pool), n_bad);
    }
}

/* 4-token kernels: bit-identical to 4 calls of the one-row kernel, for every length
 * (odd block counts take the one-block tail) and activation scale. */
static void test_vec_dot_x4(const md_kernels *k) {
    static uint8_t w[MAX_N * 4], xq[MD_KERNEL_TILE][MAX_N * 4 + 512];
    static float x[MAX_N];
    for (size_t it = 0; it < MD_ARRAY_LEN(k_weight_types); it++) {
        const md_tensor_type type = k_weight_types[it];
        if (!k->vec_dot_x4[type]) continue;
        const md_tensor_traits *t = md_tensor_traits_get((uint32_t)type);
        int64_t lens[16];
        const int64_t n_lens = lengths_for(type, lens);
        size_t n_as;
        const float *a_scales = act_scales(t->vec_dot_type, &n_as);
        int n_bad = 0, n_cases = 0;
        for (int64_t li = 0; li < n_lens; li++) {
            const int64_t n = lens[li];
            make_weight_row(type, n, k_weight_scales[li % MD_ARRAY_LEN(k_weight_scales)], w);
            for (int j = 0; j < MD_KERNEL_TILE; j++) {
                for (int64_t i = 0; i < n; i++)
                    x[i] = rng_gauss() * a_scales[(size_t)(li + j) % n_as];
                md_quantize_row(t->vec_dot_type, x, xq[j], n);
            }
            float got[MD_KERNEL_TILE];
            k->vec_dot_x4[type](n, w, xq[0], sizeof xq[0], got);
            for (int j = 0; j < MD_KERNEL_TILE; j++) {
                float want = 0.0f;
                k->vec_dot[type](n, w, xq[j], &want);
                n_cases++;
                if (memcmp(&want, &got[j], sizeof want) != 0) n_bad++;
            }
        }
        CHECK_MSG(n_bad == 0, "%s %s x4: %d of %d dots differ from the one-row kernel", k->name, t->name, n_bad,
                  n_cases);
    }
}

/* The double-accumulating f32 dot of the attention scores: bit-identical to the
 * scalar table's on every level and length (tails included). */
static void test_dot_f32_f64(const md_kernels *k) {
    static float a[300], b[300];
    int n_bad = 0;
    for (size_t n = 0; n <= 300; n += (n < 70 ? 1 : 23)) {
        for (size_t i = 0; i < n; i++) {
            a[i] = rng_gauss() * (i % 5 == 0 ? 1e10f : 1.0f);
            b[i] = rng_gauss() * (i % 7 == 0 ? 1e-10f : 1.0f);
        }
        const double want = md_kernels_scalar.dot_f32_f64(a, b, n), got = k->dot_f32_f64(a, b, n);
        if (memcmp(&want, &got, sizeof got) != 0) n_bad++;
    }
    CHECK_MSG(n_bad == 0, "%s dot_f32_f64: %d lengths differ", k->name, n_bad);
}

static void test_dispatch(void) {
    md_cpu_level l;
    CHECK(md_cpu_level_from_name("scalar", &l) && l == MD_CPU_LEVEL_SCALAR);
    CHECK(md_cpu_level_from_name("avx2", &l) && l == MD_CPU_LEVEL_AVX2);
    CHECK(md_cpu_level_from_name("avx512", &l) && l == MD_CPU_LEVEL_AVX512);
    CHECK(!md_cpu_level_from_name("sse9", &l));
    CHECK(!md_cpu_level_from_name(NULL, &l));
    CHECK(md_kernels_for_level(MD_CPU_LEVEL_SCALAR) == &md_kernels_scalar);
    const md_kernels *k = md_kernels_get();
    CHECK(k != NULL && k == md_kernels_get());
    /* MEDIFY_CPU (if set) caps the level; without it the best level is chosen. */
    const char *env = getenv("MEDIFY_CPU");
    md_cpu_level cap = MD_CPU_LEVEL_AVX512;
    if (env && md_cpu_level_from_name(env, &l)) cap = l;
    int best = 0;
    for (int i = 0; i <= (int)cap; i++)
        if (md_kernels_for_level((md_cpu_level)i)) best = i;
    CHECK_EQ_INT(k->level, best);
    fprintf(stderr, "kernels in use: %s\n", k->name);
}

int main(void) {
    test_dispatch();
    md_pool *pool = NULL;
    CHECK(md_pool_new(2, &pool, NULL) == MD_OK);
    for (int l = 0; l < MD_CPU_LEVEL_N; l++) {
        const md_kernels *k = md_kernels_for_level((md_cpu_level)l);
        if (!k) {
            fprintf(stderr, "level %d: not available on this CPU, skipped\n", l);
            continue;
        }
        CHECK_EQ_INT(k->level, l);
        test_quantize_level(k);
        if (l > 0) test_vec_dot_level(k); /* level 0 is the reference itself */
        test_vec_dot_x4(k);
        CHECK(k->dot_f32_f64 != NULL);
        if (k->dot_f32_f64) test_dot_f32_f64(k);
        test_matmul(k, NULL);
        test_matmul(k, pool);
    }
    md_pool_free(pool);
    return check_report("test_engine_kernels");
}
