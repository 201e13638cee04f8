/* AVX-512 (F, BW, VL) distance kernels, compiled with per-function target attributes and
 * only called after CPUID said the CPU has them (vec_distance.c). Tails use masked
 * loads, so there is no scalar loop. */
#include "search/vec_kernels.h"

#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

#define AVX512_TARGET __attribute__((target("avx512f,avx512bw,avx512vl")))

AVX512_TARGET static inline __mmask16 tail_mask(size_t n_left) { return (__mmask16)((1u << n_left) - 1u); }

AVX512_TARGET static float dot_f32_avx512(const float *a, const float *b, size_t n) {
    __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), s0);
        s1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16), s1);
    }
    for (; i + 16 <= n; i += 16) {
        s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), s0);
    }
    if (i < n) {
        __mmask16 m = tail_mask(n - i);
        s1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i), s1);
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
}

AVX512_TARGET static float l2sq_f32_avx512(const float *a, const float *b, size_t n) {
    __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        __m512 d0 = _mm512_sub_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i));
        __m512 d1 = _mm512_sub_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16));
        s0 = _mm512_fmadd_ps(d0, d0, s0);
        s1 = _mm512_fmadd_ps(d1, d1, s1);
    }
    for (; i + 16 <= n; i += 16) {
        __m512 d0 = _mm512_sub_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i));
        s0 = _mm512_fmadd_ps(d0, d0, s0);
    }
    if (i < n) {
        __mmask16 m = tail_mask(n - i);
        __m512 d0 = _mm512_sub_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i));
        s1 = _mm512_fmadd_ps(d0, d0, s1);
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
}

AVX512_TARGET static float dot_f32_u8_avx512(const float *a, const uint8_t *codes, size_t n) {
    __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        __m128i c0 = _mm_loadu_si128((const __m128i *)(const void *)(codes + i));
        __m128i c1 = _mm_loadu_si128((const __m128i *)(const void *)(codes + i + 16));
        s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(c0)), s0);
        s1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 16), _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(c1)), s1);
    }
    for (; i < n; i += 16) {
        size_t n_left = n - i < 16 ? n - i : 16;
        __mmask16 m = tail_mask(n_left);
        __m128i c = _mm_maskz_loadu_epi8(m, codes + i);
        s0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(c)), s0);
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
}

static const mdv_kernels KERNELS_AVX512 = {
    .name = "avx512",
    .dot_f32 = dot_f32_avx512,
    .l2sq_f32 = l2sq_f32_avx512,
    .dot_f32_u8 = dot_f32_u8_avx512,
};

const mdv_kernels *mdv_kernels_avx512(void) { return &KERNELS_AVX512; }

#else

const mdv_kernels *mdv_kernels_avx512(void) { return NULL; }

#endif
