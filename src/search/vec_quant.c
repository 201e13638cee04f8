/* 8-bit scalar quantisation, one scale and offset per vector.
 *
 * A vector x is stored as codes c[i] in 0..255 with x[i] ~= offset + scale * c[i],
 * offset = min(x), scale = (max(x) - min(x)) / 255, rounding to nearest: the error per
 * component is at most scale / 2. A quarter of the f32 memory, and the distance to a
 * float query needs only one f32 x u8 dot product:
 *
 *   q . x     = offset * sum(q) + scale * (q . c)
 *   |q - x|^2 = |q|^2 - 2 q . x + |x|^2        (|x|^2 of the decoded x, stored)
 *
 * Block layout: f32 scale, f32 offset, f32 sq_norm, then dim codes.
 */
#include "search/vec_index.h"

#include <math.h>
#include <string.h>

void mdv_q8_encode(const float *vec, size_t dim, uint8_t *block) {
    float lo = vec[0], hi = vec[0];
    for (size_t i = 1; i < dim; i++) {
        lo = vec[i] < lo ? vec[i] : lo;
        hi = vec[i] > hi ? vec[i] : hi;
    }
    float scale = (hi - lo) / 255.0f;
    float inv = scale > 0.0f ? 1.0f / scale : 0.0f;
    uint8_t *codes = block + MDV_Q8_HEADER_BYTES;
    float sq_norm = 0.0f;
    for (size_t i = 0; i < dim; i++) {
        float c = roundf((vec[i] - lo) * inv);
        c = c < 0.0f ? 0.0f : (c > 255.0f ? 255.0f : c);
        codes[i] = (uint8_t)c;
        float x = lo + scale * c;
        sq_norm += x * x;
    }
    memcpy(block, &scale, sizeof(float));
    memcpy(block + 4, &lo, sizeof(float));
    memcpy(block + 8, &sq_norm, sizeof(float));
}

void mdv_q8_decode(const uint8_t *block, size_t dim, float *out) {
    float scale, offset;
    memcpy(&scale, block, sizeof(float));
    memcpy(&offset, block + 4, sizeof(float));
    const uint8_t *codes = block + MDV_Q8_HEADER_BYTES;
    for (size_t i = 0; i < dim; i++) {
        out[i] = offset + scale * (float)codes[i];
    }
}

float mdv_q8_distance(const mdv_kernels *k, md_metric metric, const mdv_query *q, const uint8_t *block, size_t dim) {
    float hdr[3];
    memcpy(hdr, block, sizeof(hdr)); /* scale, offset, sq_norm */
    float dot = hdr[1] * q->sum + hdr[0] * k->dot_f32_u8(q->vec, block + MDV_Q8_HEADER_BYTES, dim);
    switch (metric) {
    case MD_METRIC_L2: {
        float d = q->sq_norm - 2.0f * dot + hdr[2];
        return d > 0.0f ? d : 0.0f;
    }
    case MD_METRIC_INNER_PRODUCT: return -dot;
    case MD_METRIC_COSINE:
    default: return 1.0f - dot;
    }
}
