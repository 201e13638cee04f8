/* Fuzzes the GGUF reader: md_gguf_open_memory over arbitrary bytes, then every
 * accessor over everything that opened: each key through each typed getter, every
 * array element (up to a cap per array), every tensor by index and by name, and the
 * first row of each usable tensor dequantised and dotted with zeros. Any input must
 * open or be rejected with an error value; the sanitizers catch the rest. The input is
 * copied to a heap block of exactly its size so ASan sees any read past the end.
 * Seeds: tests/fuzz/corpus/gguf (written by test_engine_gguf_corrupt --write-seeds). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "medify/gguf.h"
#include "medify/tensor.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_MAX_ELEMS 4096 /* array elements visited per key */
#define FUZZ_MAX_ROW   8192 /* longest tensor row dequantised */

static void visit_key(const md_gguf *g, const char *key) {
    uint32_t u32;
    uint64_t u64;
    int64_t i64;
    float f32;
    double f64;
    bool b;
    const char *s;
    size_t n;
    md_gguf_get_u32(g, key, &u32);
    md_gguf_get_u64(g, key, &u64);
    md_gguf_get_i64(g, key, &i64);
    md_gguf_get_f32(g, key, &f32);
    md_gguf_get_f64(g, key, &f64);
    md_gguf_get_bool(g, key, &b);
    if (md_gguf_get_str(g, key, &s, &n) && n > 0) {
        volatile char last = s[n - 1]; /* touch the last byte */
        (void)last;
    }
    md_gguf_type et;
    uint64_t count;
    if (!md_gguf_get_arr(g, key, &et, &count)) {
        return;
    }
    const void *raw = md_gguf_arr_data(g, key, &et, &count);
    if (raw && count > 0) {
        volatile uint8_t last = ((const uint8_t *)raw)[count * md_gguf_type_size(et) - 1];
        (void)last;
    }
    for (uint64_t i = 0; i < count && i < FUZZ_MAX_ELEMS; i++) {
        int32_t i32;
        md_gguf_arr_i32(g, key, i, &i32);
        md_gguf_arr_i64(g, key, i, &i64);
        md_gguf_arr_f32(g, key, i, &f32);
        md_gguf_arr_f64(g, key, i, &f64);
        md_gguf_arr_bool(g, key, i, &b);
        if (md_gguf_arr_str(g, key, i, &s, &n) && n > 0) {
            volatile char last = s[n - 1];
            (void)last;
        }
    }
    md_gguf_arr_str(g, key, count, &s, &n); /* one past the end: must say no */
}

static void visit_tensor(const md_gguf *g, const md_gguf_tensor *t) {
    if (md_gguf_tensor_find(g, t->name) != t || !t->usable || t->ne[0] > FUZZ_MAX_ROW) {
        return;
    }
    static float row[FUZZ_MAX_ROW];
    static uint8_t zeros[FUZZ_MAX_ROW * 4];
    md_dequantize_row((md_tensor_type)t->type, t->data, row, (int64_t)t->ne[0]);
    volatile uint8_t last = ((const uint8_t *)t->data)[t->n_bytes - 1];
    (void)last;
    const md_tensor_traits *tr = md_tensor_traits_get(t->type);
    float out;
    if (tr && tr->weights_ok) {
        md_vec_dot((md_tensor_type)t->type, (int64_t)t->ne[0], t->data, zeros, &out);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > (1u << 20)) {
        return 0;
    }
    uint8_t *copy = md_malloc(size ? size : 1);
    if (!copy) {
        return 0;
    }
    memcpy(copy, data, size);
    md_gguf *g = NULL;
    md_error err;
    if (md_gguf_open_memory(copy, size, &g, &err) == MD_OK) {
        for (size_t i = 0; i < md_gguf_n_kv(g); i++) {
            visit_key(g, md_gguf_key_at(g, i));
        }
        for (size_t i = 0; i < md_gguf_n_tensors(g); i++) {
            visit_tensor(g, md_gguf_tensor_at(g, i));
        }
        md_gguf_close(g);
    }
    md_free(copy);
    return 0;
}
