/* Tensor checks shared by the model loaders (model_checks.h). */
#include "engine/model_checks.h"

#include <stdio.h>

#include "medify/tensor.h"

static void shape_str(char *out, size_t n_out, const uint64_t *ne, uint32_t n_dims) {
    size_t used = 0;
    out[0] = '\0';
    for (uint32_t d = 0; d < n_dims && used < n_out; d++) {
        int w = snprintf(out + used, n_out - used, "%s%llu", d ? ", " : "", (unsigned long long)ne[d]);
        if (w < 0) break;
        used += (size_t)w;
    }
}

/* Checks t against the expected {ne0, ne1} (trailing dimensions must be 1). */
md_status model_check_shape(const md_gguf_tensor *t, uint64_t ne0, uint64_t ne1, md_error *err) {
    bool ok = t->n_dims >= 1 && t->ne[0] == ne0 && (t->n_dims < 2 ? ne1 == 1 : t->ne[1] == ne1);
    for (uint32_t d = 2; ok && d < t->n_dims && d < MD_GGUF_MAX_DIMS; d++)
        ok = t->ne[d] == 1;
    if (ok) return MD_OK;
    char found[128];
    shape_str(found, sizeof found, t->ne, t->n_dims < MD_GGUF_MAX_DIMS ? t->n_dims : MD_GGUF_MAX_DIMS);
    if (ne1 == 1)
        return md_error_set(err, MD_ERR_PARSE, "model: tensor %s has shape [%s], expected [%llu]", t->name, found,
                            (unsigned long long)ne0);
    return md_error_set(err, MD_ERR_PARSE, "model: tensor %s has shape [%s], expected [%llu, %llu]", t->name, found,
                        (unsigned long long)ne0, (unsigned long long)ne1);
}

/* The type must have traits; rows must be whole blocks of the type and, for matrices,
 * of the activation type md_vec_dot pairs with it. */
md_status model_check_type(const md_gguf_tensor *t, bool matrix, md_error *err) {
    const md_tensor_traits *tr = t->usable ? md_tensor_traits_get(t->type) : NULL;
    if (!tr || !tr->weights_ok)
        return md_error_set(err, MD_ERR_UNSUPPORTED, "model: tensor %s has type %s (ggml id %u), which medify cannot use",
                            t->name, md_tensor_type_name(t->type), t->type);
    if (!md_tensor_row_bytes(t->type, t->ne[0], NULL) ||
        (matrix && !md_tensor_row_bytes((uint32_t)tr->vec_dot_type, t->ne[0], NULL)))
        return md_error_set(err, MD_ERR_UNSUPPORTED, "model: tensor %s: row length %llu is not a whole number of %s blocks",
                            t->name, (unsigned long long)t->ne[0], tr->name);
    return MD_OK;
}

/* Rows of the tensor's data that its byte count covers, checked against ne1. */
md_status model_check_bytes(const md_gguf_tensor *t, uint64_t ne0, uint64_t ne1, uint64_t *row_bytes, md_error *err) {
    uint64_t total = 0;
    if (!md_tensor_row_bytes(t->type, ne0, row_bytes) || __builtin_mul_overflow(*row_bytes, ne1, &total) ||
        total > t->n_bytes || !t->data)
        return md_error_set(err, MD_ERR_PARSE, "model: tensor %s: data is shorter than its shape", t->name);
    return MD_OK;
}
