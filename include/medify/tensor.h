/* medify tensor: element types, their traits, and the scalar reference kernels
 * (engine module).
 *
 * A tensor row of n elements of a block-quantised type is n / block_size blocks laid
 * out back to back, each block_bytes long; the layouts are bit-compatible with ggml's
 * (ggml-common.h), so rows read from a GGUF file written by llama.cpp can be used
 * directly, and the rows medify writes have the layout llama.cpp expects:
 *
 *   type  block  bytes  value of element j
 *   F32       1      4  IEEE binary32
 *   F16       1      2  IEEE binary16
 *   BF16      1      2  bfloat16 (the top half of a binary32)
 *   Q8_0     32     34  d·q[j]               d fp16, q int8
 *   Q4_0     32     18  d·(q[j] − 8)         d fp16, q 4-bit (low nibbles: j < 16)
 *   Q4_K    256    144  d·sc[s]·q[j] − dmin·m[s]    8 sub-blocks of 32; sc, m 6-bit
 *   Q5_K    256    176  as Q4_K with a 5th bit per quant
 *   Q6_K    256    210  d·sc[s]·(q[j] − 32)  16 sub-blocks of 16; sc int8, q 6-bit
 *   Q8_K    256    292  d·q[j]               d float32, q int8, + sums of 16 (activations)
 *
 * The reference kernels are plain scalar C: the specification the SIMD kernels are
 * tested against, and the quantisers that make the project's own test models. They
 * read and write through memcpy, so `src`/`dst` need no particular alignment.
 *
 * md_vec_dot follows ggml-cpu's scheme: the weight row stays in its own type and the
 * activation row is first quantised to the weight type's `vec_dot_type` (F32 for F32,
 * F16 for F16, BF16 for BF16, Q8_0 for Q8_0 and Q4_0, Q8_K for the K-quants), so the
 * inner loops of the quantised types are integer multiply-adds.
 */
#ifndef MEDIFY_TENSOR_H
#define MEDIFY_TENSOR_H

#include "medify/base.h"
#include "medify/gguf.h" /* md_tensor_type */

#ifdef __cplusplus
extern "C" {
#endif

#define MD_QK_K  256 /* super-block size of the K-quants (ggml's QK_K) */
#define MD_QK8_0 32  /* block size of Q8_0 (ggml's QK8_0) */
#define MD_QK4_0 32  /* block size of Q4_0 (ggml's QK4_0) */

/* Bytes per block, as ggml-common.h lays the blocks out (fp16 scales are 2 bytes). */
#define MD_Q8_0_BLOCK_BYTES (2 + MD_QK8_0)                                 /* 34 */
#define MD_Q4_0_BLOCK_BYTES (2 + MD_QK4_0 / 2)                             /* 18 */
#define MD_Q4_K_BLOCK_BYTES (2 + 2 + 12 + MD_QK_K / 2)                     /* 144 */
#define MD_Q5_K_BLOCK_BYTES (2 + 2 + 12 + MD_QK_K / 8 + MD_QK_K / 2)       /* 176 */
#define MD_Q6_K_BLOCK_BYTES (MD_QK_K / 2 + MD_QK_K / 4 + MD_QK_K / 16 + 2) /* 210 */
#define MD_Q8_K_BLOCK_BYTES (4 + MD_QK_K + 2 * (MD_QK_K / 16))             /* 292 */

/* Largest ggml type id medify knows (BF16 = 30); ids above are unknown. */
#define MD_TENSOR_TYPE_ID_MAX 30
/* Number of types in the traits table (F32 F16 BF16 Q8_0 Q4_0 Q4_K Q5_K Q6_K Q8_K). */
#define MD_TENSOR_TYPE_N_KNOWN 9

typedef struct md_tensor_traits {
    md_tensor_type type;
    const char *name;            /* as ggml spells it: "F32", "Q4_K", ... */
    uint32_t block_size;         /* elements per block (1 for float types) */
    uint32_t block_bytes;        /* bytes per block */
    md_tensor_type vec_dot_type; /* how md_vec_dot wants the activations */
    bool is_quantized;
    bool weights_ok; /* false for Q8_K: activations only, no vec_dot */
} md_tensor_traits;

/* The traits of a ggml type id, or NULL when medify does not know the type. The
 * pointer is to static data. */
const md_tensor_traits *md_tensor_traits_get(uint32_t type);
/* "F32", "Q4_K", ...; "unknown" for a type without traits. */
const char *md_tensor_type_name(uint32_t type);
/* Looks a type up by its ggml name ("Q6_K"); false when unknown. */
bool md_tensor_type_from_name(const char *name, md_tensor_type *out);
/* Bytes of n_elements of `type` laid out as one row. False when the type is unknown,
 * n_elements is not a multiple of the block size, or the size overflows uint64_t. */
bool md_tensor_row_bytes(uint32_t type, uint64_t n_elements, uint64_t *n_bytes);

/* ---- half-precision conversions (IEEE 754 round to nearest, ties to even) ---------- */

/* binary32 → binary16: overflow gives ±Inf, results below the subnormal range ±0,
 * Inf stays Inf, NaN stays NaN (quiet, sign and top payload bits kept). */
uint16_t md_f32_to_fp16(float f);
float md_fp16_to_f32(uint16_t h); /* exact; subnormals included */
/* binary32 → bfloat16: round to nearest even; NaN stays NaN (made quiet), as ggml does. */
uint16_t md_f32_to_bf16(float f);
float md_bf16_to_f32(uint16_t h); /* exact */

/* ---- reference row kernels ----------------------------------------------------------- */

/* Each takes n elements (a multiple of the type's block size) and returns
 * MD_ERR_INVALID_ARG for an unknown type, a NULL pointer or a bad n. */

/* src holds n elements of `type` (md_tensor_row_bytes bytes); writes n floats. */
md_status md_dequantize_row(md_tensor_type type, const void *src, float *dst, int64_t n);
/* Quantises n floats into `type`. For Q8_0 and Q8_K this is exactly how ggml-cpu
 * quantises activations on x86 (Q8_0: d = amax/127 as fp16, q = round-half-even(x·127/
 * amax); Q8_K: d = max/−127 in float32 with max the signed value of largest magnitude,
 * q = min(127, round-half-even(x/d)), plus the sums of each 16 quants), so md_vec_dot
 * over these activations reproduces ggml's arithmetic. For Q4_0 and the K-quants it is
 * medify's own scale search (see quants_ref.c): any quantiser is valid as long as the
 * layout is; these aim at a small squared error and make the test models. */
md_status md_quantize_row(md_tensor_type type, const float *src, void *dst, int64_t n);
/* *out = Σ w[i]·x[i] over one row: w_row is n elements of `type`, x_q is n elements of
 * md_tensor_traits_get(type)->vec_dot_type (use md_quantize_row to make it). Quantised
 * types multiply integers within each block and accumulate blocks in float, as ggml
 * does; F32/F16/BF16 accumulate in double. MD_ERR_UNSUPPORTED for Q8_K weights. */
md_status md_vec_dot(md_tensor_type type, int64_t n, const void *w_row, const void *x_q, float *out);

#ifdef __cplusplus
}
#endif

#endif /* MEDIFY_TENSOR_H */
