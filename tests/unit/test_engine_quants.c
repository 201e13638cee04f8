/* Tensor types and the scalar reference kernels: the traits table; fp16/bf16
 * conversion edge cases (rounding ties, subnormals, overflow, Inf, NaN) and, where
 * the compiler has _Float16, agreement with it on random bit patterns; hand-built
 * blocks decoded against the layouts written out the way ggml's loops walk them (so a
 * quantiser and a dequantiser sharing one index bug cannot pass together); quantise →
 * dequantise error bounds per type on Gaussian data (fixed seed); the activation
 * quantisers' ggml rounding rules; md_vec_dot against a float64 dot of the
 * dequantised rows. Layout compatibility with files llama.cpp wrote is checked in
 * test_engine_gguf.c on the fixture models. */
#include "check.h"
#include "medify/tensor.h"

#include <float.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Relative RMS error bounds of quantise → dequantise on N(0,1) data (16384 values,
 * seed 20251128), per type: the measured value (printed by the test) plus ~20 %, so a
 * quantiser that gets worse fails. Measured with gcc 12: F16 2.09e-4, BF16 1.67e-3,
 * Q8_0 5.32e-3, Q4_0 8.13e-2, Q4_K 6.91e-2, Q5_K 3.43e-2, Q6_K 1.69e-2, Q8_K 6.92e-3. */
#define TOL_RMS_F16  2.5e-4
#define TOL_RMS_BF16 2.0e-3
#define TOL_RMS_Q8_0 6.4e-3
#define TOL_RMS_Q4_0 9.8e-2
#define TOL_RMS_Q4_K 8.3e-2
#define TOL_RMS_Q5_K 4.1e-2
#define TOL_RMS_Q6_K 2.0e-2
#define TOL_RMS_Q8_K 8.3e-3
/* Sub-blocks 8× smaller than their neighbours keep their own precision: error relative
 * to their own RMS within this factor of the type's bound. */
#define TOL_SUBBLOCK_FACTOR 2.0
/* md_vec_dot vs the float64 dot of the dequantised rows, relative to Σ|w·x|: float
 * accumulation of per-block results (and the float products of the scales). */
#define TOL_VEC_DOT_REL 1.0e-5

/* ---- deterministic Gaussian data ----------------------------------------------------- */

static uint64_t rng_state;

static uint64_t rng_next(void) { /* splitmix64 */
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static double rng_uniform(void) { return ((double)(rng_next() >> 11) + 0.5) / 9007199254740992.0; }

static float rng_gauss(void) { /* Box-Muller */
    double u = rng_uniform(), v = rng_uniform();
    return (float)(sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v));
}

static float from_bits(uint32_t u) {
    float f;
    memcpy(&f, &u, 4);
    return f;
}

/* ---- traits ---------------------------------------------------------------------------- */

static void test_traits(void) {
    static const struct {
        md_tensor_type type;
        const char *name;
        uint32_t block, bytes;
        md_tensor_type dot;
    } want[] = {
        {MD_TENSOR_TYPE_F32, "F32", 1, 4, MD_TENSOR_TYPE_F32},
        {MD_TENSOR_TYPE_F16, "F16", 1, 2, MD_TENSOR_TYPE_F16},
        {MD_TENSOR_TYPE_BF16, "BF16", 1, 2, MD_TENSOR_TYPE_BF16},
        {MD_TENSOR_TYPE_Q8_0, "Q8_0", 32, 34, MD_TENSOR_TYPE_Q8_0},
        {MD_TENSOR_TYPE_Q4_0, "Q4_0", 32, 18, MD_TENSOR_TYPE_Q8_0},
        {MD_TENSOR_TYPE_Q4_K, "Q4_K", 256, 144, MD_TENSOR_TYPE_Q8_K},
        {MD_TENSOR_TYPE_Q5_K, "Q5_K", 256, 176, MD_TENSOR_TYPE_Q8_K},
        {MD_TENSOR_TYPE_Q6_K, "Q6_K", 256, 210, MD_TENSOR_TYPE_Q8_K},
        {MD_TENSOR_TYPE_Q8_K, "Q8_K", 256, 292, MD_TENSOR_TYPE_Q8_K},
    };
    CHECK_EQ_INT(MD_ARRAY_LEN(want), MD_TENSOR_TYPE_N_KNOWN);
    for (size_t i = 0; i < MD_ARRAY_LEN(want); i++) {
        const md_tensor_traits *t = md_tensor_traits_get(want[i].type);
        CHECK(t != NULL);
        if (!t) {
            continue;
        }
        CHECK_EQ_STR(t->name, want[i].name);
        CHECK_EQ_INT(t->block_size, want[i].block);
        CHECK_EQ_INT(t->block_bytes, want[i].bytes);
        CHECK_EQ_INT(t->vec_dot_type, want[i].dot);
        CHECK_EQ_STR(md_tensor_type_name(want[i].type), want[i].name);
        md_tensor_type back;
        CHECK(md_tensor_type_from_name(want[i].name, &back) && back == want[i].type);
    }
    int n_known = 0;
    for (uint32_t id = 0; id < 64; id++) {
        n_known += md_tensor_traits_get(id) != NULL;
    }
    CHECK_EQ_INT(n_known, MD_TENSOR_TYPE_N_KNOWN);
    CHECK(md_tensor_traits_get(3) == NULL);    /* Q4_1: a ggml type medify does not support */
    CHECK(md_tensor_traits_get(1000) == NULL); /* not a ggml type at all */
    CHECK_EQ_STR(md_tensor_type_name(3), "unknown");
    CHECK(!md_tensor_type_from_name("Q4_1", NULL));
    CHECK(!md_tensor_traits_get(MD_TENSOR_TYPE_Q8_K)->weights_ok);

    uint64_t n;
    CHECK(md_tensor_row_bytes(MD_TENSOR_TYPE_Q4_K, 4096, &n) && n == 16 * 144);
    CHECK(md_tensor_row_bytes(MD_TENSOR_TYPE_F16, 3, &n) && n == 6);
    CHECK(!md_tensor_row_bytes(MD_TENSOR_TYPE_Q4_K, 255, &n));           /* not a whole block */
    CHECK(!md_tensor_row_bytes(MD_TENSOR_TYPE_F32, UINT64_MAX / 2, &n)); /* overflow */
    CHECK(!md_tensor_row_bytes(7, 32, &n));                              /* Q5_1: unknown */
}

/* ---- fp16 / bf16 ------------------------------------------------------------------------ */

static void test_fp16(void) {
    static const struct {
        float f;
        uint16_t h;
    } cases[] = {
        {0.0f, 0x0000},
        {1.0f, 0x3c00},
        {-2.0f, 0xc000},
        {65504.0f, 0x7bff},   /* largest finite */
        {65519.996f, 0x7bff}, /* just below the halfway point to 65536 */
        {65520.0f, 0x7c00},   /* halfway: ties to even → overflow to Inf */
        {1e6f, 0x7c00},       /* overflow */
        {-1e6f, 0xfc00},
        {6.103515625e-05f, 0x0400},         /* 2^-14, smallest normal */
        {5.9604644775390625e-08f, 0x0001},  /* 2^-24, smallest subnormal */
        {2.98023223876953125e-08f, 0x0000}, /* 2^-25: tie between 0 and 2^-24 → even (0) */
        {4.470348358154297e-08f, 0x0001},   /* 1.5·2^-25 rounds up */
        {6.097555160522461e-05f, 0x03ff},   /* 1023·2^-24, largest subnormal */
        {1e-10f, 0x0000},                   /* far below: ±0 */
        {1.00048828125f, 0x3c00},           /* 1 + 2^-11: tie → even mantissa (1.0) */
        {1.00146484375f, 0x3c02},           /* 1 + 3·2^-11: tie → even (1 + 2^-9) */
        {1.0009765625f, 0x3c01},            /* exactly representable */
    };
    for (size_t i = 0; i < MD_ARRAY_LEN(cases); i++) {
        uint16_t h = md_f32_to_fp16(cases[i].f);
        CHECK_MSG(h == cases[i].h, "fp16(%.10g) = 0x%04x, want 0x%04x", cases[i].f, h, cases[i].h);
    }
    CHECK_EQ_INT(md_f32_to_fp16(-0.0f), 0x8000);
    CHECK_EQ_INT(md_f32_to_fp16(from_bits(0x7f800000u)), 0x7c00); /* +Inf */
    CHECK_EQ_INT(md_f32_to_fp16(from_bits(0xff800000u)), 0xfc00); /* -Inf */
    uint16_t hn = md_f32_to_fp16(from_bits(0x7fc00000u));
    CHECK((hn & 0x7c00) == 0x7c00 && (hn & 0x03ff) != 0); /* NaN stays NaN */
    hn = md_f32_to_fp16(from_bits(0xff800001u));          /* signalling, payload in the low bits only */
    CHECK((hn & 0x7c00) == 0x7c00 && (hn & 0x03ff) != 0 && (hn & 0x8000));
    /* (1023.5)·2^-24: tie between the largest subnormal and the smallest normal → even */
    CHECK_EQ_INT(md_f32_to_fp16(6.1005353927612305e-05f), 0x0400);

    /* Every fp16 value converts to f32 exactly and back to itself; NaNs stay NaNs. */
    int n_bad = 0;
    for (uint32_t h = 0; h < 0x10000; h++) {
        float f = md_fp16_to_f32((uint16_t)h);
        bool is_nan = (h & 0x7c00) == 0x7c00 && (h & 0x3ff);
        if (is_nan) {
            n_bad += !isnan(f);
            uint16_t back = md_f32_to_fp16(f);
            n_bad += !((back & 0x7c00) == 0x7c00 && (back & 0x3ff));
        } else {
            n_bad += md_f32_to_fp16(f) != h;
        }
    }
    CHECK_EQ_INT(n_bad, 0);
    CHECK(md_fp16_to_f32(0x0001) == 5.9604644775390625e-08f);
    CHECK(md_fp16_to_f32(0x7bff) == 65504.0f);
    CHECK(isinf(md_fp16_to_f32(0xfc00)) && md_fp16_to_f32(0xfc00) < 0);
    CHECK(signbit(md_fp16_to_f32(0x8000)));

#if defined(__FLT16_MAX__)
    /* An independent oracle: the compiler's own binary32 → binary16 conversion. */
    rng_state = 42;
    int n_diff = 0;
    for (int i = 0; i < 200000; i++) {
        uint32_t u = (uint32_t)rng_next();
        if (i % 2) { /* half the samples near the fp16 range, where rounding happens */
            u = (u & 0x807fffffu) | ((uint32_t)(100 + (u >> 23) % 50) << 23);
        }
        float f = from_bits(u);
        if (isnan(f)) {
            continue;
        }
        _Float16 ref = (_Float16)f;
        uint16_t rb;
        memcpy(&rb, &ref, 2);
        n_diff += md_f32_to_fp16(f) != rb;
    }
    CHECK_EQ_INT(n_diff, 0);
#else
    fprintf(stderr, "test_engine_quants: no _Float16 here; fp16 oracle comparison skipped\n");
#endif
}

static void test_bf16(void) {
    CHECK_EQ_INT(md_f32_to_bf16(1.0f), 0x3f80);
    CHECK_EQ_INT(md_f32_to_bf16(-0.0f), 0x8000);
    CHECK_EQ_INT(md_f32_to_bf16(from_bits(0x3f808000u)), 0x3f80); /* tie → even */
    CHECK_EQ_INT(md_f32_to_bf16(from_bits(0x3f818000u)), 0x3f82); /* tie → even (up) */
    CHECK_EQ_INT(md_f32_to_bf16(from_bits(0x3f808001u)), 0x3f81); /* above the tie */
    CHECK_EQ_INT(md_f32_to_bf16(from_bits(0x7f800000u)), 0x7f80); /* Inf */
    CHECK_EQ_INT(md_f32_to_bf16(from_bits(0x7f7fffffu)), 0x7f80); /* FLT_MAX rounds up to Inf */
    CHECK_EQ_INT(md_f32_to_bf16(from_bits(0x00010000u)), 0x0001); /* subnormal kept */
    uint16_t n = md_f32_to_bf16(from_bits(0x7f800001u));          /* NaN with payload only in the low half */
    CHECK((n & 0x7f80) == 0x7f80 && (n & 0x7f) != 0);
    CHECK(md_bf16_to_f32(0x3f80) == 1.0f);
    CHECK(isnan(md_bf16_to_f32(0x7fc0)));
    int n_bad = 0;
    for (uint32_t h = 0; h < 0x10000; h++) {
        bool is_nan = (h & 0x7f80) == 0x7f80 && (h & 0x7f);
        uint16_t back = md_f32_to_bf16(md_bf16_to_f32((uint16_t)h));
        n_bad += is_nan ? !((back & 0x7f80) == 0x7f80 && (back & 0x7f)) : back != h;
    }
    CHECK_EQ_INT(n_bad, 0);
}

/* ---- hand-built blocks ---------------------------------------------------------------- */

static void put16(uint8_t *p, uint16_t v) { memcpy(p, &v, 2); }

/* Q4_0 and Q8_0: one block each, values from the definition. */
static void test_blocks_simple(void) {
    uint8_t q4[18];
    put16(q4, 0x3800); /* d = 0.5 */
    for (int j = 0; j < 16; j++) {
        q4[2 + j] = (uint8_t)(j | ((15 - j) << 4));
    }
    float y[32];
    CHECK(md_dequantize_row(MD_TENSOR_TYPE_Q4_0, q4, y, 32) == MD_OK);
    for (int j = 0; j < 16; j++) {
        CHECK(y[j] == 0.5f * (float)(j - 8));
        CHECK(y[j + 16] == 0.5f * (float)(15 - j - 8));
    }
    uint8_t q8[34];
    put16(q8, 0xc000); /* d = -2 */
    for (int j = 0; j < 32; j++) {
        q8[2 + j] = (uint8_t)(int8_t)(j * 8 - 128);
    }
    CHECK(md_dequantize_row(MD_TENSOR_TYPE_Q8_0, q8, y, 32) == MD_OK);
    for (int j = 0; j < 32; j++) {
        CHECK(y[j] == -2.0f * (float)(j * 8 - 128));
    }
}

/* Scales and mins of a K-quant block: sc[s] = 3 + 7s (0..52), m[s] = 60 - 5s; chosen
 * so sub-blocks 4-7 have values >= 16 and use the packed high bits. */
static int k_sc(int s) { return 3 + 7 * s; }
static int k_m(int s) { return 60 - 5 * s; }

static void pack_k_scales(uint8_t q[12]) {
    memset(q, 0, 12);
    for (int s = 0; s < 8; s++) {
        int sc = k_sc(s), m = k_m(s);
        if (s < 4) {
            q[s] |= (uint8_t)sc;
            q[s + 4] |= (uint8_t)m;
        } else {
            q[s + 4] |= (uint8_t)((sc & 15) | ((m & 15) << 4));
            q[s - 4] |= (uint8_t)((sc >> 4) << 6);
            q[s] |= (uint8_t)((m >> 4) << 6);
        }
    }
}

static void test_blocks_k(void) {
    /* Q4_K as ggml's dequantiser walks it: per 64 values, 32 low nibbles then the 32
     * high nibbles of the same 32 bytes. Quant of value j: (j·7 + 3) mod 16. */
    uint8_t b4[144] = {0};
    put16(b4, 0x3400);     /* d = 0.25 */
    put16(b4 + 2, 0x2c00); /* dmin = 0.0625 */
    pack_k_scales(b4 + 4);
    float want[256], y[256];
    int j = 0;
    for (int chunk = 0; chunk < 4; chunk++) {
        uint8_t *qs = b4 + 16 + 32 * chunk;
        for (int half = 0; half < 2; half++) {
            int s = 2 * chunk + half;
            for (int l = 0; l < 32; l++, j++) {
                int q = (j * 7 + 3) % 16;
                qs[l] |= (uint8_t)(half ? q << 4 : q);
                want[j] = 0.25f * (float)k_sc(s) * (float)q - 0.0625f * (float)k_m(s);
            }
        }
    }
    CHECK(md_dequantize_row(MD_TENSOR_TYPE_Q4_K, b4, y, 256) == MD_OK);
    int n_bad = 0;
    for (int i = 0; i < 256; i++) {
        n_bad += y[i] != want[i];
    }
    CHECK_EQ_INT(n_bad, 0);

    /* Q5_K: the same, plus a 5th bit from qh: in chunk c the low half uses bit 2c and
     * the high half bit 2c+1 of qh[l]. Quant of value j: (j·11 + 5) mod 32. */
    uint8_t b5[176] = {0};
    put16(b5, 0x3400);
    put16(b5 + 2, 0x2c00);
    pack_k_scales(b5 + 4);
    j = 0;
    for (int chunk = 0; chunk < 4; chunk++) {
        uint8_t *qs = b5 + 48 + 32 * chunk;
        uint8_t *qh = b5 + 16;
        for (int half = 0; half < 2; half++) {
            int s = 2 * chunk + half;
            for (int l = 0; l < 32; l++, j++) {
                int q = (j * 11 + 5) % 32;
                qs[l] |= (uint8_t)(half ? (q & 15) << 4 : (q & 15));
                qh[l] |= (uint8_t)((q >> 4) << (2 * chunk + half));
                want[j] = 0.25f * (float)k_sc(s) * (float)q - 0.0625f * (float)k_m(s);
            }
        }
    }
    CHECK(md_dequantize_row(MD_TENSOR_TYPE_Q5_K, b5, y, 256) == MD_OK);
    n_bad = 0;
    for (int i = 0; i < 256; i++) {
        n_bad += y[i] != want[i];
    }
    CHECK_EQ_INT(n_bad, 0);

    /* Q6_K as ggml walks it: per 128 values, l in 0..31 gives four values l, l+32,
     * l+64, l+96 from ql[l] low, ql[l+32] low, ql[l] high, ql[l+32] high, with the
     * top 2 bits at bits 0, 2, 4, 6 of qh[l]; scales[8·half + l/16 + 2k]. */
    uint8_t b6[210] = {0};
    put16(b6 + 208, 0x3000); /* d = 0.125 */
    for (int s = 0; s < 16; s++) {
        b6[192 + s] = (uint8_t)(int8_t)(s * 9 - 70); /* negative and positive scales */
    }
    for (int half = 0; half < 2; half++) {
        uint8_t *ql = b6 + 64 * half, *qh = b6 + 128 + 32 * half;
        const int8_t *sc = (const int8_t *)(b6 + 192 + 8 * half);
        for (int l = 0; l < 32; l++) {
            for (int k = 0; k < 4; k++) {
                int pos = 128 * half + 32 * k + l;
                int q = (pos * 13 + 7) % 64;
                ql[l + 32 * (k & 1)] |= (uint8_t)(k >= 2 ? (q & 15) << 4 : (q & 15));
                qh[l] |= (uint8_t)((q >> 4) << (2 * k));
                want[pos] = 0.125f * (float)sc[l / 16 + 2 * k] * (float)(q - 32);
            }
        }
    }
    CHECK(md_dequantize_row(MD_TENSOR_TYPE_Q6_K, b6, y, 256) == MD_OK);
    n_bad = 0;
    for (int i = 0; i < 256; i++) {
        n_bad += y[i] != want[i];
    }
    CHECK_EQ_INT(n_bad, 0);
}

/* ---- activation quantisers: ggml's exact rules ------------------------------------------ */

static void test_activation_rules(void) {
    /* Q8_0: amax 127 → scale 1, and 2.5 rounds half to even (2), not away (3). */
    float x[256];
    for (int j = 0; j < 32; j++) {
        x[j] = (float)(j - 16) + 0.5f;
    }
    x[0] = -127.0f;
    uint8_t b[292];
    CHECK(md_quantize_row(MD_TENSOR_TYPE_Q8_0, x, b, 32) == MD_OK);
    uint16_t d16;
    memcpy(&d16, b, 2);
    CHECK_EQ_INT(d16, 0x3c00);
    CHECK_EQ_INT((int8_t)b[2 + 0], -127);
    CHECK_EQ_INT((int8_t)b[2 + 18], 2);  /* 2.5 → 2 */
    CHECK_EQ_INT((int8_t)b[2 + 19], 4);  /* 3.5 → 4 */
    CHECK_EQ_INT((int8_t)b[2 + 15], 0);  /* -0.5 → -0 */
    CHECK_EQ_INT((int8_t)b[2 + 14], -2); /* -1.5 → -2 */

    /* Q8_K: the signed extreme maps to -127 (d = max / -127), sums of 16. */
    for (int j = 0; j < 256; j++) {
        x[j] = (float)(j % 64) - 20.0f;
    }
    x[100] = 254.0f; /* the extreme is positive: d = -2 */
    CHECK(md_quantize_row(MD_TENSOR_TYPE_Q8_K, x, b, 256) == MD_OK);
    float d;
    memcpy(&d, b, 4);
    CHECK(d == -2.0f);
    const int8_t *qs = (const int8_t *)(b + 4);
    CHECK_EQ_INT(qs[100], -127);
    CHECK_EQ_INT(qs[0], 10);  /* -20 / -2 */
    CHECK_EQ_INT(qs[21], 0);  /* 1 / -2 = -0.5 → even 0 */
    CHECK_EQ_INT(qs[23], -2); /* 3 / -2 = -1.5 → -2 */
    int n_bad = 0;
    for (int g = 0; g < 16; g++) {
        int16_t bs;
        memcpy(&bs, b + 260 + 2 * g, 2);
        int sum = 0;
        for (int l = 0; l < 16; l++) {
            sum += qs[16 * g + l];
        }
        n_bad += bs != sum;
    }
    CHECK_EQ_INT(n_bad, 0);
    /* A zero block: d = 0 and everything 0. */
    memset(x, 0, sizeof x);
    memset(b, 0xff, sizeof b);
    CHECK(md_quantize_row(MD_TENSOR_TYPE_Q8_K, x, b, 256) == MD_OK);
    int n_nonzero = 0;
    for (size_t i = 0; i < sizeof b; i++) {
        n_nonzero += b[i] != 0;
    }
    CHECK_EQ_INT(n_nonzero, 0);
}

/* ---- round trips on Gaussian data --------------------------------------------------------- */

#define N_ROUND 16384 /* 64 K-quant super-blocks */

static double tol_for(md_tensor_type t) {
    switch (t) {
    case MD_TENSOR_TYPE_F32: return 0.0;
    case MD_TENSOR_TYPE_F16: return TOL_RMS_F16;
    case MD_TENSOR_TYPE_BF16: return TOL_RMS_BF16;
    case MD_TENSOR_TYPE_Q8_0: return TOL_RMS_Q8_0;
    case MD_TENSOR_TYPE_Q4_0: return TOL_RMS_Q4_0;
    case MD_TENSOR_TYPE_Q4_K: return TOL_RMS_Q4_K;
    case MD_TENSOR_TYPE_Q5_K: return TOL_RMS_Q5_K;
    case MD_TENSOR_TYPE_Q6_K: return TOL_RMS_Q6_K;
    case MD_TENSOR_TYPE_Q8_K: return TOL_RMS_Q8_K;
    }
    return 0.0;
}

static const md_tensor_type k_all[] = {MD_TENSOR_TYPE_F32,  MD_TENSOR_TYPE_F16,  MD_TENSOR_TYPE_BF16,
                                       MD_TENSOR_TYPE_Q8_0, MD_TENSOR_TYPE_Q4_0, MD_TENSOR_TYPE_Q4_K,
                                       MD_TENSOR_TYPE_Q5_K, MD_TENSOR_TYPE_Q6_K, MD_TENSOR_TYPE_Q8_K};

static void test_round_trip(void) {
    float *x = malloc(N_ROUND * sizeof *x), *y = malloc(N_ROUND * sizeof *y);
    uint8_t *q = malloc(N_ROUND * 4 + 64);
    rng_state = 20251128;
    for (int i = 0; i < N_ROUND; i++) {
        x[i] = rng_gauss();
    }
    for (size_t k = 0; k < MD_ARRAY_LEN(k_all); k++) {
        md_tensor_type t = k_all[k];
        uint64_t n_bytes;
        CHECK(md_tensor_row_bytes(t, N_ROUND, &n_bytes));
        memset(q, 0xa5, N_ROUND * 4 + 64);
        CHECK(md_quantize_row(t, x, q, N_ROUND) == MD_OK);
        CHECK_MSG(q[n_bytes] == 0xa5, "%s wrote past its row", md_tensor_type_name(t));
        CHECK(md_dequantize_row(t, q, y, N_ROUND) == MD_OK);
        double se = 0.0, sx = 0.0;
        for (int i = 0; i < N_ROUND; i++) {
            se += ((double)x[i] - y[i]) * ((double)x[i] - y[i]);
            sx += (double)x[i] * x[i];
        }
        double rel = sqrt(se / sx);
        fprintf(stderr, "round trip %-5s relative RMS error %.3e (bound %.1e)\n", md_tensor_type_name(t), rel,
                tol_for(t));
        CHECK_MSG(rel <= tol_for(t), "%s: relative RMS error %g > %g", md_tensor_type_name(t), rel, tol_for(t));
        /* Zeros stay zeros, exactly. */
        float zeros[256] = {0}, back[256];
        CHECK(md_quantize_row(t, zeros, q, 256) == MD_OK);
        CHECK(md_dequantize_row(t, q, back, 256) == MD_OK);
        int n_nonzero = 0;
        for (int i = 0; i < 256; i++) {
            n_nonzero += back[i] != 0.0f;
        }
        CHECK_MSG(n_nonzero == 0, "%s: zeros came back as %d non-zeros", md_tensor_type_name(t), n_nonzero);
        /* Hostile values (NaN, Inf, huge) must not trip the sanitizers; results are
         * unspecified. */
        float bad[256];
        for (int i = 0; i < 256; i++) {
            bad[i] = i % 3 == 0 ? NAN : i % 3 == 1 ? INFINITY : -3e38f;
        }
        CHECK(md_quantize_row(t, bad, q, 256) == MD_OK);
        CHECK(md_dequantize_row(t, q, back, 256) == MD_OK);
    }
    /* Sub-blocks of different magnitude (×1, ×2, ×4, ×8 in turn, 32 values each): the
     * per-sub-block scales keep the small ones accurate relative to their own size. */
    for (int i = 0; i < 1024; i++) {
        x[i] = rng_gauss() * (float)(1 << ((i / 32) % 4));
    }
    const md_tensor_type kq[] = {MD_TENSOR_TYPE_Q4_K, MD_TENSOR_TYPE_Q5_K, MD_TENSOR_TYPE_Q6_K};
    for (size_t k = 0; k < MD_ARRAY_LEN(kq); k++) {
        CHECK(md_quantize_row(kq[k], x, q, 1024) == MD_OK);
        CHECK(md_dequantize_row(kq[k], q, y, 1024) == MD_OK);
        double se = 0.0, sx = 0.0;
        for (int i = 0; i < 1024; i++) {
            if ((i / 32) % 4 == 0) { /* the ×1 sub-blocks */
                se += ((double)x[i] - y[i]) * ((double)x[i] - y[i]);
                sx += (double)x[i] * x[i];
            }
        }
        double rel = sqrt(se / sx);
        CHECK_MSG(rel <= TOL_SUBBLOCK_FACTOR * tol_for(kq[k]), "%s: small sub-blocks lost precision (%g)",
                  md_tensor_type_name(kq[k]), rel);
    }
    /* Bad arguments. */
    CHECK(md_quantize_row(MD_TENSOR_TYPE_Q4_K, x, q, 100) == MD_ERR_INVALID_ARG);
    CHECK(md_dequantize_row(MD_TENSOR_TYPE_Q8_0, q, y, 33) == MD_ERR_INVALID_ARG);
    CHECK(md_dequantize_row((md_tensor_type)3, q, y, 32) == MD_ERR_INVALID_ARG);
    CHECK(md_dequantize_row(MD_TENSOR_TYPE_F32, NULL, y, 4) == MD_ERR_INVALID_ARG);
    CHECK(md_dequantize_row(MD_TENSOR_TYPE_F32, NULL, NULL, 0) == MD_OK);
    free(x);
    free(y);
    free(q);
}

/* ---- vec_dot ------------------------------------------------------------------------------ */

static void test_vec_dot(void) {
    enum { N = 1024 };
    float *w = malloc(N * sizeof *w), *x = malloc(N * sizeof *x);
    float *wd = malloc(N * sizeof *wd), *xd = malloc(N * sizeof *xd);
    uint8_t *wq = malloc(N * 4), *xq = malloc(N * 4);
    rng_state = 7;
    for (int trial = 0; trial < 4; trial++) {
        for (int i = 0; i < N; i++) {
            w[i] = 0.08f * rng_gauss();
            x[i] = (trial == 3 ? 100.0f : 1.0f) * rng_gauss() + (trial == 2 ? 0.5f : 0.0f);
        }
        for (size_t k = 0; k < MD_ARRAY_LEN(k_all); k++) {
            md_tensor_type t = k_all[k];
            const md_tensor_traits *tr = md_tensor_traits_get(t);
            float out = 0.0f;
            if (!tr->weights_ok) {
                CHECK(md_vec_dot(t, N, wq, xq, &out) == MD_ERR_UNSUPPORTED);
                continue;
            }
            CHECK(md_quantize_row(t, w, wq, N) == MD_OK);
            CHECK(md_quantize_row(tr->vec_dot_type, x, xq, N) == MD_OK);
            CHECK(md_dequantize_row(t, wq, wd, N) == MD_OK);
            CHECK(md_dequantize_row(tr->vec_dot_type, xq, xd, N) == MD_OK);
            CHECK(md_vec_dot(t, N, wq, xq, &out) == MD_OK);
            double ref = 0.0, mag = 0.0, exact = 0.0, exact_mag = 0.0;
            for (int i = 0; i < N; i++) {
                ref += (double)wd[i] * xd[i];
                mag += fabs((double)wd[i] * xd[i]);
                exact += (double)w[i] * x[i];
                exact_mag += fabs((double)w[i] * x[i]);
            }
            double rel = fabs(out - ref) / mag;
            CHECK_MSG(rel <= TOL_VEC_DOT_REL, "%s trial %d: vec_dot %.9g vs float64 %.9g (rel %g)",
                      md_tensor_type_name(t), trial, out, ref, rel);
            /* And it still approximates the unquantised dot (quantisation noise of
             * both rows, relative to Σ|w·x|; Q4 types are the coarsest). */
            CHECK_MSG(fabs(out - exact) / exact_mag < 0.05, "%s trial %d: %.6g vs exact %.6g", md_tensor_type_name(t),
                      trial, out, exact);
        }
    }
    float out;
    CHECK(md_vec_dot(MD_TENSOR_TYPE_Q4_K, 100, wq, xq, &out) == MD_ERR_INVALID_ARG);
    CHECK(md_vec_dot((md_tensor_type)3, 32, wq, xq, &out) == MD_ERR_INVALID_ARG);
    CHECK(md_vec_dot(MD_TENSOR_TYPE_F32, 4, wq, xq, NULL) == MD_ERR_INVALID_ARG);
    CHECK(md_vec_dot(MD_TENSOR_TYPE_Q8_0, 0, NULL, NULL, &out) == MD_OK && out == 0.0f);
    free(w);
    free(x);
    free(wd);
    free(xd);
    free(wq);
    free(xq);
}

int main(void) {
    test_traits();
    test_fp16();
    test_bf16();
    test_blocks_simple();
    test_blocks_k();
    test_activation_rules();
    test_round_trip();
    test_vec_dot();
    return check_report("test_engine_quants");
}
