/* kernels_avx512.c: AVX-512 (F, BW, VL) + VNNI row kernels (kernels.h), compiled with
 * per-function target attributes; only reached after kernels_dispatch.c saw the
 * features in CPUID.
 *
 * What changes against kernels_avx2.c:
 *  - float rows (F32, F16, BF16) run 16 lanes at a time;
 *  - Q8_0 and Q4_0 take two blocks per 512-bit register and sum the byte products
 *    with vpdpbusd (unsigned × signed bytes, four products into one int32, no
 *    intermediate saturation), using the same "sign moves onto the activation" trick;
 *  - Q4_K, Q5_K and Q6_K handle two sub-block pairs per 512-bit register (Q4_K: the
 *    nibbles of qs[64i..64i+64) are sub-blocks 4i..4i+3; Q6_K: one 128-element half
 *    per pair of registers), scaling the int16 pair sums with vpmaddwd as before.
 *  - 4-token variants (vec_dot_x4) of Q8_0, Q4_K, Q5_K and Q6_K unpack each weight
 *    block once for four activation rows, with each row's arithmetic exactly that
 *    of the one-row kernel (the batched product relies on this).
 * The activation quantisers are the AVX2 ones (a row is quantised once per product,
 * their cost does not show). As in kernels_avx2.c the K-quants reduce each block's
 * integer sums exactly and then take the reference's float steps (bit-identical
 * results); Q8_0/Q4_0 scale in float lanes.
 */
#include "engine/kernels.h"

#include <pthread.h>
#include <string.h>

#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

#define AVX512_TARGET __attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")))

AVX512_TARGET static inline float load_fp16(const uint8_t *p) {
    uint16_t h;
    memcpy(&h, p, 2);
    return _cvtsh_ss(h);
}

AVX512_TARGET static inline __m256i loadu256(const uint8_t *p) {
    return _mm256_loadu_si256((const __m256i *)(const void *)p);
}

/* Two 32-byte pieces into one register: a in the low half, b in the high. */
AVX512_TARGET static inline __m512i join256(__m256i a, __m256i b) {
    return _mm512_inserti64x4(_mm512_castsi256_si512(a), b, 1);
}

/* ---- float rows ------------------------------------------------------------------------ */

AVX512_TARGET static inline __m512 load16_f32(const void *p) { return _mm512_loadu_ps(p); }

AVX512_TARGET static inline __m512 load16_f16(const uint16_t *p) {
    return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(const void *)p));
}

AVX512_TARGET static inline __m512 load16_bf16(const uint16_t *p) {
    const __m512i v = _mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)(const void *)p));
    return _mm512_castsi512_ps(_mm512_slli_epi32(v, 16));
}

#define WIDE_DOT(NAME, ELEM, LOAD16, SCALAR)                                                \
    AVX512_TARGET static void NAME(int64_t n, const void *wv, const void *xv, float *out) { \
        const ELEM *w = wv, *x = xv;                                                        \
        __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;                         \
        int64_t i = 0;                                                                      \
        for (; i + 64 <= n; i += 64) {                                                      \
            a0 = _mm512_fmadd_ps(LOAD16(w + i), LOAD16(x + i), a0);                         \
            a1 = _mm512_fmadd_ps(LOAD16(w + i + 16), LOAD16(x + i + 16), a1);               \
            a2 = _mm512_fmadd_ps(LOAD16(w + i + 32), LOAD16(x + i + 32), a2);               \
            a3 = _mm512_fmadd_ps(LOAD16(w + i + 48), LOAD16(x + i + 48), a3);               \
        }                                                                                   \
        for (; i + 16 <= n; i += 16)                                                        \
            a0 = _mm512_fmadd_ps(LOAD16(w + i), LOAD16(x + i), a0);                         \
        float s = _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3))); \
        for (; i < n; i++)                                                                  \
            s += SCALAR(w[i]) * SCALAR(x[i]);                                               \
        *out = s;                                                                           \
    }

static inline float f32_id(float v) { return v; }
WIDE_DOT(vec_dot_f32, float, load16_f32, f32_id)
WIDE_DOT(vec_dot_f16, uint16_t, load16_f16, md_fp16_to_f32)
WIDE_DOT(vec_dot_bf16, uint16_t, load16_bf16, md_bf16_to_f32)

/* ---- Q8_0, Q4_0 -------------------------------------------------------------------------- */

/* Σ of each 4 consecutive w·x (signed bytes) as 16 int32. */
AVX512_TARGET static inline __m512i dot_i8_64(__m512i w, __m512i x) {
    const __m512i zero = _mm512_setzero_si512();
    const __mmask64 neg = _mm512_movepi8_mask(w); /* sign bits of w */
    const __m512i aw = _mm512_abs_epi8(w);
    const __m512i sx = _mm512_mask_sub_epi8(x, neg, zero, x); /* x where w >= 0, −x where w < 0 */
    return _mm512_dpbusd_epi32(zero, aw, sx);
}

/* Scale of two blocks (d0 in the low 8 lanes, d1 in the high 8). */
AVX512_TARGET static inline __m512 two_scales(float d0, float d1) {
    return _mm512_castpd_ps(
        _mm512_insertf64x4(_mm512_castps_pd(_mm512_set1_ps(d0)), _mm256_castps_pd(_mm256_set1_ps(d1)), 1));
}

AVX512_TARGET static void vec_dot_q8_0(int64_t n, const void *wv, const void *xv, float *out) {
    const uint8_t *w = wv, *x = xv;
    const int64_t nb = n / MD_QK8_0;
    const size_t bb = MD_Q8_0_BLOCK_BYTES;
    __m512 acc = _mm512_setzero_ps();
    int64_t i = 0;
    for (; i + 2 <= nb; i += 2, w += 2 * bb, x += 2 * bb) {
        const __m512i p = dot_i8_64(join256(loadu256(w + 2), loadu256(w + bb + 2)),
                                    join256(loadu256(x + 2), loadu256(x + bb + 2)));
        const __m512 d = two_scales(load_fp16(w) * load_fp16(x), load_fp16(w + bb) * load_fp16(x + bb));
        acc = _mm512_fmadd_ps(d, _mm512_cvtepi32_ps(p), acc);
    }
    float s = _mm512_reduce_add_ps(acc);
    if (i < nb) { /* odd block count: the last block in the low half, zeros above */
        const __m512i p = dot_i8_64(_mm512_zextsi256_si512(loadu256(w + 2)), _mm512_zextsi256_si512(loadu256(x + 2)));
        const __m512 d = _mm512_set1_ps(load_fp16(w) * load_fp16(x));
        s += _mm512_reduce_add_ps(_mm512_mul_ps(d, _mm512_cvtepi32_ps(p)));
    }
    *out = s;
}

/* vec_dot_q8_0 for 4 activation rows: the weight bytes' magnitudes and signs are
 * taken once per block pair; each row's arithmetic is vec_dot_q8_0's. */
AVX512_TARGET static void vec_dot_q8_0_x4(int64_t n, const void *wv, const void *xv, size_t xs, float out[4]) {
    const uint8_t *w = wv, *x = xv;
    const int64_t nb = n / MD_QK8_0;
    const size_t bb = MD_Q8_0_BLOCK_BYTES;
    const __m512i zero = _mm512_setzero_si512();
    __m512 acc[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps()};
    int64_t i = 0;
    for (; i + 2 <= nb; i += 2, w += 2 * bb, x += 2 * bb) {
        const __m512i wq = join256(loadu256(w + 2), loadu256(w + bb + 2));
        const __mmask64 neg = _mm512_movepi8_mask(wq);
        const __m512i aw = _mm512_abs_epi8(wq);
        const float w0 = load_fp16(w), w1 = load_fp16(w + bb);
        for (int t = 0; t < 4; t++) {
            const uint8_t *xt = x + (size_t)t * xs;
            const __m512i xq = join256(loadu256(xt + 2), loadu256(xt + bb + 2));
            const __m512i p = _mm512_dpbusd_epi32(zero, aw, _mm512_mask_sub_epi8(xq, neg, zero, xq));
            acc[t] = _mm512_fmadd_ps(two_scales(w0 * load_fp16(xt), w1 * load_fp16(xt + bb)), _mm512_cvtepi32_ps(p), acc[t]);
        }
    }
    for (int t = 0; t < 4; t++) {
        float s = _mm512_reduce_add_ps(acc[t]);
        if (i < nb) {
            const uint8_t *xt = x + (size_t)t * xs;
            const __m512i p = dot_i8_64(_mm512_zextsi256_si512(loadu256(w + 2)), _mm512_zextsi256_si512(loadu256(xt + 2)));
            s += _mm512_reduce_add_ps(_mm512_mul_ps(_mm512_set1_ps(load_fp16(w) * load_fp16(xt)), _mm512_cvtepi32_ps(p)));
        }
        out[t] = s;
    }
}

/* The 32 levels of a Q4_0 block minus 8 (element order), as signed bytes. */
AVX512_TARGET static inline __m256i q4_0_levels(const uint8_t *qs) {
    const __m128i raw = _mm_loadu_si128((const __m128i *)(const void *)qs);
    const __m128i m4 = _mm_set1_epi8(0x0F);
    const __m256i v = _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(raw, 4), m4), _mm_and_si128(raw, m4));
    return _mm256_sub_epi8(v, _mm256_set1_epi8(8));
}

AVX512_TARGET static void vec_dot_q4_0(int64_t n, const void *wv, const void *xv, float *out) {
    const uint8_t *w = wv, *x = xv;
    const int64_t nb = n / MD_QK4_0;
    const size_t wb = MD_Q4_0_BLOCK_BYTES, xb = MD_Q8_0_BLOCK_BYTES;
    __m512 acc = _mm512_setzero_ps();
    int64_t i = 0;
    for (; i + 2 <= nb; i += 2, w += 2 * wb, x += 2 * xb) {
        const __m512i p = dot_i8_64(join256(q4_0_levels(w + 2), q4_0_levels(w + wb + 2)),
                                    join256(loadu256(x + 2), loadu256(x + xb + 2)));
        const __m512 d = two_scales(load_fp16(w) * load_fp16(x), load_fp16(w + wb) * load_fp16(x + xb));
        acc = _mm512_fmadd_ps(d, _mm512_cvtepi32_ps(p), acc);
    }
    float s = _mm512_reduce_add_ps(acc);
    if (i < nb) {
        const __m512i p = dot_i8_64(_mm512_zextsi256_si512(q4_0_levels(w + 2)), _mm512_zextsi256_si512(loadu256(x + 2)));
        s += _mm512_reduce_add_ps(_mm512_mul_ps(_mm512_set1_ps(load_fp16(w) * load_fp16(x)), _mm512_cvtepi32_ps(p)));
    }
    *out = s;
}

/* ---- K-quants ------------------------------------------------------------------------------ */

static inline void k_scales_unpack(const uint8_t *packed, uint8_t sc[8], uint8_t m[8]) {
    uint32_t u[3];
    memcpy(u, packed, 12);
    const uint32_t sc_lo = u[0] & 0x3f3f3f3fu, m_lo = u[1] & 0x3f3f3f3fu;
    const uint32_t sc_hi = (u[2] & 0x0f0f0f0fu) | (((u[0] >> 6) & 0x03030303u) << 4);
    const uint32_t m_hi = ((u[2] >> 4) & 0x0f0f0f0fu) | (((u[1] >> 6) & 0x03030303u) << 4);
    for (int k = 0; k < 4; k++) {
        sc[k] = (uint8_t)(sc_lo >> (8 * k));
        sc[k + 4] = (uint8_t)(sc_hi >> (8 * k));
        m[k] = (uint8_t)(m_lo >> (8 * k));
        m[k + 4] = (uint8_t)(m_hi >> (8 * k));
    }
}

AVX512_TARGET static inline __m512i two_scales_i16(int a, int b) {
    return join256(_mm256_set1_epi16((short)a), _mm256_set1_epi16((short)b));
}

/* Σ_s m[s]·(bsums[2s] + bsums[2s+1]) as 4 int32 lanes. */
AVX512_TARGET static inline __m128i k_mins_dot(const uint8_t m[8], const uint8_t *bsums) {
    const __m128i b0 = _mm_loadu_si128((const __m128i *)(const void *)bsums);
    const __m128i b1 = _mm_loadu_si128((const __m128i *)(const void *)(bsums + 16));
    uint64_t m64;
    memcpy(&m64, m, 8);
    const __m128i mins = _mm_cvtepu8_epi16(_mm_cvtsi64_si128((long long)m64));
    return _mm_madd_epi16(mins, _mm_hadd_epi16(b0, b1));
}

AVX512_TARGET static inline float dot_k_rows(int64_t n, const uint8_t *w, const uint8_t *x, size_t block_bytes,
                                             size_t qh_off, size_t qs_off) {
    const int64_t nb = n / MD_QK_K;
    const __m512i m4 = _mm512_set1_epi8(0x0F), sixteen = _mm512_set1_epi8(16);
    float sumf = 0.0f;
    for (int64_t i = 0; i < nb; i++, w += block_bytes, x += MD_Q8_K_BLOCK_BYTES) {
        float yd;
        memcpy(&yd, x, 4);
        uint8_t sc[8], m[8];
        k_scales_unpack(w + 4, sc, m);
        __m128i mins4 = k_mins_dot(m, x + 4 + MD_QK_K);
        mins4 = _mm_add_epi32(mins4, _mm_shuffle_epi32(mins4, 0x4E));
        mins4 = _mm_add_epi32(mins4, _mm_shuffle_epi32(mins4, 0xB1));
        const int32_t sumi_mins = _mm_cvtsi128_si32(mins4);
        const uint8_t *qs = w + qs_off, *y = x + 4;
        const __m256i hv256 = qh_off ? loadu256(w + qh_off) : _mm256_setzero_si256();
        const __m512i hv = join256(hv256, hv256);
        __m512i sumi = _mm512_setzero_si512();
        for (int j = 0; j < 2; j++) {
            /* sub-blocks 4j (low nibbles, low half), 4j+2 (low, high half),
             * 4j+1 (high nibbles, low half), 4j+3 (high, high half) */
            const __m512i q = _mm512_loadu_si512((const void *)(qs + 64 * j));
            __m512i lo = _mm512_and_si512(q, m4);
            __m512i hi = _mm512_and_si512(_mm512_srli_epi16(q, 4), m4);
            if (qh_off) {
                const int s = 4 * j;
                const __m512i bl = join256(_mm256_set1_epi8((char)(1u << s)), _mm256_set1_epi8((char)(1u << (s + 2))));
                const __m512i bh =
                    join256(_mm256_set1_epi8((char)(1u << (s + 1))), _mm256_set1_epi8((char)(1u << (s + 3))));
                lo = _mm512_or_si512(lo, _mm512_maskz_mov_epi8(_mm512_test_epi8_mask(hv, bl), sixteen));
                hi = _mm512_or_si512(hi, _mm512_maskz_mov_epi8(_mm512_test_epi8_mask(hv, bh), sixteen));
            }
            const __m512i ylo = join256(loadu256(y + 128 * j), loadu256(y + 128 * j + 64));
            const __m512i yhi = join256(loadu256(y + 128 * j + 32), loadu256(y + 128 * j + 96));
            const __m512i p0 = _mm512_madd_epi16(_mm512_maddubs_epi16(lo, ylo), two_scales_i16(sc[4 * j], sc[4 * j + 2]));
            const __m512i p1 =
                _mm512_madd_epi16(_mm512_maddubs_epi16(hi, yhi), two_scales_i16(sc[4 * j + 1], sc[4 * j + 3]));
            sumi = _mm512_add_epi32(sumi, _mm512_add_epi32(p0, p1));
        }
        const float d = load_fp16(w) * yd, dmin = load_fp16(w + 2) * yd;
        sumf += d * (float)_mm512_reduce_add_epi32(sumi) - dmin * (float)sumi_mins; /* the reference's steps */
    }
    return sumf;
}

/* dot_k_rows for 4 activation rows (x + t·xs): nibbles, high bits and scales are
 * unpacked once per block; each row's integer sums and float steps are dot_k_rows'. */
AVX512_TARGET static inline void dot_k_rows_x4(int64_t n, const uint8_t *w, const uint8_t *x, size_t xs,
                                               size_t block_bytes, size_t qh_off, size_t qs_off, float out[4]) {
    const int64_t nb = n / MD_QK_K;
    const __m512i m4 = _mm512_set1_epi8(0x0F), sixteen = _mm512_set1_epi8(16);
    float sumf[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    for (int64_t i = 0; i < nb; i++, w += block_bytes, x += MD_Q8_K_BLOCK_BYTES) {
        uint8_t sc[8], m[8];
        k_scales_unpack(w + 4, sc, m);
        const uint8_t *qs = w + qs_off;
        const __m256i hv256 = qh_off ? loadu256(w + qh_off) : _mm256_setzero_si256();
        const __m512i hv = join256(hv256, hv256);
        __m512i sumi[4] = {_mm512_setzero_si512(), _mm512_setzero_si512(), _mm512_setzero_si512(),
                           _mm512_setzero_si512()};
        for (int j = 0; j < 2; j++) {
            const __m512i q = _mm512_loadu_si512((const void *)(qs + 64 * j));
            __m512i lo = _mm512_and_si512(q, m4);
            __m512i hi = _mm512_and_si512(_mm512_srli_epi16(q, 4), m4);
            if (qh_off) {
                const int s = 4 * j;
                const __m512i bl = join256(_mm256_set1_epi8((char)(1u << s)), _mm256_set1_epi8((char)(1u << (s + 2))));
                const __m512i bh =
                    join256(_mm256_set1_epi8((char)(1u << (s + 1))), _mm256_set1_epi8((char)(1u << (s + 3))));
                lo = _mm512_or_si512(lo, _mm512_maskz_mov_epi8(_mm512_test_epi8_mask(hv, bl), sixteen));
                hi = _mm512_or_si512(hi, _mm512_maskz_mov_epi8(_mm512_test_epi8_mask(hv, bh), sixteen));
            }
            const __m512i s_lo = two_scales_i16(sc[4 * j], sc[4 * j + 2]);
            const __m512i s_hi = two_scales_i16(sc[4 * j + 1], sc[4 * j + 3]);
            for (int t = 0; t < 4; t++) {
                const uint8_t *y = x + (size_t)t * xs + 4;
                const __m512i ylo = join256(loadu256(y + 128 * j), loadu256(y + 128 * j + 64));
                const __m512i yhi = join256(loadu256(y + 128 * j + 32), loadu256(y + 128 * j + 96));
                const __m512i p0 = _mm512_madd_epi16(_mm512_maddubs_epi16(lo, ylo), s_lo);
                const __m512i p1 = _mm512_madd_epi16(_mm512_maddubs_epi16(hi, yhi), s_hi);
                sumi[t] = _mm512_add_epi32(sumi[t], _mm512_add_epi32(p0, p1));
            }
        }
        const float wd = load_fp16(w), wdmin = load_fp16(w + 2);
        for (int t = 0; t < 4; t++) {
            const uint8_t *xt = x + (size_t)t * xs;
            float yd;
            memcpy(&yd, xt, 4);
            __m128i mins4 = k_mins_dot(m, xt + 4 + MD_QK_K);
            mins4 = _mm_add_epi32(mins4, _mm_shuffle_epi32(mins4, 0x4E));
            mins4 = _mm_add_epi32(mins4, _mm_shuffle_epi32(mins4, 0xB1));
            const int32_t sumi_mins = _mm_cvtsi128_si32(mins4);
            const float d = wd * yd, dmin = wdmin * yd;
            sumf[t] += d * (float)_mm512_reduce_add_epi32(sumi[t]) - dmin * (float)sumi_mins;
        }
    }
    memcpy(out, sumf, sizeof sumf);
}

AVX512_TARGET static void vec_dot_q4_K_x4(int64_t n, const void *w, const void *x, size_t xs, float out[4]) {
    dot_k_rows_x4(n, w, x, xs, MD_Q4_K_BLOCK_BYTES, 0, 16, out);
}

AVX512_TARGET static void vec_dot_q5_K_x4(int64_t n, const void *w, const void *x, size_t xs, float out[4]) {
    dot_k_rows_x4(n, w, x, xs, MD_Q5_K_BLOCK_BYTES, 16, 48, out);
}

AVX512_TARGET static void vec_dot_q4_K(int64_t n, const void *w, const void *x, float *out) {
    *out = dot_k_rows(n, w, x, MD_Q4_K_BLOCK_BYTES, 0, 16);
}

AVX512_TARGET static void vec_dot_q5_K(int64_t n, const void *w, const void *x, float *out) {
    *out = dot_k_rows(n, w, x, MD_Q5_K_BLOCK_BYTES, 16, 48);
}

AVX512_TARGET static void vec_dot_q6_K(int64_t n, const void *wv, const void *xv, float *out) {
    const uint8_t *w = wv, *x = xv;
    const int64_t nb = n / MD_QK_K;
    const __m512i m4 = _mm512_set1_epi8(0x0F), m2 = _mm512_set1_epi8(3);
    /* top bits of the low-half elements sit at bits 0-1 (k = 0) and 2-3 (k = 1) of qh,
     * those of the high-half ones at bits 4-5 and 6-7 */
    const __m512i sh_a = join256(_mm256_set1_epi16(0), _mm256_set1_epi16(2));
    const __m512i sh_b = join256(_mm256_set1_epi16(4), _mm256_set1_epi16(6));
    /* int16 lane l of a product takes the scale of its sub-block: l / 8 */
    const __m512i sc_idx = _mm512_set_epi16(3, 3, 3, 3, 3, 3, 3, 3, 2, 2, 2, 2, 2, 2, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1, 0,
                                            0, 0, 0, 0, 0, 0, 0);
    float sumf = 0.0f;
    for (int64_t i = 0; i < nb; i++, w += MD_Q6_K_BLOCK_BYTES, x += MD_Q8_K_BLOCK_BYTES) {
        float yd;
        memcpy(&yd, x, 4);
        const int8_t *sc = (const int8_t *)(w + 192);
        const uint8_t *y = x + 4;
        __m512i sumi = _mm512_setzero_si512();
        for (int h = 0; h < 2; h++) {
            /* ql[64h..64h+64): low nibbles = elements 0-63 of the half, high = 64-127 */
            const __m512i ql = _mm512_loadu_si512((const void *)(w + 64 * h));
            const __m256i qh256 = loadu256(w + 128 + 32 * h);
            const __m512i qh = join256(qh256, qh256);
            const __m512i top_a = _mm512_and_si512(_mm512_srlv_epi16(qh, sh_a), m2);
            const __m512i top_b = _mm512_and_si512(_mm512_srlv_epi16(qh, sh_b), m2);
            const __m512i qa = _mm512_or_si512(_mm512_and_si512(ql, m4), _mm512_slli_epi16(top_a, 4));
            const __m512i qb =
                _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(ql, 4), m4), _mm512_slli_epi16(top_b, 4));
            uint32_t s4a, s4b;
            memcpy(&s4a, sc + 8 * h, 4);
            memcpy(&s4b, sc + 8 * h + 4, 4);
            const __m512i sca =
                _mm512_permutexvar_epi16(sc_idx, _mm512_castsi128_si512(_mm_cvtepi8_epi16(_mm_cvtsi32_si128((int)s4a))));
            const __m512i scb =
                _mm512_permutexvar_epi16(sc_idx, _mm512_castsi128_si512(_mm_cvtepi8_epi16(_mm_cvtsi32_si128((int)s4b))));
            const __m512i pa = _mm512_maddubs_epi16(qa, _mm512_loadu_si512((const void *)(y + 128 * h)));
            const __m512i pb = _mm512_maddubs_epi16(qb, _mm512_loadu_si512((const void *)(y + 128 * h + 64)));
            sumi = _mm512_add_epi32(sumi, _mm512_add_epi32(_mm512_madd_epi16(pa, sca), _mm512_madd_epi16(pb, scb)));
        }
        /* levels were taken as q + 32: subtract 32·Σ_s sc[s]·Σ x of sub-block s */
        const __m256i sc16 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(const void *)sc));
        const __m256i corr = _mm256_madd_epi16(sc16, loadu256(y + MD_QK_K));
        sumi = _mm512_sub_epi32(sumi, _mm512_zextsi256_si512(_mm256_slli_epi32(corr, 5)));
        sumf += load_fp16(w + 208) * yd * (float)_mm512_reduce_add_epi32(sumi);
    }
    *out = sumf;
}

/* vec_dot_q6_K for 4 activation rows (x + t·xs): levels and scales unpacked once per
 * half-block; each row's integer sums and float steps are vec_dot_q6_K's. */
AVX512_TARGET static void vec_dot_q6_K_x4(int64_t n, const void *wv, const void *xv, size_t xs, float out[4]) {
    const uint8_t *w = wv, *x = xv;
    const int64_t nb = n / MD_QK_K;
    const __m512i m4 = _mm512_set1_epi8(0x0F), m2 = _mm512_set1_epi8(3);
    const __m512i sh_a = join256(_mm256_set1_epi16(0), _mm256_set1_epi16(2));
    const __m512i sh_b = join256(_mm256_set1_epi16(4), _mm256_set1_epi16(6));
    const __m512i sc_idx = _mm512_set_epi16(3, 3, 3, 3, 3, 3, 3, 3, 2, 2, 2, 2, 2, 2, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1, 0,
                                            0, 0, 0, 0, 0, 0, 0);
    float sumf[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    for (int64_t i = 0; i < nb; i++, w += MD_Q6_K_BLOCK_BYTES, x += MD_Q8_K_BLOCK_BYTES) {
        const int8_t *sc = (const int8_t *)(w + 192);
        __m512i sumi[4] = {_mm512_setzero_si512(), _mm512_setzero_si512(), _mm512_setzero_si512(),
                           _mm512_setzero_si512()};
        for (int h = 0; h < 2; h++) {
            const __m512i ql = _mm512_loadu_si512((const void *)(w + 64 * h));
            const __m256i qh256 = loadu256(w + 128 + 32 * h);
            const __m512i qh = join256(qh256, qh256);
            const __m512i top_a = _mm512_and_si512(_mm512_srlv_epi16(qh, sh_a), m2);
            const __m512i top_b = _mm512_and_si512(_mm512_srlv_epi16(qh, sh_b), m2);
            const __m512i qa = _mm512_or_si512(_mm512_and_si512(ql, m4), _mm512_slli_epi16(top_a, 4));
            const __m512i qb =
                _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(ql, 4), m4), _mm512_slli_epi16(top_b, 4));
            uint32_t s4a, s4b;
            memcpy(&s4a, sc + 8 * h, 4);
            memcpy(&s4b, sc + 8 * h + 4, 4);
            const __m512i sca =
                _mm512_permutexvar_epi16(sc_idx, _mm512_castsi128_si512(_mm_cvtepi8_epi16(_mm_cvtsi32_si128((int)s4a))));
            const __m512i scb =
                _mm512_permutexvar_epi16(sc_idx, _mm512_castsi128_si512(_mm_cvtepi8_epi16(_mm_cvtsi32_si128((int)s4b))));
            for (int t = 0; t < 4; t++) {
                const uint8_t *y = x + (size_t)t * xs + 4;
                const __m512i pa = _mm512_maddubs_epi16(qa, _mm512_loadu_si512((const void *)(y + 128 * h)));
                const __m512i pb = _mm512_maddubs_epi16(qb, _mm512_loadu_si512((const void *)(y + 128 * h + 64)));
                sumi[t] =
                    _mm512_add_epi32(sumi[t], _mm512_add_epi32(_mm512_madd_epi16(pa, sca), _mm512_madd_epi16(pb, scb)));
            }
        }
        const __m256i sc16 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(const void *)sc));
        const float wd = load_fp16(w + 208);
        for (int t = 0; t < 4; t++) {
            const uint8_t *xt = x + (size_t)t * xs;
            float yd;
            memcpy(&yd, xt, 4);
            const __m256i corr = _mm256_madd_epi16(sc16, loadu256(xt + 4 + MD_QK_K));
            const __m512i si = _mm512_sub_epi32(sumi[t], _mm512_zextsi256_si512(_mm256_slli_epi32(corr, 5)));
            sumf[t] += wd * yd * (float)_mm512_reduce_add_epi32(si);
        }
    }
    memcpy(out, sumf, sizeof sumf);
}

static md_kernels g_avx512;
static pthread_once_t g_avx512_once = PTHREAD_ONCE_INIT;

static void avx512_table_init(void) {
    const md_kernels *base = md_kernels_avx2_table();
    if (base) g_avx512 = *base; /* the quantisers */
    g_avx512.level = MD_CPU_LEVEL_AVX512;
    g_avx512.name = "avx512";
    g_avx512.vec_dot[MD_TENSOR_TYPE_F32] = vec_dot_f32;
    g_avx512.vec_dot[MD_TENSOR_TYPE_F16] = vec_dot_f16;
    g_avx512.vec_dot[MD_TENSOR_TYPE_BF16] = vec_dot_bf16;
    g_avx512.vec_dot[MD_TENSOR_TYPE_Q8_0] = vec_dot_q8_0;
    g_avx512.vec_dot[MD_TENSOR_TYPE_Q4_0] = vec_dot_q4_0;
    g_avx512.vec_dot[MD_TENSOR_TYPE_Q4_K] = vec_dot_q4_K;
    g_avx512.vec_dot[MD_TENSOR_TYPE_Q5_K] = vec_dot_q5_K;
    g_avx512.vec_dot[MD_TENSOR_TYPE_Q6_K] = vec_dot_q6_K;
    g_avx512.vec_dot_x4[MD_TENSOR_TYPE_Q8_0] = vec_dot_q8_0_x4;
    g_avx512.vec_dot_x4[MD_TENSOR_TYPE_Q4_K] = vec_dot_q4_K_x4;
    g_avx512.vec_dot_x4[MD_TENSOR_TYPE_Q5_K] = vec_dot_q5_K_x4;
    g_avx512.vec_dot_x4[MD_TENSOR_TYPE_Q6_K] = vec_dot_q6_K_x4;
}

const md_kernels *md_kernels_avx512_table(void) {
    if (!md_kernels_avx2_table()) return NULL;
    pthread_once(&g_avx512_once, avx512_table_init);
    return &g_avx512;
}

#else

const md_kernels *md_kernels_avx512_table(void) { return NULL; }

#endif
