/* kernels_avx2.c: AVX2 + FMA + F16C row kernels (kernels.h), compiled with per-function
 * target attributes so the rest of the library needs no -mavx2; only reached after
 * kernels_dispatch.c saw the features in CPUID.
 *
 * Integer dot products use the unsigned × signed byte multiply-add (vpmaddubsw):
 * 4-bit, 5-bit and 6-bit weight levels are unsigned already; for Q8_0 and Q4_0 the
 * sign of each weight byte moves onto the activation byte (|w| · sign(w)·x), which is
 * exact while the activation is not −128 (the activation quantisers give −127..127;
 * only a block whose scale rounds to 0 can hold −128, and it contributes 0 anyway).
 * Pairs of products summed to int16 cannot saturate for these ranges (2·63·128 <
 * 2^15). The 16-bit pair sums are multiplied by the sub-block scales with vpmaddwd,
 * so each block's integer sum is exact. Q8_0/Q4_0 apply the float scale per block in
 * 8 float lanes (as ggml does: the lanes' rounding is bounded by Σ|w·x|); the
 * K-quants reduce each super-block's integer sums to one int32 and then take the
 * reference's float steps, so their results are bit-identical to md_vec_dot (the
 * reduction costs little next to 256 elements, and a block's lanes can cancel).
 *
 * K-quant layouts (tensor.h, quants_ref.c): Q4_K/Q5_K bytes qs[32j..32j+32) hold
 * sub-block 2j in the low and 2j+1 in the high nibbles, whose activations are
 * x[64j..64j+32) and x[64j+32..64j+64). Q6_K half h: ql[64h..64h+32) low nibbles =
 * elements 0-31, high = 64-95; ql[64h+32..64h+64) low = 32-63, high = 96-127; bits 2k
 * of qh[32h + l] are the top bits of element 32k + l.
 */
#include "engine/kernels.h"

#include <math.h>
#include <string.h>

#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

#define AVX2_TARGET __attribute__((target("avx2,fma,f16c")))

AVX2_TARGET static inline float hsum_ps(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

AVX2_TARGET static inline float hmax_ps(__m256 v) {
    __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_max_ps(s, _mm_movehl_ps(s, s));
    s = _mm_max_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

AVX2_TARGET static inline float load_fp16(const uint8_t *p) {
    uint16_t h;
    memcpy(&h, p, 2);
    return _cvtsh_ss(h);
}

AVX2_TARGET static inline __m256i loadu256(const uint8_t *p) { return _mm256_loadu_si256((const __m256i *)(const void *)p); }

/* Σ of each 4 consecutive w[i]·x[i] (signed bytes) as 8 int32. */
AVX2_TARGET static inline __m256i dot_i8_32(__m256i w, __m256i x) {
    const __m256i p16 = _mm256_maddubs_epi16(_mm256_sign_epi8(w, w), _mm256_sign_epi8(x, w));
    return _mm256_madd_epi16(p16, _mm256_set1_epi16(1));
}

/* ---- float rows ------------------------------------------------------------------------ */

AVX2_TARGET static void vec_dot_f32(int64_t n, const void *wv, const void *xv, float *out) {
    const float *w = wv, *x = xv;
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        a0 = _mm256_fmadd_ps(_mm256_loadu_ps(w + i), _mm256_loadu_ps(x + i), a0);
        a1 = _mm256_fmadd_ps(_mm256_loadu_ps(w + i + 8), _mm256_loadu_ps(x + i + 8), a1);
        a2 = _mm256_fmadd_ps(_mm256_loadu_ps(w + i + 16), _mm256_loadu_ps(x + i + 16), a2);
        a3 = _mm256_fmadd_ps(_mm256_loadu_ps(w + i + 24), _mm256_loadu_ps(x + i + 24), a3);
    }
    for (; i + 8 <= n; i += 8)
        a0 = _mm256_fmadd_ps(_mm256_loadu_ps(w + i), _mm256_loadu_ps(x + i), a0);
    float s = hsum_ps(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
    for (; i < n; i++)
        s += w[i] * x[i];
    *out = s;
}

AVX2_TARGET static inline __m256 load8_f16(const uint16_t *p) {
    return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(const void *)p));
}

AVX2_TARGET static inline __m256 load8_bf16(const uint16_t *p) {
    const __m256i v = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(const void *)p));
    return _mm256_castsi256_ps(_mm256_slli_epi32(v, 16));
}

#define HALF_DOT(NAME, LOAD8, SCALAR)                                                     \
    AVX2_TARGET static void NAME(int64_t n, const void *wv, const void *xv, float *out) { \
        const uint16_t *w = wv, *x = xv;                                                  \
        __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;                       \
        int64_t i = 0;                                                                    \
        for (; i + 32 <= n; i += 32) {                                                    \
            a0 = _mm256_fmadd_ps(LOAD8(w + i), LOAD8(x + i), a0);                         \
            a1 = _mm256_fmadd_ps(LOAD8(w + i + 8), LOAD8(x + i + 8), a1);                 \
            a2 = _mm256_fmadd_ps(LOAD8(w + i + 16), LOAD8(x + i + 16), a2);               \
            a3 = _mm256_fmadd_ps(LOAD8(w + i + 24), LOAD8(x + i + 24), a3);               \
        }                                                                                 \
        for (; i + 8 <= n; i += 8)                                                        \
            a0 = _mm256_fmadd_ps(LOAD8(w + i), LOAD8(x + i), a0);                         \
        float s = hsum_ps(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));   \
        for (; i < n; i++)                                                                \
            s += SCALAR(w[i]) * SCALAR(x[i]);                                             \
        *out = s;                                                                         \
    }
HALF_DOT(vec_dot_f16, load8_f16, md_fp16_to_f32)
HALF_DOT(vec_dot_bf16, load8_bf16, md_bf16_to_f32)

/* ---- Q8_0, Q4_0 -------------------------------------------------------------------------- */

AVX2_TARGET static void vec_dot_q8_0(int64_t n, const void *wv, const void *xv, float *out) {
    const uint8_t *w = wv, *x = xv;
    const int64_t nb = n / MD_QK8_0;
    __m256 acc0 = _mm256_setzero_ps(), acc1 = acc0;
    int64_t i = 0;
    for (; i + 2 <= nb; i += 2, w += 2 * MD_Q8_0_BLOCK_BYTES, x += 2 * MD_Q8_0_BLOCK_BYTES) {
        const __m256i p0 = dot_i8_32(loadu256(w + 2), loadu256(x + 2));
        const __m256i p1 = dot_i8_32(loadu256(w + MD_Q8_0_BLOCK_BYTES + 2), loadu256(x + MD_Q8_0_BLOCK_BYTES + 2));
        acc0 = _mm256_fmadd_ps(_mm256_set1_ps(load_fp16(w) * load_fp16(x)), _mm256_cvtepi32_ps(p0), acc0);
        acc1 = _mm256_fmadd_ps(_mm256_set1_ps(load_fp16(w + MD_Q8_0_BLOCK_BYTES) * load_fp16(x + MD_Q8_0_BLOCK_BYTES)),
                               _mm256_cvtepi32_ps(p1), acc1);
    }
    for (; i < nb; i++, w += MD_Q8_0_BLOCK_BYTES, x += MD_Q8_0_BLOCK_BYTES) {
        const __m256i p = dot_i8_32(loadu256(w + 2), loadu256(x + 2));
        acc0 = _mm256_fmadd_ps(_mm256_set1_ps(load_fp16(w) * load_fp16(x)), _mm256_cvtepi32_ps(p), acc0);
    }
    *out = hsum_ps(_mm256_add_ps(acc0, acc1));
}

/* The 32 levels of a Q4_0 block minus 8 (element order), as signed bytes. */
AVX2_TARGET static inline __m256i q4_0_levels(const uint8_t *qs) {
    const __m128i raw = _mm_loadu_si128((const __m128i *)(const void *)qs);
    const __m128i m4 = _mm_set1_epi8(0x0F);
    const __m256i v = _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(raw, 4), m4), _mm_and_si128(raw, m4));
    return _mm256_sub_epi8(v, _mm256_set1_epi8(8));
}

AVX2_TARGET static void vec_dot_q4_0(int64_t n, const void *wv, const void *xv, float *out) {
    const uint8_t *w = wv, *x = xv;
    const int64_t nb = n / MD_QK4_0;
    __m256 acc = _mm256_setzero_ps();
    for (int64_t i = 0; i < nb; i++, w += MD_Q4_0_BLOCK_BYTES, x += MD_Q8_0_BLOCK_BYTES) {
        const __m256i p = dot_i8_32(q4_0_levels(w + 2), loadu256(x + 2));
        acc = _mm256_fmadd_ps(_mm256_set1_ps(load_fp16(w) * load_fp16(x)), _mm256_cvtepi32_ps(p), acc);
    }
    *out = hsum_ps(acc);
}

/* ---- K-quants ------------------------------------------------------------------------------ */

/* Unpacks the twelve scale bytes of a Q4_K/Q5_K block into sc[0..7] and m[0..7]
 * (the packing is described in quants_ref.c). */
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

/* Σ_s m[s]·(bsums[2s] + bsums[2s+1]) of a Q8_K block, as 4 int32 lanes. */
AVX2_TARGET static inline __m128i k_mins_dot(const uint8_t m[8], const uint8_t *bsums) {
    const __m128i b0 = _mm_loadu_si128((const __m128i *)(const void *)bsums);
    const __m128i b1 = _mm_loadu_si128((const __m128i *)(const void *)(bsums + 16));
    uint64_t m64;
    memcpy(&m64, m, 8);
    const __m128i mins = _mm_cvtepu8_epi16(_mm_cvtsi64_si128((long long)m64));
    return _mm_madd_epi16(mins, _mm_hadd_epi16(b0, b1));
}

/* One Q4_K/Q5_K super-block's Σ sc[s]·Σ q·x as 8 int32 lanes; hbits (Q5_K) or NULL. */
AVX2_TARGET static inline __m256i k_block_sum(const uint8_t *qs, const uint8_t *qh, const uint8_t sc[8],
                                              const uint8_t *y) {
    const __m256i m4 = _mm256_set1_epi8(0x0F);
    const __m256i hv = qh ? loadu256(qh) : _mm256_setzero_si256();
    __m256i sumi = _mm256_setzero_si256();
    for (int j = 0; j < 4; j++) {
        const __m256i q = loadu256(qs + 32 * j);
        __m256i lo = _mm256_and_si256(q, m4);
        __m256i hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), m4);
        if (qh) {
            const __m256i bl = _mm256_set1_epi8((char)(1u << (2 * j)));
            const __m256i bh = _mm256_set1_epi8((char)(1u << (2 * j + 1)));
            const __m256i sixteen = _mm256_set1_epi8(16);
            lo = _mm256_or_si256(lo, _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(hv, bl), bl), sixteen));
            hi = _mm256_or_si256(hi, _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(hv, bh), bh), sixteen));
        }
        const __m256i p0 = _mm256_madd_epi16(_mm256_maddubs_epi16(lo, loadu256(y + 64 * j)),
                                             _mm256_set1_epi16(sc[2 * j]));
        const __m256i p1 = _mm256_madd_epi16(_mm256_maddubs_epi16(hi, loadu256(y + 64 * j + 32)),
                                             _mm256_set1_epi16(sc[2 * j + 1]));
        sumi = _mm256_add_epi32(sumi, _mm256_add_epi32(p0, p1));
    }
    return sumi;
}

AVX2_TARGET static inline int32_t hsum_epi32(__m256i v) {
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4E));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xB1));
    return _mm_cvtsi128_si32(s);
}

AVX2_TARGET static inline int32_t hsum_epi32_128(__m128i s) {
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4E));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xB1));
    return _mm_cvtsi128_si32(s);
}

/* Q4_K (qh_off 0) and Q5_K: d·Σ sc·Σ q·x − dmin·Σ m·Σ x per super-block, the integer
 * sums reduced exactly and the float steps those of the reference (bit-identical). */
AVX2_TARGET static inline float dot_k_rows(int64_t n, const uint8_t *w, const uint8_t *x, size_t block_bytes,
                                           size_t qh_off, size_t qs_off) {
    const int64_t nb = n / MD_QK_K;
    float sumf = 0.0f;
    for (int64_t i = 0; i < nb; i++, w += block_bytes, x += MD_Q8_K_BLOCK_BYTES) {
        float yd;
        memcpy(&yd, x, 4);
        uint8_t sc[8], m[8];
        k_scales_unpack(w + 4, sc, m);
        const int32_t sumi_mins = hsum_epi32_128(k_mins_dot(m, x + 4 + MD_QK_K));
        const int32_t sumi = hsum_epi32(k_block_sum(w + qs_off, qh_off ? w + qh_off : NULL, sc, x + 4));
        const float d = load_fp16(w) * yd, dmin = load_fp16(w + 2) * yd;
        sumf += d * (float)sumi - dmin * (float)sumi_mins;
    }
    return sumf;
}

AVX2_TARGET static void vec_dot_q4_K(int64_t n, const void *w, const void *x, float *out) {
    *out = dot_k_rows(n, w, x, MD_Q4_K_BLOCK_BYTES, 0, 16);
}

AVX2_TARGET static void vec_dot_q5_K(int64_t n, const void *w, const void *x, float *out) {
    *out = dot_k_rows(n, w, x, MD_Q5_K_BLOCK_BYTES, 16, 48);
}

AVX2_TARGET static void vec_dot_q6_K(int64_t n, const void *wv, const void *xv, float *out) {
    const uint8_t *w = wv, *x = xv;
    const int64_t nb = n / MD_QK_K;
    const __m256i m4 = _mm256_set1_epi8(0x0F), m2 = _mm256_set1_epi8(3);
    float sumf = 0.0f;
    for (int64_t i = 0; i < nb; i++, w += MD_Q6_K_BLOCK_BYTES, x += MD_Q8_K_BLOCK_BYTES) {
        float yd;
        memcpy(&yd, x, 4);
        const int8_t *sc = (const int8_t *)(w + 192);
        const uint8_t *y = x + 4;
        __m256i sumi = _mm256_setzero_si256();
        for (int h = 0; h < 2; h++) {
            const __m256i q0 = loadu256(w + 64 * h), q1 = loadu256(w + 64 * h + 32);
            const __m256i qh = loadu256(w + 128 + 32 * h);
            const __m256i nib[4] = {_mm256_and_si256(q0, m4), _mm256_and_si256(q1, m4),
                                    _mm256_and_si256(_mm256_srli_epi16(q0, 4), m4),
                                    _mm256_and_si256(_mm256_srli_epi16(q1, 4), m4)};
            for (int k = 0; k < 4; k++) {
                const __m256i top = _mm256_and_si256(_mm256_srli_epi16(qh, 2 * k), m2);
                const __m256i q = _mm256_or_si256(nib[k], _mm256_slli_epi16(top, 4));
                const int s = 8 * h + 2 * k;
                const __m256i scv = _mm256_set_m128i(_mm_set1_epi16(sc[s + 1]), _mm_set1_epi16(sc[s]));
                const __m256i p = _mm256_maddubs_epi16(q, loadu256(y + 128 * h + 32 * k));
                sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(p, scv));
            }
        }
        /* The levels were taken as q + 32: subtract 32·Σ_s sc[s]·Σ x of sub-block s. */
        const __m256i sc16 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(const void *)sc));
        const __m256i corr = _mm256_madd_epi16(sc16, loadu256(y + MD_QK_K));
        sumi = _mm256_sub_epi32(sumi, _mm256_slli_epi32(corr, 5));
        sumf += load_fp16(w + 208) * yd * (float)hsum_epi32(sumi); /* the reference's steps */
    }
    *out = sumf;
}

/* ---- activation quantisers ------------------------------------------------------------- */

/* round-half-even(clamp(v, −128, 127)) with NaN → 0, as quant_round (quants_ref.c). */
AVX2_TARGET static inline __m256i round_clamp_i8(__m256 v) {
    v = _mm256_and_ps(v, _mm256_cmp_ps(v, v, _CMP_ORD_Q));
    v = _mm256_min_ps(_mm256_max_ps(v, _mm256_set1_ps(-128.0f)), _mm256_set1_ps(127.0f));
    return _mm256_cvtps_epi32(_mm256_round_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
}

/* Four vectors of 8 int32 (values in −128..127) → 32 bytes in element order. */
AVX2_TARGET static inline __m256i pack_i8(__m256i a, __m256i b, __m256i c, __m256i d) {
    const __m256i ab = _mm256_packs_epi32(a, b), cd = _mm256_packs_epi32(c, d);
    return _mm256_permutevar8x32_epi32(_mm256_packs_epi16(ab, cd), _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

AVX2_TARGET static inline __m256 abs_ps(__m256 v) { return _mm256_andnot_ps(_mm256_set1_ps(-0.0f), v); }

AVX2_TARGET static void quantize_q8_0(const float *x, void *dst, int64_t n) {
    uint8_t *out = dst;
    for (int64_t i = 0; i < n / MD_QK8_0; i++, x += MD_QK8_0, out += MD_Q8_0_BLOCK_BYTES) {
        __m256 v[4], amax_v = _mm256_setzero_ps();
        for (int k = 0; k < 4; k++) {
            v[k] = _mm256_loadu_ps(x + 8 * k);
            amax_v = _mm256_max_ps(abs_ps(v[k]), amax_v); /* NaN lanes keep amax_v */
        }
        const float amax = hmax_ps(amax_v);
        const float id = amax != 0.0f ? 127.0f / amax : 0.0f;
        const uint16_t d16 = md_f32_to_fp16(amax / 127.0f);
        memcpy(out, &d16, 2);
        const __m256 idv = _mm256_set1_ps(id);
        const __m256i q = pack_i8(round_clamp_i8(_mm256_mul_ps(v[0], idv)), round_clamp_i8(_mm256_mul_ps(v[1], idv)),
                                  round_clamp_i8(_mm256_mul_ps(v[2], idv)), round_clamp_i8(_mm256_mul_ps(v[3], idv)));
        _mm256_storeu_si256((__m256i *)(void *)(out + 2), q);
    }
}

AVX2_TARGET static void quantize_q8_K(const float *x, void *dst, int64_t n) {
    uint8_t *out = dst;
    for (int64_t i = 0; i < n / MD_QK_K; i++, x += MD_QK_K, out += MD_Q8_K_BLOCK_BYTES) {
        __m256 amax_v = _mm256_setzero_ps();
        for (int k = 0; k < MD_QK_K; k += 8)
            amax_v = _mm256_max_ps(abs_ps(_mm256_loadu_ps(x + k)), amax_v);
        const float amax = hmax_ps(amax_v);
        if (amax == 0.0f) {
            memset(out, 0, MD_Q8_K_BLOCK_BYTES);
            continue;
        }
        float max = 0.0f; /* the first value of largest magnitude, with its sign */
        for (int k = 0; k < MD_QK_K; k++) {
            if (fabsf(x[k]) == amax) {
                max = x[k];
                break;
            }
        }
        const float iscale = -127.0f / max;
        const __m256 isv = _mm256_set1_ps(iscale);
        int16_t bsums[MD_QK_K / 16];
        for (int k = 0; k < MD_QK_K; k += 32) {
            const __m256i q = pack_i8(round_clamp_i8(_mm256_mul_ps(_mm256_loadu_ps(x + k), isv)),
                                      round_clamp_i8(_mm256_mul_ps(_mm256_loadu_ps(x + k + 8), isv)),
                                      round_clamp_i8(_mm256_mul_ps(_mm256_loadu_ps(x + k + 16), isv)),
                                      round_clamp_i8(_mm256_mul_ps(_mm256_loadu_ps(x + k + 24), isv)));
            _mm256_storeu_si256((__m256i *)(void *)(out + 4 + k), q);
            /* sums of 4 bytes → int32 lanes 0-3 (first 16 bytes) and 4-7 (next 16) */
            const __m256i s4 = _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_set1_epi8(1), q), _mm256_set1_epi16(1));
            int32_t s[8];
            _mm256_storeu_si256((__m256i *)(void *)s, s4);
            bsums[k / 16] = (int16_t)(s[0] + s[1] + s[2] + s[3]);
            bsums[k / 16 + 1] = (int16_t)(s[4] + s[5] + s[6] + s[7]);
        }
        const float d = 1.0f / iscale;
        memcpy(out, &d, 4);
        memcpy(out + 4 + MD_QK_K, bsums, sizeof bsums);
    }
}

AVX2_TARGET static void quantize_f16(const float *x, void *dst, int64_t n) {
    uint16_t *out = dst;
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm_storeu_si128((__m128i *)(void *)(out + i), _mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT));
    for (; i < n; i++)
        out[i] = md_f32_to_fp16(x[i]);
}

static void quantize_bf16(const float *x, void *dst, int64_t n) {
    uint16_t *out = dst;
    for (int64_t i = 0; i < n; i++)
        out[i] = md_f32_to_bf16(x[i]);
}

static void quantize_f32(const float *x, void *dst, int64_t n) {
    if (n > 0) memcpy(dst, x, (size_t)n * sizeof(float));
}

/* Four double lanes = the reference's four partial sums; the tail goes into lane 0. */
AVX2_TARGET static double dot_f32_f64(const float *a, const float *b, size_t n) {
    __m256d acc = _mm256_setzero_pd();
    size_t i = 0;
    for (; i + 4 <= n; i += 4)
        acc = _mm256_fmadd_pd(_mm256_cvtps_pd(_mm_loadu_ps(a + i)), _mm256_cvtps_pd(_mm_loadu_ps(b + i)), acc);
    double s[4];
    _mm256_storeu_pd(s, acc);
    for (; i < n; i++)
        s[0] += (double)a[i] * (double)b[i];
    return (s[0] + s[1]) + (s[2] + s[3]);
}

static const md_kernels k_avx2 = {
    .level = MD_CPU_LEVEL_AVX2,
    .name = "avx2",
    .vec_dot =
        {
            [MD_TENSOR_TYPE_F32] = vec_dot_f32,
            [MD_TENSOR_TYPE_F16] = vec_dot_f16,
            [MD_TENSOR_TYPE_BF16] = vec_dot_bf16,
            [MD_TENSOR_TYPE_Q8_0] = vec_dot_q8_0,
            [MD_TENSOR_TYPE_Q4_0] = vec_dot_q4_0,
            [MD_TENSOR_TYPE_Q4_K] = vec_dot_q4_K,
            [MD_TENSOR_TYPE_Q5_K] = vec_dot_q5_K,
            [MD_TENSOR_TYPE_Q6_K] = vec_dot_q6_K,
        },
    .quantize =
        {
            [MD_TENSOR_TYPE_F32] = quantize_f32,
            [MD_TENSOR_TYPE_F16] = quantize_f16,
            [MD_TENSOR_TYPE_BF16] = quantize_bf16,
            [MD_TENSOR_TYPE_Q8_0] = quantize_q8_0,
            [MD_TENSOR_TYPE_Q8_K] = quantize_q8_K,
        },
    .dot_f32_f64 = dot_f32_f64,
};

const md_kernels *md_kernels_avx2_table(void) { return &k_avx2; }

#else

const md_kernels *md_kernels_avx2_table(void) { return NULL; }

#endif
