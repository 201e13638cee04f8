/* The GGUF reader and writer: write-then-read round trips of every metadata type
 * (scalars, arrays of every element type, empty arrays) and every tensor type, through
 * memory and through an atomically saved file; the typed getters' range rules; the
 * writer refusing what the reader would reject; a tensor of an unknown type kept but
 * unusable; file-level errors; every allocation failing in turn; and, when
 * MEDIFY_FIXTURES names the shared fixtures, the llama.cpp-made models and vocabularies:
 * names, types, shapes, offsets and sizes as tensor_types.json lists them, metadata as
 * the README describes it, rows of every tensor dequantised to finite values of sane size, and
 * the quantised files compared with the F32 model they were made from (bit-exact for
 * F16/BF16, per-element bound for Q8_0, relative RMS bounds for the others). */
#define _GNU_SOURCE /* memmem */
#include "check.h"
#include "medify/gguf.h"
#include "medify/tensor.h"

#include <dirent.h>
#include <float.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Quantised fixture tensors vs the F32 source they were made from by llama-quantize:
 * relative RMS error bounds, per tensor. The data is fixed, so these are the measured
 * worst values (printed by the test: Q4_0 8.62e-2, Q4_K 7.16e-2, Q5_K 3.63e-2, Q6_K
 * 1.78e-2) plus ~15 %: a dequantiser that misreads a layout is off by O(1). */
#define FIX_TOL_Q4_0 1.0e-1
#define FIX_TOL_Q4_K 8.2e-2
#define FIX_TOL_Q5_K 4.2e-2
#define FIX_TOL_Q6_K 2.05e-2
/* Q8_0: |x - y| <= (1/2 + 127·2^-11)·amax/127 per block: half a step, plus the fp16
 * rounding of the scale (relative 2^-11) times the largest level; FLT_EPSILON slack. */
#define FIX_Q8_0_STEP_FACTOR (0.5 + 127.0 / 2048.0 + 1e-3)
/* Rows of each fixture tensor that medify's own quantiser also quantises, to print its
 * error beside llama-quantize's. */
#define FIX_OWN_QUANT_ROWS 8
/* Rows of each fixture tensor dequantised by the sanity check (spread evenly). */
#define FIX_SAMPLE_ROWS 128
/* Dequantised fixture values: finite and no larger than this (weights are at most a
 * few σ of N(0, 0.5²); norms 1 + 0.1·N(0,1); rope_freqs up to 8). */
#define FIX_MAX_ABS 10.0

static uint64_t rng_state = 99;
static float rng_float(void) { /* uniform in [-1, 1) */
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((double)(rng_state >> 11) / 4503599627370496.0 - 1.0);
}

/* ---- round trip ------------------------------------------------------------------------ */

static const md_tensor_type k_types[] = {MD_TENSOR_TYPE_F32,  MD_TENSOR_TYPE_F16,  MD_TENSOR_TYPE_BF16,
                                         MD_TENSOR_TYPE_Q8_0, MD_TENSOR_TYPE_Q4_0, MD_TENSOR_TYPE_Q4_K,
                                         MD_TENSOR_TYPE_Q5_K, MD_TENSOR_TYPE_Q6_K, MD_TENSOR_TYPE_Q8_K};

typedef struct made_tensor {
    char name[32];
    md_tensor_type type;
    uint32_t n_dims;
    uint64_t ne[4];
    uint8_t *data;
    size_t n_bytes;
} made_tensor;

static const char *const k_strs[] = {"", "a", "héllo wörld", "<|begin_of_text|>", "x\ny\tz"};

/* Fills a writer with one key of every scalar type, an array of every element type
 * (and an empty one), and one tensor of every type with 1-4 dimensions. */
static void fill_writer(md_gguf_writer *w, made_tensor *mt) {
    CHECK(md_gguf_writer_set_str(w, "general.architecture", "llama") == MD_OK);
    CHECK(md_gguf_writer_set_u8(w, "t.u8", 200) == MD_OK);
    CHECK(md_gguf_writer_set_i8(w, "t.i8", -100) == MD_OK);
    CHECK(md_gguf_writer_set_u16(w, "t.u16", 60000) == MD_OK);
    CHECK(md_gguf_writer_set_i16(w, "t.i16", -30000) == MD_OK);
    CHECK(md_gguf_writer_set_u32(w, "t.u32", 4000000000u) == MD_OK);
    CHECK(md_gguf_writer_set_i32(w, "t.i32", -2000000000) == MD_OK);
    CHECK(md_gguf_writer_set_f32(w, "t.f32", 1e-5f) == MD_OK);
    CHECK(md_gguf_writer_set_bool(w, "t.bool", true) == MD_OK);
    CHECK(md_gguf_writer_set_str(w, "t.str", "héllo") == MD_OK);
    CHECK(md_gguf_writer_set_u64(w, "t.u64", UINT64_MAX) == MD_OK);
    CHECK(md_gguf_writer_set_i64(w, "t.i64", INT64_MIN) == MD_OK);
    CHECK(md_gguf_writer_set_f64(w, "t.f64", 1e300) == MD_OK);
    CHECK(md_gguf_writer_set_u32(w, "t.replaced", 1) == MD_OK);
    CHECK(md_gguf_writer_set_str(w, "t.replaced", "second") == MD_OK); /* replaces, keeps the slot */

    uint8_t u8s[] = {0, 1, 255};
    int8_t i8s[] = {-128, 0, 127};
    uint16_t u16s[] = {0, 65535};
    int16_t i16s[] = {-32768, 32767};
    uint32_t u32s[] = {0, 4294967295u};
    int32_t i32s[] = {-7, 0, 3, INT32_MAX};
    float f32s[] = {0.5f, -1.25f, 3e38f};
    uint8_t bools[] = {1, 0, 1};
    uint64_t u64s[] = {0, UINT64_MAX};
    int64_t i64s[] = {INT64_MIN, -1, INT64_MAX};
    double f64s[] = {1e-300, -2.5};
    CHECK(md_gguf_writer_set_arr(w, "a.u8", MD_GGUF_TYPE_UINT8, u8s, 3) == MD_OK);
    CHECK(md_gguf_writer_set_arr(w, "a.i8", MD_GGUF_TYPE_INT8, i8s, 3) == MD_OK);
    CHECK(md_gguf_writer_set_arr(w, "a.u16", MD_GGUF_TYPE_UINT16, u16s, 2) == MD_OK);
    CHECK(md_gguf_writer_set_arr(w, "a.i16", MD_GGUF_TYPE_INT16, i16s, 2) == MD_OK);
    CHECK(md_gguf_writer_set_arr(w, "a.u32", MD_GGUF_TYPE_UINT32, u32s, 2) == MD_OK);
    CHECK(md_gguf_writer_set_arr_i32(w, "a.i32", i32s, 4) == MD_OK);
    CHECK(md_gguf_writer_set_arr_f32(w, "a.f32", f32s, 3) == MD_OK);
    CHECK(md_gguf_writer_set_arr(w, "a.bool", MD_GGUF_TYPE_BOOL, bools, 3) == MD_OK);
    CHECK(md_gguf_writer_set_arr_str(w, "a.str", k_strs, MD_ARRAY_LEN(k_strs)) == MD_OK);
    CHECK(md_gguf_writer_set_arr(w, "a.u64", MD_GGUF_TYPE_UINT64, u64s, 2) == MD_OK);
    CHECK(md_gguf_writer_set_arr(w, "a.i64", MD_GGUF_TYPE_INT64, i64s, 3) == MD_OK);
    CHECK(md_gguf_writer_set_arr(w, "a.f64", MD_GGUF_TYPE_FLOAT64, f64s, 2) == MD_OK);
    CHECK(md_gguf_writer_set_arr(w, "a.empty", MD_GGUF_TYPE_INT32, NULL, 0) == MD_OK);
    CHECK(md_gguf_writer_set_arr_str(w, "a.empty_str", NULL, 0) == MD_OK);

    for (size_t k = 0; k < MD_ARRAY_LEN(k_types); k++) {
        made_tensor *t = &mt[k];
        const md_tensor_traits *tr = md_tensor_traits_get(k_types[k]);
        t->type = k_types[k];
        snprintf(t->name, sizeof t->name, "blk.%zu.%s", k, tr->name);
        t->n_dims = (uint32_t)(k % 4) + 1;
        t->ne[0] = tr->block_size == 1 ? 6 : 2 * (uint64_t)tr->block_size;
        t->ne[1] = 3, t->ne[2] = 2, t->ne[3] = 1;
        for (uint32_t d = t->n_dims; d < 4; d++) {
            t->ne[d] = 1;
        }
        uint64_t n_el = t->ne[0] * t->ne[1] * t->ne[2] * t->ne[3], rb;
        CHECK(md_tensor_row_bytes(t->type, t->ne[0], &rb));
        t->n_bytes = (size_t)(rb * (n_el / t->ne[0]));
        t->data = malloc(t->n_bytes);
        float *x = malloc(n_el * sizeof *x);
        for (uint64_t i = 0; i < n_el; i++) {
            x[i] = rng_float();
        }
        CHECK(md_quantize_row(t->type, x, t->data, (int64_t)n_el) == MD_OK);
        free(x);
        CHECK(md_gguf_writer_add_tensor(w, t->name, t->type, t->n_dims, t->ne, t->data, t->n_bytes) == MD_OK);
    }
}

static void check_read(const md_gguf *g, const made_tensor *mt, uint32_t alignment, bool mapped) {
    CHECK_EQ_INT(md_gguf_version(g), 3);
    CHECK_EQ_INT(md_gguf_alignment(g), alignment);
    CHECK_EQ_INT(md_gguf_data_offset(g) % alignment, 0);
    CHECK_EQ_INT(md_gguf_n_tensors(g), MD_ARRAY_LEN(k_types));
    const char *s;
    size_t n;
    CHECK(md_gguf_get_str(g, "general.architecture", &s, &n) && n == 5 && memcmp(s, "llama", 5) == 0);
    CHECK_EQ_STR(md_gguf_key_at(g, 0), "general.architecture");
    CHECK_EQ_INT(md_gguf_kv_type(g, 0), MD_GGUF_TYPE_STRING);
    CHECK_EQ_INT(md_gguf_kv_type(g, 100000), MD_GGUF_TYPE_COUNT);
    CHECK(md_gguf_key_at(g, 100000) == NULL);

    /* scalars: each through its natural getter and the type recorded */
    static const struct {
        const char *key;
        md_gguf_type type;
    } kt[] = {{"t.u8", MD_GGUF_TYPE_UINT8},        {"t.i8", MD_GGUF_TYPE_INT8},    {"t.u16", MD_GGUF_TYPE_UINT16},
              {"t.i16", MD_GGUF_TYPE_INT16},       {"t.u32", MD_GGUF_TYPE_UINT32}, {"t.i32", MD_GGUF_TYPE_INT32},
              {"t.f32", MD_GGUF_TYPE_FLOAT32},     {"t.bool", MD_GGUF_TYPE_BOOL},  {"t.str", MD_GGUF_TYPE_STRING},
              {"t.u64", MD_GGUF_TYPE_UINT64},      {"t.i64", MD_GGUF_TYPE_INT64},  {"t.f64", MD_GGUF_TYPE_FLOAT64},
              {"t.replaced", MD_GGUF_TYPE_STRING}, {"a.str", MD_GGUF_TYPE_ARRAY}};
    for (size_t i = 0; i < MD_ARRAY_LEN(kt); i++) {
        int64_t idx = md_gguf_find_key(g, kt[i].key);
        CHECK_MSG(idx >= 0, "key %s missing", kt[i].key);
        if (idx >= 0) {
            CHECK_EQ_INT(md_gguf_kv_type(g, (size_t)idx), kt[i].type);
            CHECK_EQ_STR(md_gguf_key_at(g, (size_t)idx), kt[i].key);
        }
    }
    CHECK(md_gguf_find_key(g, "t.absent") == -1);
    uint32_t u32;
    uint64_t u64;
    int64_t i64;
    float f32;
    double f64;
    bool b;
    CHECK(md_gguf_get_u32(g, "t.u8", &u32) && u32 == 200);
    CHECK(md_gguf_get_i64(g, "t.i8", &i64) && i64 == -100);
    CHECK(!md_gguf_get_u32(g, "t.i8", &u32)); /* negative: out of range */
    CHECK(md_gguf_get_u32(g, "t.u16", &u32) && u32 == 60000);
    CHECK(md_gguf_get_i64(g, "t.i16", &i64) && i64 == -30000);
    CHECK(md_gguf_get_u32(g, "t.u32", &u32) && u32 == 4000000000u);
    CHECK(md_gguf_get_i64(g, "t.i32", &i64) && i64 == -2000000000);
    CHECK(md_gguf_get_f32(g, "t.f32", &f32) && f32 == 1e-5f);
    CHECK(md_gguf_get_f64(g, "t.f32", &f64) && f64 == (double)1e-5f);
    CHECK(md_gguf_get_bool(g, "t.bool", &b) && b);
    CHECK(md_gguf_get_str(g, "t.str", &s, &n) && n == strlen("héllo") && memcmp(s, "héllo", n) == 0);
    CHECK(md_gguf_get_str(g, "t.replaced", &s, &n) && n == 6 && memcmp(s, "second", 6) == 0);
    CHECK(md_gguf_get_u64(g, "t.u64", &u64) && u64 == UINT64_MAX);
    CHECK(!md_gguf_get_u32(g, "t.u64", &u32)); /* too large for u32 */
    CHECK(!md_gguf_get_i64(g, "t.u64", &i64)); /* too large for i64 */
    CHECK(md_gguf_get_i64(g, "t.i64", &i64) && i64 == INT64_MIN);
    CHECK(!md_gguf_get_u64(g, "t.i64", &u64)); /* negative */
    CHECK(md_gguf_get_f64(g, "t.f64", &f64) && f64 == 1e300);
    CHECK(!md_gguf_get_f32(g, "t.f64", &f32)); /* not representable as float */
    CHECK(!md_gguf_get_u32(g, "t.f32", &u32)); /* wrong kind */
    CHECK(!md_gguf_get_f32(g, "t.u32", &f32));
    CHECK(!md_gguf_get_bool(g, "t.u8", &b));
    CHECK(!md_gguf_get_str(g, "t.u8", &s, &n));
    CHECK(!md_gguf_get_u32(g, "a.u32", &u32)); /* arrays are not scalars */
    CHECK(!md_gguf_get_u32(g, "t.absent", &u32));

    /* arrays */
    md_gguf_type et;
    uint64_t cnt;
    int32_t i32;
    CHECK(md_gguf_get_arr(g, "a.u8", &et, &cnt) && et == MD_GGUF_TYPE_UINT8 && cnt == 3);
    CHECK(md_gguf_arr_i32(g, "a.u8", 2, &i32) && i32 == 255);
    CHECK(md_gguf_arr_i32(g, "a.i8", 0, &i32) && i32 == -128);
    CHECK(md_gguf_arr_i32(g, "a.u16", 1, &i32) && i32 == 65535);
    CHECK(md_gguf_arr_i32(g, "a.i16", 0, &i32) && i32 == -32768);
    CHECK(!md_gguf_arr_i32(g, "a.u32", 1, &i32)); /* 2^32 - 1 does not fit */
    CHECK(md_gguf_arr_i64(g, "a.u32", 1, &i64) && i64 == 4294967295);
    CHECK(md_gguf_get_arr(g, "a.i32", &et, &cnt) && et == MD_GGUF_TYPE_INT32 && cnt == 4);
    CHECK(md_gguf_arr_i32(g, "a.i32", 0, &i32) && i32 == -7);
    CHECK(md_gguf_arr_i32(g, "a.i32", 3, &i32) && i32 == INT32_MAX);
    CHECK(!md_gguf_arr_i32(g, "a.i32", 4, &i32)); /* past the end */
    CHECK(md_gguf_arr_f32(g, "a.f32", 1, &f32) && f32 == -1.25f);
    CHECK(md_gguf_arr_f32(g, "a.f64", 1, &f32) && f32 == -2.5f);
    CHECK(md_gguf_arr_f64(g, "a.f64", 0, &f64) && f64 == 1e-300);
    CHECK(md_gguf_arr_f64(g, "a.f32", 2, &f64) && f64 == (double)3e38f);
    CHECK(md_gguf_arr_bool(g, "a.bool", 0, &b) && b);
    CHECK(md_gguf_arr_bool(g, "a.bool", 1, &b) && !b);
    CHECK(md_gguf_arr_i64(g, "a.u64", 1, &i64) == false); /* UINT64_MAX */
    CHECK(md_gguf_arr_i64(g, "a.i64", 0, &i64) && i64 == INT64_MIN);
    CHECK(md_gguf_arr_i64(g, "a.i64", 2, &i64) && i64 == INT64_MAX);
    CHECK(!md_gguf_arr_f32(g, "a.i32", 0, &f32)); /* wrong element kind */
    CHECK(!md_gguf_arr_i32(g, "a.f32", 0, &i32));
    CHECK(md_gguf_get_arr(g, "a.str", &et, &cnt) && et == MD_GGUF_TYPE_STRING && cnt == MD_ARRAY_LEN(k_strs));
    for (size_t i = 0; i < MD_ARRAY_LEN(k_strs); i++) {
        CHECK(md_gguf_arr_str(g, "a.str", i, &s, &n) && n == strlen(k_strs[i]) && memcmp(s, k_strs[i], n) == 0);
    }
    CHECK(!md_gguf_arr_str(g, "a.str", MD_ARRAY_LEN(k_strs), &s, &n));
    CHECK(!md_gguf_arr_str(g, "a.i32", 0, &s, &n));
    CHECK(md_gguf_get_arr(g, "a.empty", &et, &cnt) && et == MD_GGUF_TYPE_INT32 && cnt == 0);
    CHECK(!md_gguf_arr_i32(g, "a.empty", 0, &i32));
    CHECK(md_gguf_get_arr(g, "a.empty_str", &et, &cnt) && et == MD_GGUF_TYPE_STRING && cnt == 0);
    const void *raw = md_gguf_arr_data(g, "a.i32", &et, &cnt);
    CHECK(raw && et == MD_GGUF_TYPE_INT32 && cnt == 4);
    if (raw) {
        int32_t v[4];
        memcpy(v, raw, sizeof v);
        CHECK(v[0] == -7 && v[2] == 3);
    }
    CHECK(md_gguf_arr_data(g, "a.str", &et, &cnt) == NULL);
    CHECK(md_gguf_arr_data(g, "t.u8", &et, &cnt) == NULL);

    /* tensors */
    for (size_t k = 0; k < MD_ARRAY_LEN(k_types); k++) {
        const md_gguf_tensor *t = md_gguf_tensor_find(g, mt[k].name);
        CHECK_MSG(t != NULL, "tensor %s missing", mt[k].name);
        if (!t) {
            continue;
        }
        CHECK(t == md_gguf_tensor_at(g, k)); /* insertion order kept */
        CHECK(t->usable);
        CHECK_EQ_INT(t->type, mt[k].type);
        CHECK_EQ_INT(t->n_dims, mt[k].n_dims);
        for (int d = 0; d < 4; d++) {
            CHECK_EQ_INT(t->ne[d], mt[k].ne[d]);
        }
        CHECK_EQ_INT(t->n_bytes, mt[k].n_bytes);
        CHECK_EQ_INT(t->offset % alignment, 0);
        CHECK(t->data && memcmp(t->data, mt[k].data, mt[k].n_bytes) == 0);
        if (mapped) { /* the mapping is page-aligned, so the data is aligned too */
            CHECK_EQ_INT((uintptr_t)t->data % alignment, 0);
        }
    }
    CHECK(md_gguf_tensor_find(g, "absent") == NULL);
    CHECK(md_gguf_tensor_at(g, MD_ARRAY_LEN(k_types)) == NULL);
}

static char g_tmpdir[256];

static void test_round_trip(void) {
    made_tensor mt[MD_ARRAY_LEN(k_types)];
    memset(mt, 0, sizeof mt);
    for (int variant = 0; variant < 2; variant++) {
        uint32_t alignment = variant ? 64 : MD_GGUF_DEFAULT_ALIGNMENT;
        md_gguf_writer *w = md_gguf_writer_new();
        CHECK(w != NULL);
        fill_writer(w, mt);
        if (variant) {
            CHECK(md_gguf_writer_set_u32(w, "general.alignment", 64) == MD_OK);
        }
        md_buf b;
        md_buf_init(&b);
        md_error err;
        CHECK(md_gguf_writer_write_buf(w, &b, &err) == MD_OK);
        md_gguf *g = NULL;
        md_status st = md_gguf_open_memory(b.data, b.len, &g, &err);
        CHECK_MSG(st == MD_OK, "open_memory: %s", err.message);
        if (g) {
            CHECK_EQ_INT(md_gguf_n_kv(g), 28 + variant);
            check_read(g, mt, alignment, false);
            md_gguf_close(g);
        }
        char path[512];
        snprintf(path, sizeof path, "%s/model%d.gguf", g_tmpdir, variant);
        CHECK(md_gguf_writer_save(w, path, &err) == MD_OK);
        st = md_gguf_open(path, &g, &err);
        CHECK_MSG(st == MD_OK, "open: %s", err.message);
        if (g) {
            check_read(g, mt, alignment, true);
            md_gguf_close(g);
        }
        /* The saved file is exactly the bytes write_buf produced. */
        char *file;
        size_t n_file;
        CHECK(md_read_file(path, 1 << 24, &file, &n_file, &err) == MD_OK);
        CHECK(n_file == b.len && memcmp(file, b.data, n_file) == 0);
        md_free(file);
        md_buf_free(&b);
        md_gguf_writer_free(w);
        for (size_t k = 0; k < MD_ARRAY_LEN(k_types); k++) {
            free(mt[k].data);
        }
    }
}

/* ---- writer refusals and atomic save ------------------------------------------------------ */

static void test_writer_refusals(void) {
    md_gguf_writer *w = md_gguf_writer_new();
    uint8_t data[4096] = {0};
    uint64_t ne[4] = {32, 2, 1, 1};
    char long_name[80];
    memset(long_name, 'n', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = '\0';
    CHECK(md_gguf_writer_add_tensor(w, "ok", MD_TENSOR_TYPE_Q8_0, 2, ne, data, 68) == MD_OK);
    CHECK(md_gguf_writer_add_tensor(w, "ok", MD_TENSOR_TYPE_Q8_0, 2, ne, data, 68) == MD_ERR_INVALID_ARG);
    CHECK(md_gguf_writer_add_tensor(w, "", MD_TENSOR_TYPE_F32, 1, ne, data, 128) == MD_ERR_INVALID_ARG);
    CHECK(md_gguf_writer_add_tensor(w, long_name, MD_TENSOR_TYPE_F32, 1, ne, data, 128) == MD_ERR_INVALID_ARG);
    CHECK(md_gguf_writer_add_tensor(w, "b", MD_TENSOR_TYPE_Q8_0, 2, ne, data, 67) == MD_ERR_INVALID_ARG);
    CHECK(md_gguf_writer_add_tensor(w, "c", (md_tensor_type)3, 2, ne, data, 40) == MD_ERR_INVALID_ARG);
    CHECK(md_gguf_writer_add_tensor(w, "d", MD_TENSOR_TYPE_F32, 0, ne, data, 0) == MD_ERR_INVALID_ARG);
    CHECK(md_gguf_writer_add_tensor(w, "e", MD_TENSOR_TYPE_F32, 5, ne, data, 128) == MD_ERR_INVALID_ARG);
    uint64_t ne_bad[4] = {16, 1, 1, 1}, ne_zero[4] = {32, 0, 1, 1};
    CHECK(md_gguf_writer_add_tensor(w, "f", MD_TENSOR_TYPE_Q4_0, 1, ne_bad, data, 9) == MD_ERR_INVALID_ARG);
    CHECK(md_gguf_writer_add_tensor(w, "g", MD_TENSOR_TYPE_F32, 2, ne_zero, data, 0) == MD_ERR_INVALID_ARG);
    CHECK(md_gguf_writer_set_u32(w, "", 1) == MD_ERR_INVALID_ARG);
    CHECK(md_gguf_writer_set_str(w, "k", NULL) == MD_ERR_INVALID_ARG);
    CHECK(md_gguf_writer_set_arr(w, "k", MD_GGUF_TYPE_STRING, data, 1) == MD_ERR_INVALID_ARG);
    CHECK(md_gguf_writer_set_arr(w, "k", MD_GGUF_TYPE_ARRAY, data, 1) == MD_ERR_INVALID_ARG);
    uint8_t two = 2;
    CHECK(md_gguf_writer_set_arr(w, "k", MD_GGUF_TYPE_BOOL, &two, 1) == MD_ERR_INVALID_ARG);
    md_error err;
    md_buf b;
    md_buf_init(&b);
    CHECK(md_gguf_writer_set_u32(w, "general.alignment", 48) == MD_OK); /* not a power of two */
    CHECK(md_gguf_writer_write_buf(w, &b, &err) == MD_ERR_INVALID_ARG);
    CHECK(md_gguf_writer_set_u64(w, "general.alignment", 64) == MD_OK); /* wrong type */
    CHECK(md_gguf_writer_write_buf(w, &b, &err) == MD_ERR_INVALID_ARG);
    CHECK(md_gguf_writer_set_u32(w, "general.alignment", 16) == MD_OK);
    CHECK(md_gguf_writer_write_buf(w, &b, &err) == MD_OK);
    md_gguf *g = NULL;
    CHECK(md_gguf_open_memory(b.data, b.len, &g, &err) == MD_OK);
    CHECK(md_gguf_alignment(g) == 16 && md_gguf_n_tensors(g) == 1);
    md_gguf_close(g);
    md_buf_free(&b);

    /* Atomic save: into a missing directory fails and leaves nothing; over an existing
     * file replaces it; no temporary files remain. */
    char path[512], bad[512];
    snprintf(path, sizeof path, "%s/atomic.gguf", g_tmpdir);
    snprintf(bad, sizeof bad, "%s/missing/dir.gguf", g_tmpdir);
    CHECK(md_gguf_writer_save(w, bad, &err) == MD_ERR_IO);
    FILE *f = fopen(path, "wb");
    fputs("old contents", f);
    fclose(f);
    CHECK(md_gguf_writer_save(w, path, &err) == MD_OK);
    CHECK(md_gguf_open(path, &g, &err) == MD_OK);
    md_gguf_close(g);
    DIR *dir = opendir(g_tmpdir);
    int n_tmp = 0;
    for (struct dirent *e; dir && (e = readdir(dir));) {
        n_tmp += strstr(e->d_name, ".tmp") != NULL;
    }
    closedir(dir);
    CHECK_EQ_INT(n_tmp, 0);
    md_gguf_writer_free(w);
}

/* ---- unknown tensor types, file errors --------------------------------------------------- */

static void test_unknown_type_and_files(void) {
    md_gguf_writer *w = md_gguf_writer_new();
    uint8_t data[64] = {0};
    uint64_t ne[1] = {32};
    CHECK(md_gguf_writer_add_tensor(w, "odd", MD_TENSOR_TYPE_Q8_0, 1, ne, data, 34) == MD_OK);
    CHECK(md_gguf_writer_add_tensor(w, "fine", MD_TENSOR_TYPE_F16, 1, ne, data, 64) == MD_OK);
    md_buf b;
    md_buf_init(&b);
    md_error err;
    CHECK(md_gguf_writer_write_buf(w, &b, &err) == MD_OK);
    /* Patch the type of "odd" (after name, n_dims, ne[0]) to 3, ggml's Q4_1. */
    char *p = memmem(b.data, b.len, "odd", 3);
    CHECK(p != NULL);
    if (p) {
        uint32_t q4_1 = 3;
        memcpy(p + 3 + 4 + 8, &q4_1, 4);
    }
    md_gguf *g = NULL;
    CHECK(md_gguf_open_memory(b.data, b.len, &g, &err) == MD_OK);
    if (g) {
        const md_gguf_tensor *t = md_gguf_tensor_find(g, "odd");
        CHECK(t && !t->usable && t->data == NULL && t->n_bytes == 0 && t->type == 3);
        t = md_gguf_tensor_find(g, "fine");
        CHECK(t && t->usable && t->data != NULL && t->n_bytes == 64);
        md_gguf_close(g);
    }
    md_buf_free(&b);
    md_gguf_writer_free(w);

    char path[512];
    snprintf(path, sizeof path, "%s/does-not-exist.gguf", g_tmpdir);
    CHECK(md_gguf_open(path, &g, &err) == MD_ERR_NOT_FOUND);
    CHECK(md_gguf_open(g_tmpdir, &g, &err) == MD_ERR_IO); /* a directory */
    snprintf(path, sizeof path, "%s/empty.gguf", g_tmpdir);
    fclose(fopen(path, "wb"));
    CHECK(md_gguf_open(path, &g, &err) == MD_ERR_PARSE);
    CHECK(strstr(err.message, "empty.gguf: gguf: header: magic at offset 0: truncated") != NULL);
    CHECK(md_gguf_open_memory(NULL, 0, &g, &err) == MD_ERR_PARSE);
    CHECK(md_gguf_open_memory(NULL, 5, &g, &err) == MD_ERR_INVALID_ARG);
    CHECK(md_gguf_open(NULL, &g, &err) == MD_ERR_INVALID_ARG);
}

/* ---- OOM ------------------------------------------------------------------------------------ */

static void test_oom(void) {
    made_tensor mt[MD_ARRAY_LEN(k_types)];
    memset(mt, 0, sizeof mt);
    md_gguf_writer *w = md_gguf_writer_new();
    fill_writer(w, mt);
    md_buf b;
    md_buf_init(&b);
    md_error err;
    CHECK(md_gguf_writer_write_buf(w, &b, &err) == MD_OK);
    /* Fail the 1st, 2nd, ... allocation of md_gguf_open_memory until it succeeds. */
    int n_ok = 0, n_nomem = 0, n_other = 0;
    for (uint64_t n = 1; n < 10000; n++) {
        md_alloc_fail_after(n, false);
        md_gguf *g = NULL;
        md_status st = md_gguf_open_memory(b.data, b.len, &g, &err);
        bool injected = md_alloc_failed();
        md_alloc_fail_after(0, false);
        if (st == MD_OK) {
            md_gguf_close(g);
            if (!injected) {
                n_ok++;
                break;
            }
        } else if (st == MD_ERR_NOMEM) {
            n_nomem++;
        } else {
            n_other++;
        }
    }
    CHECK_EQ_INT(n_ok, 1);
    CHECK(n_nomem > 3);
    CHECK_EQ_INT(n_other, 0);
    /* And the writer: every failure is MD_ERR_NOMEM, never a crash or a leak. */
    n_other = 0;
    for (uint64_t n = 1; n < 200; n++) {
        md_alloc_fail_after(n, false);
        md_gguf_writer *w2 = md_gguf_writer_new();
        md_status st = MD_ERR_NOMEM;
        md_buf b2;
        md_buf_init(&b2);
        if (w2) {
            st = md_gguf_writer_set_str(w2, "general.name", "oom");
            st = st == MD_OK ? md_gguf_writer_add_tensor(w2, mt[3].name, mt[3].type, mt[3].n_dims, mt[3].ne, mt[3].data,
                                                         mt[3].n_bytes)
                             : st;
            st = st == MD_OK ? md_gguf_writer_write_buf(w2, &b2, &err) : st;
        }
        md_alloc_fail_after(0, false);
        n_other += st != MD_OK && st != MD_ERR_NOMEM;
        md_buf_free(&b2);
        md_gguf_writer_free(w2);
        if (st == MD_OK) {
            break;
        }
    }
    CHECK_EQ_INT(n_other, 0);
    md_buf_free(&b);
    md_gguf_writer_free(w);
    for (size_t k = 0; k < MD_ARRAY_LEN(k_types); k++) {
        free(mt[k].data);
    }
}

/* ---- fixtures ------------------------------------------------------------------------------ */

static float *dequantize_all(const md_gguf_tensor *t, uint64_t *n_out) {
    uint64_t n = t->ne[0] * t->ne[1] * t->ne[2] * t->ne[3];
    float *y = malloc(n * sizeof *y);
    if (y && md_dequantize_row((md_tensor_type)t->type, t->data, y, (int64_t)n) != MD_OK) {
        free(y);
        y = NULL;
    }
    *n_out = n;
    return y;
}

static void check_fixture_model(const char *dir, const char *file, json_t *meta) {
    char path[1024];
    snprintf(path, sizeof path, "%s/models/%s", dir, file);
    md_gguf *g = NULL;
    md_error err;
    md_status st = md_gguf_open(path, &g, &err);
    CHECK_MSG(st == MD_OK, "%s: %s", file, err.message);
    if (st != MD_OK) {
        return;
    }
    struct stat sb;
    stat(path, &sb);
    CHECK_EQ_INT(sb.st_size, json_integer_value(json_object_get(meta, "size")));
    CHECK_EQ_INT(md_gguf_alignment(g), json_integer_value(json_object_get(meta, "alignment")));
    uint32_t file_type;
    CHECK(md_gguf_get_u32(g, "general.file_type", &file_type) &&
          file_type == json_integer_value(json_object_get(meta, "file_type")));
    json_t *tensors = json_object_get(meta, "tensors");
    CHECK_EQ_INT(md_gguf_n_tensors(g), json_array_size(tensors));
    size_t i;
    json_t *jt;
    json_array_foreach(tensors, i, jt) {
        const char *name = json_string_value(json_object_get(jt, "name"));
        const md_gguf_tensor *t = md_gguf_tensor_find(g, name);
        CHECK_MSG(t != NULL, "%s: tensor %s missing", file, name);
        if (!t) {
            continue;
        }
        CHECK(t == md_gguf_tensor_at(g, i)); /* same order as the file */
        CHECK(t->usable);
        CHECK_EQ_STR(md_tensor_type_name(t->type), json_string_value(json_object_get(jt, "type")));
        json_t *jne = json_object_get(jt, "ne");
        CHECK_EQ_INT(t->n_dims, json_array_size(jne));
        for (size_t d = 0; d < json_array_size(jne); d++) {
            CHECK_EQ_INT(t->ne[d], json_integer_value(json_array_get(jne, d)));
        }
        CHECK_EQ_INT(md_gguf_data_offset(g) + t->offset, json_integer_value(json_object_get(jt, "offset")));
        CHECK_EQ_INT(t->n_bytes, json_integer_value(json_object_get(jt, "n_bytes")));
        /* Dequantise up to FIX_SAMPLE_ROWS rows spread over the tensor (all of them are
         * dequantised for the quantised llama files in compare_with_source). */
        uint64_t row_len = t->ne[0], n_rows = t->ne[1] * t->ne[2] * t->ne[3], row_bytes;
        uint64_t step = n_rows > FIX_SAMPLE_ROWS ? n_rows / FIX_SAMPLE_ROWS : 1;
        CHECK(md_tensor_row_bytes(t->type, row_len, &row_bytes));
        float *y = malloc(row_len * sizeof *y);
        int n_bad = 0;
        double ss = 0.0;
        uint64_t n_seen = 0;
        for (uint64_t r = 0; r < n_rows; r += step) {
            CHECK(md_dequantize_row((md_tensor_type)t->type, (const uint8_t *)t->data + r * row_bytes, y,
                                    (int64_t)row_len) == MD_OK);
            for (uint64_t k = 0; k < row_len; k++) {
                n_bad += !isfinite(y[k]) || fabsf(y[k]) > FIX_MAX_ABS;
                ss += (double)y[k] * y[k];
            }
            n_seen += row_len;
        }
        double rms = sqrt(ss / (double)n_seen);
        CHECK_MSG(n_bad == 0, "%s %s: %d values not finite or beyond %g", file, name, n_bad, FIX_MAX_ABS);
        CHECK_MSG(rms > 0.01 && rms < FIX_MAX_ABS, "%s %s: RMS %g", file, name, rms);
        free(y);
    }
    /* Metadata as the README describes it. */
    const char *s;
    size_t n;
    bool is_bert = strncmp(file, "tiny-bert", 9) == 0;
    CHECK(md_gguf_get_str(g, "general.architecture", &s, &n) && n == (is_bert ? 4u : 5u) &&
          memcmp(s, is_bert ? "bert" : "llama", n) == 0);
    uint32_t u;
    float f;
    bool b;
    if (is_bert) {
        CHECK(md_gguf_get_u32(g, "bert.embedding_length", &u) && u == 128);
        CHECK(md_gguf_get_f32(g, "bert.attention.layer_norm_epsilon", &f) && f == 1e-12f);
        CHECK(md_gguf_get_bool(g, "bert.attention.causal", &b) && !b);
        CHECK(md_gguf_arr_str(g, "tokenizer.ggml.tokens", 101, &s, &n) && n == 5 && memcmp(s, "[CLS]", 5) == 0);
    } else {
        CHECK(md_gguf_get_u32(g, "llama.block_count", &u) && u == 2);
        CHECK(md_gguf_get_u32(g, "llama.attention.head_count_kv", &u) && u == 2);
        CHECK(md_gguf_get_f32(g, "llama.rope.freq_base", &f) && f == 500000.0f);
        CHECK(md_gguf_get_f32(g, "llama.attention.layer_norm_rms_epsilon", &f) && f == 1e-5f);
        int32_t tt;
        CHECK(md_gguf_arr_str(g, "tokenizer.ggml.tokens", 496, &s, &n) && n == 17 &&
              memcmp(s, "<|begin_of_text|>", 17) == 0);
        CHECK(md_gguf_arr_i32(g, "tokenizer.ggml.token_type", 496, &tt) && tt == 3);
        CHECK(md_gguf_arr_i32(g, "tokenizer.ggml.token_type", 0, &tt) && tt == 1);
        md_gguf_type et;
        uint64_t cnt;
        CHECK(md_gguf_get_arr(g, "tokenizer.ggml.merges", &et, &cnt) && et == MD_GGUF_TYPE_STRING && cnt == 240);
    }
    md_gguf_close(g);
}

/* A quantised llama fixture against tiny-llama-f32.gguf, tensor by tensor. */
static void compare_with_source(const char *dir, const char *file, const char *source) {
    char path[1024], src_path[1024];
    snprintf(path, sizeof path, "%s/models/%s", dir, file);
    snprintf(src_path, sizeof src_path, "%s/models/%s", dir, source);
    md_gguf *g = NULL, *src = NULL;
    md_error err;
    if (md_gguf_open(path, &g, &err) != MD_OK || md_gguf_open(src_path, &src, &err) != MD_OK) {
        CHECK_MSG(false, "%s", err.message);
        md_gguf_close(g);
        return;
    }
    double worst[MD_TENSOR_TYPE_ID_MAX + 1] = {0}, theirs_sub[MD_TENSOR_TYPE_ID_MAX + 1] = {0},
                                         ours_sub[MD_TENSOR_TYPE_ID_MAX + 1] = {0};
    size_t q8_diff = 0, q8_blocks = 0;
    for (size_t i = 0; i < md_gguf_n_tensors(g); i++) {
        const md_gguf_tensor *t = md_gguf_tensor_at(g, i), *ts = md_gguf_tensor_find(src, t->name);
        CHECK_MSG(ts && ts->type == MD_TENSOR_TYPE_F32, "%s: %s has no F32 source", file, t->name);
        if (!ts || ts->type != MD_TENSOR_TYPE_F32 || t->type == MD_TENSOR_TYPE_F32) {
            continue;
        }
        uint64_t n, n_src;
        float *y = dequantize_all(t, &n), *x = dequantize_all(ts, &n_src);
        CHECK(y && x && n == n_src);
        if (!y || !x || n != n_src) {
            free(y);
            free(x);
            continue;
        }
        if (t->type == MD_TENSOR_TYPE_F16 || t->type == MD_TENSOR_TYPE_BF16) {
            /* llama-quantize rounds to nearest even: our conversion must give the same bits. */
            int n_diff = 0;
            for (uint64_t k = 0; k < n; k++) {
                uint16_t want, got = t->type == MD_TENSOR_TYPE_F16 ? md_f32_to_fp16(x[k]) : md_f32_to_bf16(x[k]);
                memcpy(&want, (const uint8_t *)t->data + 2 * k, 2);
                n_diff += got != want;
            }
            CHECK_MSG(n_diff == 0, "%s %s: %d values convert differently", file, t->name, n_diff);
        } else if (t->type == MD_TENSOR_TYPE_Q8_0) {
            int n_bad = 0;
            for (uint64_t k0 = 0; k0 < n; k0 += 32) {
                float amax = 0.0f;
                for (int j = 0; j < 32; j++) {
                    amax = fmaxf(amax, fabsf(x[k0 + j]));
                }
                for (int j = 0; j < 32; j++) {
                    n_bad += fabs((double)x[k0 + j] - y[k0 + j]) > FIX_Q8_0_STEP_FACTOR * amax / 127.0;
                }
            }
            CHECK_MSG(n_bad == 0, "%s %s: %d values beyond half a Q8_0 step", file, t->name, n_bad);
            /* Our Q8_0 quantiser (ggml-cpu's activation rule) against llama-quantize's
             * (ggml's reference rule): they differ only on exact ties and 1-ulp scale
             * differences, so practically every block is bit-identical. */
            uint8_t *mine = malloc(t->n_bytes);
            CHECK(md_quantize_row(MD_TENSOR_TYPE_Q8_0, x, mine, (int64_t)n) == MD_OK);
            size_t n_blocks = t->n_bytes / MD_Q8_0_BLOCK_BYTES, n_diff = 0;
            for (size_t k = 0; k < n_blocks; k++) {
                n_diff += memcmp(mine + k * MD_Q8_0_BLOCK_BYTES, (const uint8_t *)t->data + k * MD_Q8_0_BLOCK_BYTES,
                                 MD_Q8_0_BLOCK_BYTES) != 0;
            }
            CHECK_MSG(n_diff * 1000 <= n_blocks, "%s %s: %zu of %zu Q8_0 blocks differ", file, t->name, n_diff,
                      n_blocks);
            q8_diff += n_diff;
            q8_blocks += n_blocks;
            free(mine);
        }
        /* Relative RMS error of llama-quantize's data; and, on the first rows only (our
         * reference quantiser is slow under the sanitizers), of ours on the same source. */
        uint64_t n_mine = t->ne[0] * (t->ne[1] < FIX_OWN_QUANT_ROWS ? t->ne[1] : FIX_OWN_QUANT_ROWS);
        uint8_t *mine = malloc(t->n_bytes);
        float *ym = malloc(n_mine * sizeof *ym);
        CHECK(md_quantize_row((md_tensor_type)t->type, x, mine, (int64_t)n_mine) == MD_OK);
        CHECK(md_dequantize_row((md_tensor_type)t->type, mine, ym, (int64_t)n_mine) == MD_OK);
        double se = 0.0, sx = 0.0, se_sub = 0.0, se_mine = 0.0, sx_sub = 0.0;
        for (uint64_t k = 0; k < n; k++) {
            se += ((double)x[k] - y[k]) * ((double)x[k] - y[k]);
            sx += (double)x[k] * x[k];
            if (k < n_mine) {
                se_sub += ((double)x[k] - y[k]) * ((double)x[k] - y[k]);
                se_mine += ((double)x[k] - ym[k]) * ((double)x[k] - ym[k]);
                sx_sub += (double)x[k] * x[k];
            }
        }
        double rel = sqrt(se / sx);
        worst[t->type] = fmax(worst[t->type], rel);
        theirs_sub[t->type] = fmax(theirs_sub[t->type], sqrt(se_sub / sx_sub));
        ours_sub[t->type] = fmax(ours_sub[t->type], sqrt(se_mine / sx_sub));
        double tol = t->type == MD_TENSOR_TYPE_Q4_0   ? FIX_TOL_Q4_0
                     : t->type == MD_TENSOR_TYPE_Q4_K ? FIX_TOL_Q4_K
                     : t->type == MD_TENSOR_TYPE_Q5_K ? FIX_TOL_Q5_K
                     : t->type == MD_TENSOR_TYPE_Q6_K ? FIX_TOL_Q6_K
                                                      : 1.0; /* F16/BF16/Q8_0: checked exactly above */
        CHECK_MSG(rel <= tol, "%s %s (%s): relative RMS error %g > %g", file, t->name, md_tensor_type_name(t->type),
                  rel, tol);
        free(mine);
        free(ym);
        free(x);
        free(y);
    }
    for (uint32_t ty = 0; ty <= MD_TENSOR_TYPE_ID_MAX; ty++) {
        if (worst[ty] > 0.0) {
            fprintf(stderr,
                    "fixture %-26s %-5s worst relative RMS error %.3e; first %d rows: llama-quantize %.3e, medify "
                    "%.3e\n",
                    file, md_tensor_type_name(ty), worst[ty], FIX_OWN_QUANT_ROWS, theirs_sub[ty], ours_sub[ty]);
        }
    }
    if (q8_blocks) {
        fprintf(stderr, "fixture %-26s %zu of %zu Q8_0 blocks differ from llama-quantize's bytes\n", file, q8_diff,
                q8_blocks);
    }
    md_gguf_close(src);
    md_gguf_close(g);
}

static void check_fixture_vocabs(const char *dir) {
    static const struct {
        const char *file;
        uint64_t n_tokens;
        uint32_t i_token;
        const char *token;
    } vocabs[] = {
        {"ggml-vocab-llama3-bpe.gguf", 128256, 128000, "<|begin_of_text|>"},
        {"ggml-vocab-llama-spm.gguf", 32000, 1, "<s>"},
        {"ggml-vocab-bert-bge.gguf", 30522, 102, "[SEP]"},
        {"ggml-vocab-tiny-bpe512.gguf", 512, 505, "<|eot_id|>"},
    };
    for (size_t v = 0; v < MD_ARRAY_LEN(vocabs); v++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/vocab/%s", dir, vocabs[v].file);
        md_gguf *g = NULL;
        md_error err;
        md_status st = md_gguf_open(path, &g, &err);
        CHECK_MSG(st == MD_OK, "%s: %s", vocabs[v].file, err.message);
        if (st != MD_OK) {
            continue;
        }
        CHECK_EQ_INT(md_gguf_n_tensors(g), 0);
        md_gguf_type et;
        uint64_t n;
        CHECK(md_gguf_get_arr(g, "tokenizer.ggml.tokens", &et, &n) && et == MD_GGUF_TYPE_STRING &&
              n == vocabs[v].n_tokens);
        const char *s;
        size_t len;
        CHECK(md_gguf_arr_str(g, "tokenizer.ggml.tokens", vocabs[v].i_token, &s, &len) &&
              len == strlen(vocabs[v].token) && memcmp(s, vocabs[v].token, len) == 0);
        if (v == 0) {
            CHECK(md_gguf_get_arr(g, "tokenizer.ggml.merges", &et, &n) && n == 280147);
            CHECK(md_gguf_arr_str(g, "tokenizer.ggml.merges", 280146, &s, &len) && len > 0);
        }
        md_gguf_close(g);
    }
}

static void test_fixtures(void) {
    const char *dir = getenv("MEDIFY_FIXTURES");
    char json_path[1024];
    snprintf(json_path, sizeof json_path, "%s/models/tensor_types.json", dir ? dir : "");
    if (!dir || access(json_path, R_OK) != 0) {
        fprintf(stderr,
                "test_engine_gguf: SKIP fixture checks: %s%s (set MEDIFY_FIXTURES to the shared fixtures "
                "directory)\n",
                dir ? json_path : "MEDIFY_FIXTURES is unset", dir ? " is not readable" : "");
        return;
    }
    json_error_t jerr;
    json_t *root = json_load_file(json_path, 0, &jerr);
    CHECK_MSG(root != NULL, "%s: %s", json_path, jerr.text);
    if (!root) {
        return;
    }
    const char *file;
    json_t *meta;
    int n_models = 0;
    json_object_foreach(root, file, meta) {
        check_fixture_model(dir, file, meta);
        n_models++;
    }
    CHECK_EQ_INT(n_models, 13);
    json_decref(root);
    static const char *const quantised[] = {"tiny-llama-f16.gguf",  "tiny-llama-bf16.gguf",   "tiny-llama-q8_0.gguf",
                                            "tiny-llama-q4_0.gguf", "tiny-llama-q4_k_m.gguf", "tiny-llama-q5_k_m.gguf",
                                            "tiny-llama-q6_k.gguf"};
    for (size_t i = 0; i < MD_ARRAY_LEN(quantised); i++) {
        compare_with_source(dir, quantised[i], "tiny-llama-f32.gguf");
    }
    compare_with_source(dir, "tiny-llama-tied-q8_0.gguf", "tiny-llama-tied-f32.gguf");
    check_fixture_vocabs(dir);
}

int main(void) {
    const char *tmp = getenv("TMPDIR");
    snprintf(g_tmpdir, sizeof g_tmpdir, "%s/medify-gguf-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(g_tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    test_round_trip();
    test_writer_refusals();
    test_unknown_type_and_files();
    test_oom();
    test_fixtures();
    /* Remove what the tests wrote. */
    DIR *dir = opendir(g_tmpdir);
    for (struct dirent *e; dir && (e = readdir(dir));) {
        if (e->d_name[0] != '.') {
            char p[600];
            snprintf(p, sizeof p, "%s/%s", g_tmpdir, e->d_name);
            unlink(p);
        }
    }
    if (dir) {
        closedir(dir);
    }
    rmdir(g_tmpdir);
    return check_report("test_engine_gguf");
}
