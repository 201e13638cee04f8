/* kernels.h: the engine's fast row kernels, chosen once per process by CPU, and the
 * batched matrix product built on them. Private to src/engine (and the tests).
 *
 * The scalar reference (md_vec_dot, md_quantize_row in quants_ref.c) is the
 * specification; each ISA level here provides the same functions:
 *
 *   vec_dot[type]   one weight row of `type` · one activation row already quantised to
 *                   the type's vec_dot_type (tensor.h): F32, F16, BF16, Q8_0, Q4_0,
 *                   Q4_K, Q5_K, Q6_K
 *   quantize[type]  f32 → activation rows of `type`: F32 (copy), F16, BF16, Q8_0, Q8_K
 *
 * Activation quantisers are bit-exact with the reference (same rounding, same
 * clamping, NaN → 0). Dot products compute the same integer block sums as the
 * reference but accumulate the per-block float results in SIMD lanes (and float
 * types in float rather than double), so they differ from the reference by float
 * rounding only; tests/unit/test_engine_kernels.c bounds that difference with named
 * tolerances, for every type and every ISA level the CPU has.
 *
 * Levels: SCALAR (the reference, always), AVX2 (AVX2 + FMA + F16C) and AVX512
 * (AVX-512 F/BW/VL + VNNI: 512-bit float and Q8_0/Q4_0 loops, 256-bit VNNI dot
 * products for the K-quants). md_kernels_get picks the best level the CPU reports
 * (__builtin_cpu_supports) once; the environment variable MEDIFY_CPU=scalar|avx2|avx512
 * lowers it (a level the CPU lacks falls back to the best it has), so tests and
 * benchmarks can run every path on one machine.
 *
 * All rows may sit at any address (the kernels use unaligned loads); n is a multiple
 * of the block size of the types involved; the functions do not check arguments.
 */
#ifndef MEDIFY_ENGINE_KERNELS_H
#define MEDIFY_ENGINE_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#include "medify/tensor.h"
#include "medify/threadpool.h"

typedef enum md_cpu_level {
    MD_CPU_LEVEL_SCALAR = 0,
    MD_CPU_LEVEL_AVX2 = 1,
    MD_CPU_LEVEL_AVX512 = 2,
} md_cpu_level;
#define MD_CPU_LEVEL_N 3

/* *out = w · x over n elements; x is in the weight type's vec_dot_type. */
typedef void (*md_vec_dot_fn)(int64_t n, const void *w, const void *x, float *out);
/* out[j] = w · x_j for the 4 activation rows x_j = x + j·x_stride (bytes): the same
 * result, bit for bit, as 4 calls of the type's md_vec_dot_fn, with each weight block
 * loaded and unpacked once (register tiling for batched products). */
#define MD_KERNEL_TILE 4
typedef void (*md_vec_dot_x4_fn)(int64_t n, const void *w, const void *x, size_t x_stride, float out[MD_KERNEL_TILE]);
/* n floats → n elements of an activation type. */
typedef void (*md_quantize_fn)(const float *x, void *dst, int64_t n);

typedef struct md_kernels {
    md_cpu_level level;
    const char *name;                                   /* "scalar", "avx2", "avx512" */
    md_vec_dot_fn vec_dot[MD_TENSOR_TYPE_ID_MAX + 1];   /* by weight type; NULL: none */
    md_vec_dot_x4_fn vec_dot_x4[MD_TENSOR_TYPE_ID_MAX + 1]; /* optional; NULL: use vec_dot */
    md_quantize_fn quantize[MD_TENSOR_TYPE_ID_MAX + 1]; /* by activation type; NULL: none */
    /* Σ a[i]·b[i] of two f32 rows with products and sums in double, in four
     * interleaved partial sums s_k (over i ≡ k mod 4) added as (s0 + s1) + (s2 + s3):
     * bit-identical on every level (products of floats are exact in double, so a fused
     * multiply-add rounds as a multiply then an add). Attention scores use it. */
    double (*dot_f32_f64)(const float *a, const float *b, size_t n);
} md_kernels;

/* The kernels of this process: the best level the CPU has, lowered by MEDIFY_CPU.
 * Chosen on the first call (thread-safe); the pointer is to static data. */
const md_kernels *md_kernels_get(void);
/* The kernels of one level, or NULL when the CPU (or the compiler) lacks it. */
const md_kernels *md_kernels_for_level(md_cpu_level level);
/* Parses "scalar", "avx2", "avx512"; false for anything else. */
bool md_cpu_level_from_name(const char *name, md_cpu_level *out);

/* Per-level tables, defined in kernels_{dispatch,avx2,avx512}.c. The SIMD ones are
 * NULL when the compiler cannot build them; only md_kernels_for_level checks the CPU. */
extern const md_kernels md_kernels_scalar;
const md_kernels *md_kernels_avx2_table(void);
const md_kernels *md_kernels_avx512_table(void);

/* ---- batched matrix product (matmul.c) ------------------------------------------------- */

/* Up to this many weight matrices can share one quantised input (Wq, Wk, Wv; gate, up). */
#define MD_MATMUL_MAX_WEIGHTS 3

typedef struct md_matmul_weight {
    const void *data;    /* n_out rows of n_in elements of `type`, row r at data + r·row_bytes */
    md_tensor_type type; /* every weight of one product has the same vec_dot_type */
    size_t row_bytes;
    size_t n_out;
    float *y;   /* (n_tok, ldy): y[t·ldy + r] = row r · x[t] */
    size_t ldy; /* floats between token rows of y (>= n_out) */
} md_matmul_weight;

typedef struct md_matmul {
    const md_kernels *kernels;
    size_t n_weights; /* 1..MD_MATMUL_MAX_WEIGHTS */
    md_matmul_weight w[MD_MATMUL_MAX_WEIGHTS];
    size_t n_in;       /* a multiple of the block sizes of the weight types */
    size_t n_tok;      /* token rows of x */
    const float *x;    /* (n_tok, ldx) f32 activations */
    size_t ldx;        /* floats between token rows of x (>= n_in) */
    uint8_t *xq;       /* scratch: n_tok rows of xq_stride bytes (caller-owned) */
    size_t xq_stride;  /* >= md_tensor_row_bytes(vec_dot_type, n_in) */
    md_pool_counter next; /* work distribution; md_matmul_run resets it */
} md_matmul;

/* Runs the product on every thread of `pool` (NULL: the calling thread alone):
 * the activations are quantised once (token rows split over the threads), then the
 * weight rows are handed out in chunks through an atomic counter; within a chunk
 * each weight row is multiplied with groups of token rows while both stay in cache.
 * Every output element is one md_vec_dot-style dot of one row with one token, so the
 * result does not depend on the number of threads or on n_tok. Allocates nothing. */
void md_matmul_run(md_pool *pool, md_matmul *mm);
/* The same work for thread ith of nth, for callers that are already inside a pool
 * run (they must call it on all nth threads; it uses md_pool_barrier). */
void md_matmul_thread(md_pool *pool, md_matmul *mm, int ith, int nth);

#endif
