/* tensor_types.c: the tensor type traits table and half-precision conversions.
 *
 * The table is indexed by the ggml type id (sparse: ids medify does not support have
 * a zero row, name == NULL). Block sizes and byte counts are ggml's (ggml-common.h);
 * quants_ref.c static_asserts its block structs against the same MD_*_BLOCK_BYTES.
 *
 * fp16 conversion is done on the bit patterns, so it does not depend on the compiler
 * supporting _Float16 or on the FPU's rounding mode: round to nearest, ties to even
 * (IEEE 754-2008 §4.3.1), gradual underflow into fp16 subnormals, overflow to Inf.
 * bf16 keeps the top 16 bits of the binary32 after rounding to nearest even, which is
 * what ggml and Google's bfloat16 do.
 */
#include "medify/tensor.h"

#include <assert.h>
#include <string.h>

#define TRAITS(t, nm, bs, bb, vd, q, w)                                                                                \
    [MD_TENSOR_TYPE_##t] = {.type = MD_TENSOR_TYPE_##t,                                                                \
                            .name = nm,                                                                                \
                            .block_size = bs,                                                                          \
                            .block_bytes = bb,                                                                         \
                            .vec_dot_type = MD_TENSOR_TYPE_##vd,                                                       \
                            .is_quantized = q,                                                                         \
                            .weights_ok = w}

static const md_tensor_traits k_traits[MD_TENSOR_TYPE_ID_MAX + 1] = {
    TRAITS(F32, "F32", 1, 4, F32, false, true),
    TRAITS(F16, "F16", 1, 2, F16, false, true),
    TRAITS(BF16, "BF16", 1, 2, BF16, false, true),
    TRAITS(Q8_0, "Q8_0", MD_QK8_0, MD_Q8_0_BLOCK_BYTES, Q8_0, true, true),
    TRAITS(Q4_0, "Q4_0", MD_QK4_0, MD_Q4_0_BLOCK_BYTES, Q8_0, true, true),
    TRAITS(Q4_K, "Q4_K", MD_QK_K, MD_Q4_K_BLOCK_BYTES, Q8_K, true, true),
    TRAITS(Q5_K, "Q5_K", MD_QK_K, MD_Q5_K_BLOCK_BYTES, Q8_K, true, true),
    TRAITS(Q6_K, "Q6_K", MD_QK_K, MD_Q6_K_BLOCK_BYTES, Q8_K, true, true),
    TRAITS(Q8_K, "Q8_K", MD_QK_K, MD_Q8_K_BLOCK_BYTES, Q8_K, true, false),
};

/* The ids are ggml's; a renumbering there would silently corrupt every file. */
static_assert(MD_TENSOR_TYPE_F32 == 0 && MD_TENSOR_TYPE_F16 == 1 && MD_TENSOR_TYPE_Q4_0 == 2 &&
                  MD_TENSOR_TYPE_Q8_0 == 8 && MD_TENSOR_TYPE_Q4_K == 12 && MD_TENSOR_TYPE_Q5_K == 13 &&
                  MD_TENSOR_TYPE_Q6_K == 14 && MD_TENSOR_TYPE_Q8_K == 15 && MD_TENSOR_TYPE_BF16 == 30,
              "tensor type ids must match ggml's enum ggml_type");
static_assert(MD_ARRAY_LEN(k_traits) == MD_TENSOR_TYPE_ID_MAX + 1, "traits table covers every id up to the max");
static_assert(MD_TENSOR_TYPE_BF16 == MD_TENSOR_TYPE_ID_MAX, "the largest known id bounds the table");
static_assert(MD_Q8_0_BLOCK_BYTES == 34 && MD_Q4_0_BLOCK_BYTES == 18 && MD_Q4_K_BLOCK_BYTES == 144 &&
                  MD_Q5_K_BLOCK_BYTES == 176 && MD_Q6_K_BLOCK_BYTES == 210 && MD_Q8_K_BLOCK_BYTES == 292,
              "block sizes as in ggml-common.h");

const md_tensor_traits *md_tensor_traits_get(uint32_t type) {
    if (type > MD_TENSOR_TYPE_ID_MAX || k_traits[type].name == NULL) {
        return NULL;
    }
    return &k_traits[type];
}

const char *md_tensor_type_name(uint32_t type) {
    const md_tensor_traits *t = md_tensor_traits_get(type);
    return t ? t->name : "unknown";
}

bool md_tensor_type_from_name(const char *name, md_tensor_type *out) {
    if (!name) {
        return false;
    }
    for (size_t i = 0; i < MD_ARRAY_LEN(k_traits); i++) {
        if (k_traits[i].name && strcmp(k_traits[i].name, name) == 0) {
            if (out) {
                *out = k_traits[i].type;
            }
            return true;
        }
    }
    return false;
}

bool md_tensor_row_bytes(uint32_t type, uint64_t n_elements, uint64_t *n_bytes) {
    const md_tensor_traits *t = md_tensor_traits_get(type);
    if (!t || n_elements % t->block_size != 0) {
        return false;
    }
    uint64_t n = 0;
    if (__builtin_mul_overflow(n_elements / t->block_size, (uint64_t)t->block_bytes, &n)) {
        return false;
    }
    if (n_bytes) {
        *n_bytes = n;
    }
    return true;
}

/* ---- fp16 / bf16 ------------------------------------------------------------------- */

static uint32_t f32_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static float f32_from_bits(uint32_t u) {
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

uint16_t md_f32_to_fp16(float f) {
    uint32_t u = f32_bits(f);
    uint16_t sign = (uint16_t)((u >> 16) & 0x8000u);
    uint32_t exp = (u >> 23) & 0xffu;
    uint32_t man = u & 0x7fffffu;
    if (exp == 0xffu) {
        if (man == 0) {
            return sign | 0x7c00u; /* ±Inf */
        }
        /* NaN: keep the top 9 payload bits and set the quiet bit, so it stays a NaN. */
        return (uint16_t)(sign | 0x7e00u | (man >> 13));
    }
    /* Unbiased exponent; fp16 normals have e in [-14, 15]. */
    int32_t e = (int32_t)exp - 127;
    if (e > 15) {
        return sign | 0x7c00u; /* overflow (also catches values that would round up) */
    }
    if (e >= -14) {
        /* Normal: 10 mantissa bits, round the 13 dropped bits to nearest even. The
         * carry out of the mantissa correctly bumps the exponent (and up to Inf). */
        uint32_t h = ((uint32_t)(e + 15) << 10) | (man >> 13);
        uint32_t rest = man & 0x1fffu;
        if (rest > 0x1000u || (rest == 0x1000u && (h & 1u))) {
            h++;
        }
        return (uint16_t)(sign | h);
    }
    if (e < -25) {
        return sign; /* below half the smallest subnormal (2^-25): rounds to ±0 */
    }
    /* Subnormal: the result is h · 2^-24 with h = full · 2^(e + 1), where full is the
     * 24-bit mantissa with its implicit bit (value = full · 2^(e - 23)); so shift full
     * right by -(e + 1) = 13 + (-14 - e) bits and round the bits shifted out. */
    uint32_t full = man | 0x800000u;
    uint32_t shift = (uint32_t)(13 + (-14 - e)); /* 14 .. 24 */
    uint32_t h = full >> shift;
    uint32_t rest = full & ((1u << shift) - 1u);
    uint32_t half = 1u << (shift - 1);
    if (rest > half || (rest == half && (h & 1u))) {
        h++; /* may carry into the smallest normal, which is the right answer */
    }
    return (uint16_t)(sign | h);
}

float md_fp16_to_f32(uint16_t h) {
    uint32_t sign = ((uint32_t)h & 0x8000u) << 16;
    uint32_t exp = ((uint32_t)h >> 10) & 0x1fu;
    uint32_t man = (uint32_t)h & 0x3ffu;
    if (exp == 0x1fu) {
        /* Inf, or NaN made quiet with its payload kept. */
        return f32_from_bits(sign | 0x7f800000u | (man ? (0x400000u | (man << 13)) : 0));
    }
    if (exp == 0) {
        if (man == 0) {
            return f32_from_bits(sign); /* ±0 */
        }
        /* Subnormal m · 2^-24: normalise into a binary32 normal. */
        int32_t e = -14;
        while (!(man & 0x400u)) {
            man <<= 1;
            e--;
        }
        man &= 0x3ffu;
        return f32_from_bits(sign | ((uint32_t)(e + 127) << 23) | (man << 13));
    }
    return f32_from_bits(sign | ((exp - 15 + 127) << 23) | (man << 13));
}

uint16_t md_f32_to_bf16(float f) {
    uint32_t u = f32_bits(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) {
        return (uint16_t)((u >> 16) | 0x40u); /* NaN: set the quiet bit so it stays NaN */
    }
    /* Round to nearest even on the low 16 bits; a carry may produce Inf, correctly. */
    return (uint16_t)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

float md_bf16_to_f32(uint16_t h) { return f32_from_bits((uint32_t)h << 16); }
