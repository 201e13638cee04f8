/* quants_ref.c: scalar reference (de)quantisation and dot products.
 *
 * Block layouts are ggml's (ggml-common.h); the structs below restate them and are
 * static_asserted against the MD_*_BLOCK_BYTES of tensor.h. Blocks are copied in and
 * out with memcpy, so rows may sit at any address (a GGUF mapping, a test buffer).
 * This file is the specification the SIMD kernels are checked against: clarity first.
 *
 * K-quant scale packing (Q4_K, Q5_K): eight 6-bit scales sc[s] and eight 6-bit mins
 * m[s] share 12 bytes. Bytes 0-3 hold sc[0..3] in their low 6 bits, bytes 4-7 hold
 * m[0..3]; sc[4..7] and m[4..7] keep their low 4 bits in the two nibbles of bytes 8-11
 * and their top 2 bits in the top 2 bits of bytes 0-3 and 4-7 respectively.
 * Quants of sub-block s (32 elements) are the low (s even) or high (s odd) nibbles of
 * qs[32·(s/2) ..]; Q5_K adds bit s of qh[l] as the 5th bit of element l of sub-block s.
 * Q6_K: element p of a 128-element half h has its low nibble in ql[64h + p%32 + 32·(p/32
 * & 1)] (low nibble for p/32 < 2, high otherwise) and its top 2 bits at bit 2·(p/32) of
 * qh[32h + p%32]; the signed 8-bit scale of element p of the block is scales[p/16].
 *
 * Quantisers. Q8_0 and Q8_K reproduce how ggml-cpu quantises activations on x86 (so
 * md_vec_dot computes what ggml computes). Q4_0, Q4_K, Q5_K and Q6_K are medify's own
 * scale search: for every (sub-)block start from a few ranges around the one that maps
 * the extreme values onto the end levels, then alternate "round each value to the
 * nearest level" and "refit scale (and min) by least squares to those levels"
 * (Lloyd-style), keeping the fit with the smallest squared error; the super-block
 * scales are then quantised (fp16, and 6-bit codes chosen among the 3 × 3 neighbours of
 * the rounded ones for Q4_K/Q5_K, 8-bit for Q6_K) and each value is rounded once more
 * against the scales the decoder will actually use. Any quantiser is valid for the
 * format; these aim at a small error for the test models (on the fixture weights a
 * little below llama-quantize's; bounds in tests/unit/test_engine_quants.c).
 *
 * Rounding is round-half-to-even done by hand, so results do not depend on the FPU's
 * rounding mode; every float → int conversion is clamped first (NaN → 0), so hostile
 * or non-finite input gives garbage numbers, never undefined behaviour.
 */
#include "medify/tensor.h"

#include <assert.h>
#include <math.h>
#include <stddef.h>
#include <string.h>

typedef struct block_q8_0 {
    uint16_t d; /* fp16 scale */
    int8_t qs[MD_QK8_0];
} block_q8_0;

typedef struct block_q4_0 {
    uint16_t d;               /* fp16 scale */
    uint8_t qs[MD_QK4_0 / 2]; /* element j < 16: low nibble of qs[j]; j >= 16: high of qs[j-16] */
} block_q4_0;

typedef struct block_q4_K {
    uint16_t d;    /* fp16 scale of the 6-bit scales */
    uint16_t dmin; /* fp16 scale of the 6-bit mins */
    uint8_t scales[12];
    uint8_t qs[MD_QK_K / 2];
} block_q4_K;

typedef struct block_q5_K {
    uint16_t d;
    uint16_t dmin;
    uint8_t scales[12];
    uint8_t qh[MD_QK_K / 8];
    uint8_t qs[MD_QK_K / 2];
} block_q5_K;

typedef struct block_q6_K {
    uint8_t ql[MD_QK_K / 2];
    uint8_t qh[MD_QK_K / 4];
    int8_t scales[MD_QK_K / 16];
    uint16_t d; /* fp16 */
} block_q6_K;

typedef struct block_q8_K {
    float d;
    int8_t qs[MD_QK_K];
    int16_t bsums[MD_QK_K / 16]; /* sum of each 16 consecutive quants */
} block_q8_K;

static_assert(sizeof(block_q8_0) == MD_Q8_0_BLOCK_BYTES, "Q8_0 block layout");
static_assert(sizeof(block_q4_0) == MD_Q4_0_BLOCK_BYTES, "Q4_0 block layout");
static_assert(sizeof(block_q4_K) == MD_Q4_K_BLOCK_BYTES && offsetof(block_q4_K, qs) == 16, "Q4_K block layout");
static_assert(sizeof(block_q5_K) == MD_Q5_K_BLOCK_BYTES && offsetof(block_q5_K, qh) == 16 &&
                  offsetof(block_q5_K, qs) == 48,
              "Q5_K block layout");
static_assert(sizeof(block_q6_K) == MD_Q6_K_BLOCK_BYTES && offsetof(block_q6_K, scales) == 192 &&
                  offsetof(block_q6_K, d) == 208,
              "Q6_K block layout");
static_assert(sizeof(block_q8_K) == MD_Q8_K_BLOCK_BYTES && offsetof(block_q8_K, bsums) == 260, "Q8_K block layout");

/* Lloyd iterations of the scale searches: the error stops improving after 3-4. */
#define QUANT_REFINE_ITERS 6

/* ---- rounding helpers ---------------------------------------------------------------- */

/* Rounds v to the nearest integer in [lo, hi], ties to even; NaN gives 0. The clamp
 * comes first, so the conversion to int is always defined and v - floor(v) is exact. */
static int quant_round(float v, int lo, int hi) {
    if (v != v) {
        return 0;
    }
    if (v <= (float)lo) {
        return lo;
    }
    if (v >= (float)hi) {
        return hi;
    }
    float fl = floorf(v);
    int r = (int)fl;
    float frac = v - fl;
    if (frac > 0.5f || (frac == 0.5f && (r & 1))) {
        r++;
    }
    return r;
}

static float fp16_round(float v) { return md_fp16_to_f32(md_f32_to_fp16(v)); }

/* The value of largest magnitude (first one on ties), with its sign. */
static float signed_absmax(const float *x, int n) {
    float amax = 0.0f, max = 0.0f;
    for (int i = 0; i < n; i++) {
        float a = fabsf(x[i]);
        if (a > amax) {
            amax = a;
            max = x[i];
        }
    }
    return max;
}

/* ---- K-quant scale packing ------------------------------------------------------------ */

static void scale_min_get(int s, const uint8_t *q, int *sc, int *m) {
    if (s < 4) {
        *sc = q[s] & 63;
        *m = q[s + 4] & 63;
    } else {
        *sc = (q[s + 4] & 0xF) | ((q[s - 4] >> 6) << 4);
        *m = (q[s + 4] >> 4) | ((q[s] >> 6) << 4);
    }
}

static void scale_min_pack(const int sc[8], const int m[8], uint8_t q[12]) {
    for (int s = 0; s < 4; s++) {
        q[s] = (uint8_t)((sc[s] & 63) | ((sc[s + 4] >> 4) << 6));
        q[s + 4] = (uint8_t)((m[s] & 63) | ((m[s + 4] >> 4) << 6));
        q[s + 8] = (uint8_t)((sc[s + 4] & 0xF) | ((m[s + 4] & 0xF) << 4));
    }
}

/* ---- scale searches ------------------------------------------------------------------ */

/* Symmetric: x ≈ d·q, q in [qmin, qmax]. Returns the squared error of scale d. */
static float sym_error(const float *x, int n, float d, int qmin, int qmax) {
    float err = 0.0f;
    float id = d != 0.0f ? 1.0f / d : 0.0f;
    for (int i = 0; i < n; i++) {
        float diff = x[i] - d * (float)quant_round(x[i] * id, qmin, qmax);
        err += diff * diff;
    }
    return err;
}

/* Finds d for x ≈ d·q, q in [qmin, qmax] (qmin = -qmax - 1: the extra negative level
 * is used by mapping the extreme value onto it when that helps). */
static float sym_fit(const float *x, int n, int qmin, int qmax) {
    float max = signed_absmax(x, n);
    if (max == 0.0f) {
        return 0.0f;
    }
    /* Candidates: the extreme value on the negative end level, on the positive one,
     * and slightly inside either (trading clipping for resolution). */
    float cands[6] = {max / (float)qmin,          max / (float)qmax,          max / ((float)qmin + 0.5f),
                      max / ((float)qmax - 0.5f), max / ((float)qmin + 1.0f), max / ((float)qmax - 1.0f)};
    float best_d = cands[0];
    float best_err = sym_error(x, n, best_d, qmin, qmax);
    for (size_t c = 0; c < MD_ARRAY_LEN(cands); c++) {
        float d = cands[c];
        for (int it = 0; it < QUANT_REFINE_ITERS; it++) {
            float err = sym_error(x, n, d, qmin, qmax);
            if (err < best_err) {
                best_err = err;
                best_d = d;
            }
            /* Refit: d = Σ x q / Σ q² for the current levels. */
            float id = 1.0f / d, sxq = 0.0f, sqq = 0.0f;
            for (int i = 0; i < n; i++) {
                float q = (float)quant_round(x[i] * id, qmin, qmax);
                sxq += x[i] * q;
                sqq += q * q;
            }
            if (sqq <= 0.0f || sxq == 0.0f) {
                break;
            }
            d = sxq / sqq;
        }
    }
    return best_d;
}

/* Asymmetric: x ≈ s·q − m, q in [0, nmax], s ≥ 0, m ≥ 0 (the K-quant form). */
static float asym_error(const float *x, int n, float s, float m, int nmax) {
    float err = 0.0f;
    float is = s > 0.0f ? 1.0f / s : 0.0f;
    for (int i = 0; i < n; i++) {
        float diff = x[i] - (s * (float)quant_round((x[i] + m) * is, 0, nmax) - m);
        err += diff * diff;
    }
    return err;
}

static void asym_refine(const float *x, int n, int nmax, float *s_io, float *m_io, float *best_s, float *best_m,
                        float *best_err);

static void asym_fit(const float *x, int n, int nmax, float *s_out, float *m_out) {
    float lo = x[0], hi = x[0];
    for (int i = 1; i < n; i++) {
        lo = x[i] < lo ? x[i] : lo;
        hi = x[i] > hi ? x[i] : hi;
    }
    if (lo > 0.0f) {
        lo = 0.0f; /* the offset −m can only move the range down */
    }
    float s0 = (hi - lo) / (float)nmax;
    if (!(s0 > 0.0f)) {
        *s_out = 0.0f;
        *m_out = -lo;
        return;
    }
    float best_s = s0, best_m = -lo, best_err = asym_error(x, n, s0, -lo, nmax);
    /* Starts: the full range over nmax levels, and slightly finer or coarser steps
     * (clipping the extremes can pay off for the values in the middle). */
    static const float k_steps[] = {0.0f, -1.0f, -0.5f, 0.5f, 1.0f, 1.5f, 2.0f};
    for (size_t k = 0; k < MD_ARRAY_LEN(k_steps); k++) {
        float s = (hi - lo) / ((float)nmax + k_steps[k]), m = -lo;
        asym_refine(x, n, nmax, &s, &m, &best_s, &best_m, &best_err);
    }
    *s_out = best_s;
    *m_out = best_m;
}

/* Lloyd iterations from (s, m), updating the best fit seen. */
static void asym_refine(const float *x, int n, int nmax, float *s_io, float *m_io, float *best_s, float *best_m,
                        float *best_err) {
    float s = *s_io, m = *m_io;
    for (int it = 0; it < QUANT_REFINE_ITERS; it++) {
        /* Levels for the current fit, then least squares for x ≈ s·q + b. */
        float is = 1.0f / s, sq = 0.0f, sx = 0.0f, sqq = 0.0f, sxq = 0.0f;
        for (int i = 0; i < n; i++) {
            float q = (float)quant_round((x[i] + m) * is, 0, nmax);
            sq += q;
            sx += x[i];
            sqq += q * q;
            sxq += x[i] * q;
        }
        float den = (float)n * sqq - sq * sq;
        if (den <= 0.0f) {
            break;
        }
        float ns = ((float)n * sxq - sq * sx) / den;
        float nb = (sx - ns * sq) / (float)n;
        if (nb > 0.0f) { /* m must stay ≥ 0: fit the scale alone with b = 0 */
            nb = 0.0f;
            ns = sqq > 0.0f ? sxq / sqq : 0.0f;
        }
        if (!(ns > 0.0f)) {
            break;
        }
        s = ns;
        m = -nb;
        float err = asym_error(x, n, s, m, nmax);
        if (err < *best_err) {
            *best_err = err;
            *best_s = s;
            *best_m = m;
        }
    }
    *s_io = s;
    *m_io = m;
}

/* ---- per-type row functions ---------------------------------------------------------- */

static void quantize_q8_0(const float *x, block_q8_0 *b) {
    float amax = 0.0f;
    for (int j = 0; j < MD_QK8_0; j++) {
        amax = fabsf(x[j]) > amax ? fabsf(x[j]) : amax;
    }
    float id = amax != 0.0f ? 127.0f / amax : 0.0f;
    b->d = md_f32_to_fp16(amax / 127.0f);
    for (int j = 0; j < MD_QK8_0; j++) {
        b->qs[j] = (int8_t)quant_round(x[j] * id, -128, 127);
    }
}

static void quantize_q4_0(const float *x, block_q4_0 *b) {
    float d = fp16_round(sym_fit(x, MD_QK4_0, -8, 7));
    float id = d != 0.0f ? 1.0f / d : 0.0f;
    b->d = md_f32_to_fp16(d);
    for (int j = 0; j < MD_QK4_0 / 2; j++) {
        int q0 = quant_round(x[j] * id, -8, 7) + 8;
        int q1 = quant_round(x[j + MD_QK4_0 / 2] * id, -8, 7) + 8;
        b->qs[j] = (uint8_t)(q0 | (q1 << 4));
    }
}

/* Shared by Q4_K (nmax 15) and Q5_K (nmax 31): fills d, dmin, scales and the levels L. */
static void quantize_k_scales(const float *x, int nmax, uint16_t *d16, uint16_t *dmin16, uint8_t scales[12],
                              uint8_t L[MD_QK_K]) {
    float s[8], m[8], max_s = 0.0f, max_m = 0.0f;
    for (int sb = 0; sb < 8; sb++) {
        asym_fit(x + 32 * sb, 32, nmax, &s[sb], &m[sb]);
        max_s = s[sb] > max_s ? s[sb] : max_s;
        max_m = m[sb] > max_m ? m[sb] : max_m;
    }
    float d = fp16_round(max_s / 63.0f), dmin = fp16_round(max_m / 63.0f);
    *d16 = md_f32_to_fp16(d);
    *dmin16 = md_f32_to_fp16(dmin);
    int ls[8], lm[8];
    for (int sb = 0; sb < 8; sb++) {
        int ls0 = d > 0.0f ? quant_round(s[sb] / d, 0, 63) : 0;
        int lm0 = dmin > 0.0f ? quant_round(m[sb] / dmin, 0, 63) : 0;
        ls[sb] = ls0;
        lm[sb] = lm0;
        /* The 6-bit codes next to the rounded ones can fit better once the values
         * are re-rounded against them: try the 3 × 3 neighbourhood. */
        float best = -1.0f;
        for (int a = ls0 - 1; a <= ls0 + 1; a++) {
            for (int b = lm0 - 1; b <= lm0 + 1; b++) {
                if (a < 0 || a > 63 || b < 0 || b > 63) {
                    continue;
                }
                float err = asym_error(x + 32 * sb, 32, d * (float)a, dmin * (float)b, nmax);
                if (best < 0.0f || err < best) {
                    best = err;
                    ls[sb] = a;
                    lm[sb] = b;
                }
            }
        }
    }
    scale_min_pack(ls, lm, scales);
    /* Final levels against the scales the decoder will use. */
    for (int sb = 0; sb < 8; sb++) {
        float se = d * (float)ls[sb], me = dmin * (float)lm[sb];
        float ise = se > 0.0f ? 1.0f / se : 0.0f;
        for (int l = 0; l < 32; l++) {
            L[32 * sb + l] = (uint8_t)quant_round((x[32 * sb + l] + me) * ise, 0, nmax);
        }
    }
}

static void quantize_q4_K(const float *x, block_q4_K *b) {
    uint8_t L[MD_QK_K];
    quantize_k_scales(x, 15, &b->d, &b->dmin, b->scales, L);
    memset(b->qs, 0, sizeof b->qs);
    for (int sb = 0; sb < 8; sb++) {
        for (int l = 0; l < 32; l++) {
            b->qs[32 * (sb / 2) + l] |= (uint8_t)(L[32 * sb + l] << (4 * (sb & 1)));
        }
    }
}

static void quantize_q5_K(const float *x, block_q5_K *b) {
    uint8_t L[MD_QK_K];
    quantize_k_scales(x, 31, &b->d, &b->dmin, b->scales, L);
    memset(b->qs, 0, sizeof b->qs);
    memset(b->qh, 0, sizeof b->qh);
    for (int sb = 0; sb < 8; sb++) {
        for (int l = 0; l < 32; l++) {
            int q = L[32 * sb + l];
            b->qs[32 * (sb / 2) + l] |= (uint8_t)((q & 0xF) << (4 * (sb & 1)));
            b->qh[l] |= (uint8_t)((q >> 4) << sb);
        }
    }
}

static void quantize_q6_K(const float *x, block_q6_K *b) {
    float s[16], amax_s = 0.0f;
    for (int sb = 0; sb < 16; sb++) {
        s[sb] = sym_fit(x + 16 * sb, 16, -32, 31);
        amax_s = fabsf(s[sb]) > amax_s ? fabsf(s[sb]) : amax_s;
    }
    float d = fp16_round(amax_s / 127.0f);
    b->d = md_f32_to_fp16(d);
    int8_t L[MD_QK_K];
    for (int sb = 0; sb < 16; sb++) {
        int ls = d > 0.0f ? quant_round(s[sb] / d, -128, 127) : 0;
        b->scales[sb] = (int8_t)ls;
        float se = d * (float)ls;
        float ise = se != 0.0f ? 1.0f / se : 0.0f;
        for (int l = 0; l < 16; l++) {
            L[16 * sb + l] = (int8_t)quant_round(x[16 * sb + l] * ise, -32, 31);
        }
    }
    memset(b->ql, 0, sizeof b->ql);
    memset(b->qh, 0, sizeof b->qh);
    for (int p = 0; p < MD_QK_K; p++) {
        int h = p / 128, r = p % 128, k = r / 32, l = r % 32;
        int q = L[p] + 32; /* 0 .. 63 */
        b->ql[64 * h + l + 32 * (k & 1)] |= (uint8_t)((q & 0xF) << (k >= 2 ? 4 : 0));
        b->qh[32 * h + l] |= (uint8_t)((q >> 4) << (2 * k));
    }
}

static void quantize_q8_K(const float *x, block_q8_K *b) {
    float max = signed_absmax(x, MD_QK_K);
    memset(b, 0, sizeof *b);
    if (max == 0.0f) {
        return; /* d = 0, all quants and sums 0 */
    }
    float iscale = -127.0f / max;
    for (int j = 0; j < MD_QK_K; j++) {
        b->qs[j] = (int8_t)quant_round(iscale * x[j], -128, 127);
    }
    for (int g = 0; g < MD_QK_K / 16; g++) {
        int sum = 0;
        for (int l = 0; l < 16; l++) {
            sum += b->qs[16 * g + l];
        }
        b->bsums[g] = (int16_t)sum;
    }
    b->d = 1.0f / iscale;
}

static int q6_level(const block_q6_K *b, int p) {
    int h = p / 128, r = p % 128, k = r / 32, l = r % 32;
    int lo = (b->ql[64 * h + l + 32 * (k & 1)] >> (k >= 2 ? 4 : 0)) & 0xF;
    int hi = (b->qh[32 * h + l] >> (2 * k)) & 3;
    return (lo | (hi << 4)) - 32;
}

static int q4k_level(const uint8_t *qs, int p) {
    int sb = p / 32, l = p % 32;
    return (qs[32 * (sb / 2) + l] >> (4 * (sb & 1))) & 0xF;
}

static int q5k_level(const block_q5_K *b, int p) {
    int sb = p / 32, l = p % 32;
    return q4k_level(b->qs, p) | (((b->qh[l] >> sb) & 1) << 4);
}

/* ---- public entry points --------------------------------------------------------------- */

static bool row_args_ok(md_tensor_type type, const void *a, const void *b, int64_t n, const md_tensor_traits **traits) {
    const md_tensor_traits *t = md_tensor_traits_get((uint32_t)type);
    if (!t || n < 0 || n % t->block_size != 0 || (n > 0 && (!a || !b))) {
        return false;
    }
    *traits = t;
    return true;
}

md_status md_dequantize_row(md_tensor_type type, const void *src, float *dst, int64_t n) {
    const md_tensor_traits *t;
    if (!row_args_ok(type, src, dst, n, &t)) {
        return MD_ERR_INVALID_ARG;
    }
    const uint8_t *p = src;
    if (type == MD_TENSOR_TYPE_F32 && n > 0) {
        memcpy(dst, src, (size_t)n * sizeof(float));
        return MD_OK;
    }
    int64_t nb = n / t->block_size;
    for (int64_t i = 0; i < nb; i++, p += t->block_bytes) {
        float *y = dst + i * t->block_size;
        switch (type) {
        case MD_TENSOR_TYPE_F32: break; /* copied above */
        case MD_TENSOR_TYPE_F16: {
            uint16_t h;
            memcpy(&h, p, 2);
            *y = md_fp16_to_f32(h);
            break;
        }
        case MD_TENSOR_TYPE_BF16: {
            uint16_t h;
            memcpy(&h, p, 2);
            *y = md_bf16_to_f32(h);
            break;
        }
        case MD_TENSOR_TYPE_Q8_0: {
            block_q8_0 b;
            memcpy(&b, p, sizeof b);
            float d = md_fp16_to_f32(b.d);
            for (int j = 0; j < MD_QK8_0; j++) {
                y[j] = d * (float)b.qs[j];
            }
            break;
        }
        case MD_TENSOR_TYPE_Q4_0: {
            block_q4_0 b;
            memcpy(&b, p, sizeof b);
            float d = md_fp16_to_f32(b.d);
            for (int j = 0; j < MD_QK4_0 / 2; j++) {
                y[j] = d * (float)((b.qs[j] & 0xF) - 8);
                y[j + MD_QK4_0 / 2] = d * (float)((b.qs[j] >> 4) - 8);
            }
            break;
        }
        case MD_TENSOR_TYPE_Q4_K: {
            block_q4_K b;
            memcpy(&b, p, sizeof b);
            float d = md_fp16_to_f32(b.d), dmin = md_fp16_to_f32(b.dmin);
            for (int sb = 0; sb < 8; sb++) {
                int sc, m;
                scale_min_get(sb, b.scales, &sc, &m);
                float ds = d * (float)sc, ms = dmin * (float)m;
                for (int j = 32 * sb; j < 32 * sb + 32; j++) {
                    y[j] = ds * (float)q4k_level(b.qs, j) - ms;
                }
            }
            break;
        }
        case MD_TENSOR_TYPE_Q5_K: {
            block_q5_K b;
            memcpy(&b, p, sizeof b);
            float d = md_fp16_to_f32(b.d), dmin = md_fp16_to_f32(b.dmin);
            for (int sb = 0; sb < 8; sb++) {
                int sc, m;
                scale_min_get(sb, b.scales, &sc, &m);
                float ds = d * (float)sc, ms = dmin * (float)m;
                for (int j = 32 * sb; j < 32 * sb + 32; j++) {
                    y[j] = ds * (float)q5k_level(&b, j) - ms;
                }
            }
            break;
        }
        case MD_TENSOR_TYPE_Q6_K: {
            block_q6_K b;
            memcpy(&b, p, sizeof b);
            float d = md_fp16_to_f32(b.d);
            for (int j = 0; j < MD_QK_K; j++) {
                y[j] = d * (float)b.scales[j / 16] * (float)q6_level(&b, j);
            }
            break;
        }
        case MD_TENSOR_TYPE_Q8_K: {
            block_q8_K b;
            memcpy(&b, p, sizeof b);
            for (int j = 0; j < MD_QK_K; j++) {
                y[j] = b.d * (float)b.qs[j];
            }
            break;
        }
        }
    }
    return MD_OK;
}

md_status md_quantize_row(md_tensor_type type, const float *src, void *dst, int64_t n) {
    const md_tensor_traits *t;
    if (!row_args_ok(type, src, dst, n, &t)) {
        return MD_ERR_INVALID_ARG;
    }
    uint8_t *p = dst;
    if (type == MD_TENSOR_TYPE_F32 && n > 0) {
        memcpy(dst, src, (size_t)n * sizeof(float));
        return MD_OK;
    }
    int64_t nb = n / t->block_size;
    for (int64_t i = 0; i < nb; i++, p += t->block_bytes) {
        const float *x = src + i * t->block_size;
        switch (type) {
        case MD_TENSOR_TYPE_F32: break; /* copied above */
        case MD_TENSOR_TYPE_F16: {
            uint16_t h = md_f32_to_fp16(*x);
            memcpy(p, &h, 2);
            break;
        }
        case MD_TENSOR_TYPE_BF16: {
            uint16_t h = md_f32_to_bf16(*x);
            memcpy(p, &h, 2);
            break;
        }
        case MD_TENSOR_TYPE_Q8_0: {
            block_q8_0 b;
            quantize_q8_0(x, &b);
            memcpy(p, &b, sizeof b);
            break;
        }
        case MD_TENSOR_TYPE_Q4_0: {
            block_q4_0 b;
            quantize_q4_0(x, &b);
            memcpy(p, &b, sizeof b);
            break;
        }
        case MD_TENSOR_TYPE_Q4_K: {
            block_q4_K b;
            quantize_q4_K(x, &b);
            memcpy(p, &b, sizeof b);
            break;
        }
        case MD_TENSOR_TYPE_Q5_K: {
            block_q5_K b;
            quantize_q5_K(x, &b);
            memcpy(p, &b, sizeof b);
            break;
        }
        case MD_TENSOR_TYPE_Q6_K: {
            block_q6_K b;
            quantize_q6_K(x, &b);
            memcpy(p, &b, sizeof b);
            break;
        }
        case MD_TENSOR_TYPE_Q8_K: {
            block_q8_K b;
            quantize_q8_K(x, &b);
            memcpy(p, &b, sizeof b);
            break;
        }
        }
    }
    return MD_OK;
}

/* Σ over one K-quant block with mins: d·Σ_s sc[s]·Σ_l q·x − dmin·Σ_s m[s]·Σ_l x, the
 * second sum taken from the activation block's bsums, as ggml does. */
static float dot_k_block(const uint8_t scales[12], uint16_t d16, uint16_t dmin16, const int levels[MD_QK_K],
                         const block_q8_K *x) {
    int32_t sumi = 0, sumi_mins = 0;
    for (int sb = 0; sb < 8; sb++) {
        int sc, m;
        scale_min_get(sb, scales, &sc, &m);
        int32_t s = 0;
        for (int l = 0; l < 32; l++) {
            s += levels[32 * sb + l] * x->qs[32 * sb + l];
        }
        sumi += sc * s;
        sumi_mins += m * (x->bsums[2 * sb] + x->bsums[2 * sb + 1]);
    }
    float d = md_fp16_to_f32(d16) * x->d, dmin = md_fp16_to_f32(dmin16) * x->d;
    return d * (float)sumi - dmin * (float)sumi_mins;
}

md_status md_vec_dot(md_tensor_type type, int64_t n, const void *w_row, const void *x_q, float *out) {
    const md_tensor_traits *t;
    if (!out || !row_args_ok(type, w_row, x_q, n, &t)) {
        return MD_ERR_INVALID_ARG;
    }
    if (!t->weights_ok) {
        return MD_ERR_UNSUPPORTED;
    }
    const uint8_t *w = w_row, *xq = x_q;
    int64_t nb = n / t->block_size;
    const md_tensor_traits *xt = md_tensor_traits_get((uint32_t)t->vec_dot_type);
    double sumd = 0.0; /* float types */
    float sumf = 0.0f; /* quantised types: per-block float, as ggml accumulates */
    for (int64_t i = 0; i < nb; i++, w += t->block_bytes, xq += xt->block_bytes) {
        switch (type) {
        case MD_TENSOR_TYPE_F32: {
            float a, b;
            memcpy(&a, w, 4);
            memcpy(&b, xq, 4);
            sumd += (double)a * (double)b;
            break;
        }
        case MD_TENSOR_TYPE_F16: {
            uint16_t a, b;
            memcpy(&a, w, 2);
            memcpy(&b, xq, 2);
            sumd += (double)md_fp16_to_f32(a) * (double)md_fp16_to_f32(b);
            break;
        }
        case MD_TENSOR_TYPE_BF16: {
            uint16_t a, b;
            memcpy(&a, w, 2);
            memcpy(&b, xq, 2);
            sumd += (double)md_bf16_to_f32(a) * (double)md_bf16_to_f32(b);
            break;
        }
        case MD_TENSOR_TYPE_Q8_0: {
            block_q8_0 a, b;
            memcpy(&a, w, sizeof a);
            memcpy(&b, xq, sizeof b);
            int32_t sumi = 0;
            for (int j = 0; j < MD_QK8_0; j++) {
                sumi += a.qs[j] * b.qs[j];
            }
            sumf += (float)sumi * (md_fp16_to_f32(a.d) * md_fp16_to_f32(b.d));
            break;
        }
        case MD_TENSOR_TYPE_Q4_0: {
            block_q4_0 a;
            block_q8_0 b;
            memcpy(&a, w, sizeof a);
            memcpy(&b, xq, sizeof b);
            int32_t sumi = 0;
            for (int j = 0; j < MD_QK4_0 / 2; j++) {
                sumi += ((a.qs[j] & 0xF) - 8) * b.qs[j];
                sumi += ((a.qs[j] >> 4) - 8) * b.qs[j + MD_QK4_0 / 2];
            }
            sumf += (float)sumi * (md_fp16_to_f32(a.d) * md_fp16_to_f32(b.d));
            break;
        }
        case MD_TENSOR_TYPE_Q4_K: {
            block_q4_K a;
            block_q8_K b;
            memcpy(&a, w, sizeof a);
            memcpy(&b, xq, sizeof b);
            int levels[MD_QK_K];
            for (int j = 0; j < MD_QK_K; j++) {
                levels[j] = q4k_level(a.qs, j);
            }
            sumf += dot_k_block(a.scales, a.d, a.dmin, levels, &b);
            break;
        }
        case MD_TENSOR_TYPE_Q5_K: {
            block_q5_K a;
            block_q8_K b;
            memcpy(&a, w, sizeof a);
            memcpy(&b, xq, sizeof b);
            int levels[MD_QK_K];
            for (int j = 0; j < MD_QK_K; j++) {
                levels[j] = q5k_level(&a, j);
            }
            sumf += dot_k_block(a.scales, a.d, a.dmin, levels, &b);
            break;
        }
        case MD_TENSOR_TYPE_Q6_K: {
            block_q6_K a;
            block_q8_K b;
            memcpy(&a, w, sizeof a);
            memcpy(&b, xq, sizeof b);
            int32_t sumi = 0;
            for (int sb = 0; sb < 16; sb++) {
                int32_t s = 0;
                for (int l = 0; l < 16; l++) {
                    s += q6_level(&a, 16 * sb + l) * b.qs[16 * sb + l];
                }
                sumi += a.scales[sb] * s;
            }
            sumf += md_fp16_to_f32(a.d) * b.d * (float)sumi;
            break;
        }
        case MD_TENSOR_TYPE_Q8_K: break; /* excluded by weights_ok above */
        }
    }
    *out = t->is_quantized ? sumf : (float)sumd;
    return MD_OK;
}
