/* gguf_read.c: the GGUF reader (format in include/medify/gguf.h and docs/gguf.md).
 *
 * The file is mapped read-only and parsed once, front to back, by a cursor that
 * refuses to move past the end: every read first asks `need(n)`, which compares n
 * with the bytes that remain (never `pos + n`, which could overflow). Each count,
 * length and shape is checked against a named limit (gguf.h) and against the bytes
 * left *before* anything is allocated for it, with __builtin_*_overflow arithmetic.
 * What survives validation is recorded as offsets into the mapping, so the accessors
 * below read without re-checking:
 *   - metadata: one record per key (type, count, file offset of the value); string
 *     arrays get an index of their elements' offsets, so element i is O(1);
 *   - tensors: md_gguf_tensor with the byte size from the type traits table, the data
 *     pointer, and `usable` = false for types without traits (kept, not rejected, so
 *     that a file with one exotic tensor still lists everything else).
 * After the tensor infos come the padding to the alignment and the data section;
 * every tensor must be aligned, lie inside the file and not overlap another.
 *
 * Keys and tensor names are copied NUL-terminated into an arena and indexed by hash
 * maps (duplicates are errors). Every failure is MD_ERR_PARSE (or MD_ERR_NOMEM) with
 * a message "gguf: <item>: <field> at offset <n>: <what is wrong>"; hostile names are
 * printed sanitised and shortened.
 *
 * Little-endian hosts only: values are copied out of the mapping with memcpy as they
 * are stored. GGUF v3 allows big-endian files; those are detected and refused.
 */
#include "medify/gguf.h"
#include "medify/tensor.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <float.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the GGUF reader assumes a little-endian host"
#endif

/* Smallest encodings, used to bound counts by the bytes that remain before any
 * allocation: a key/value is a key length (8), a 1-byte key, a type (4) and a 1-byte
 * value; a tensor info is a name length (8), a 1-byte name, n_dims (4), one ne (8),
 * a type (4) and an offset (8). */
#define GGUF_MIN_KV_BYTES          14u
#define GGUF_MIN_TENSOR_INFO_BYTES 33u
#define GGUF_HEADER_BYTES          24u /* magic, version, n_tensors, n_kv */

typedef struct gguf_kv {
    const char *key;        /* NUL-terminated copy in g->names */
    md_gguf_type type;      /* MD_GGUF_TYPE_ARRAY for arrays */
    md_gguf_type elem_type; /* element type of an array; == type otherwise */
    uint64_t n;             /* array count; 1 for a scalar */
    size_t off;             /* offset of the scalar / the string bytes / the first element */
    size_t str_bytes;       /* length of a scalar string */
    size_t i_str;           /* string arrays: index of element 0 in g->str_offs */
} gguf_kv;

struct md_gguf {
    const uint8_t *bytes;
    size_t n_bytes;
    bool mapped; /* bytes is our mmap */
    uint32_t version;
    uint32_t alignment;
    uint64_t data_offset;
    size_t n_kv;
    gguf_kv *kvs;
    size_t n_tensors;
    md_gguf_tensor *tensors;
    md_vec str_offs; /* uint64_t: offset of each string-array element's length field */
    md_arena names;
    md_map kv_index;
    md_map tensor_index;
};

/* ---- the cursor ------------------------------------------------------------------------ */

typedef struct cursor {
    const uint8_t *bytes;
    size_t n_bytes;
    size_t pos;
    char item[128]; /* what is being read: "header", "key #3 'general.name'", ... */
    md_status status;
    md_error *err;
} cursor;

/* Copies a name from the file into out for a message: printable ASCII kept, other
 * bytes as '?', at most 48 characters. */
static void printable_name(char *out, size_t out_bytes, const uint8_t *s, size_t n) {
    size_t j = 0;
    for (size_t i = 0; i < n && j + 4 < out_bytes && i < 48; i++) {
        out[j++] = (s[i] >= 0x20 && s[i] < 0x7f) ? (char)s[i] : '?';
    }
    if (n > 48 && j + 4 < out_bytes) {
        memcpy(out + j, "...", 3);
        j += 3;
    }
    out[j] = '\0';
}

static bool fail(cursor *c, size_t off, const char *field, const char *fmt, ...) MD_PRINTF(4, 5);
static bool fail(cursor *c, size_t off, const char *field, const char *fmt, ...) {
    char what[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    c->status = md_error_set(c->err, MD_ERR_PARSE, "gguf: %s: %s at offset %zu: %s", c->item, field, off, what);
    return false;
}

static bool oom(cursor *c) {
    c->status = md_error_set(c->err, MD_ERR_NOMEM, "gguf: out of memory reading %s", c->item);
    return false;
}

static size_t remaining(const cursor *c) { return c->n_bytes - c->pos; }

static bool need(cursor *c, uint64_t n, const char *field) {
    if (n > remaining(c)) {
        return fail(c, c->pos, field, "truncated: needs %llu bytes, %zu remain", (unsigned long long)n, remaining(c));
    }
    return true;
}

static bool rd_u32(cursor *c, const char *field, uint32_t *v) {
    if (!need(c, 4, field)) {
        return false;
    }
    memcpy(v, c->bytes + c->pos, 4);
    c->pos += 4;
    return true;
}

static bool rd_u64(cursor *c, const char *field, uint64_t *v) {
    if (!need(c, 8, field)) {
        return false;
    }
    memcpy(v, c->bytes + c->pos, 8);
    c->pos += 8;
    return true;
}

/* A string: u64 length + bytes. Checks the length against max_bytes and the file;
 * on success *off is the offset of the bytes and the cursor is past them. */
static bool rd_str(cursor *c, const char *field, uint64_t max_bytes, size_t *off, size_t *n_bytes) {
    size_t len_off = c->pos;
    uint64_t len;
    if (!rd_u64(c, field, &len)) {
        return false;
    }
    if (len > max_bytes) {
        return fail(c, len_off, field, "length %llu exceeds the limit of %llu bytes", (unsigned long long)len,
                    (unsigned long long)max_bytes);
    }
    if (len > remaining(c)) {
        return fail(c, len_off, field, "length %llu runs past the end of the file (%zu bytes remain)",
                    (unsigned long long)len, remaining(c));
    }
    *off = c->pos;
    *n_bytes = (size_t)len;
    c->pos += (size_t)len;
    return true;
}

/* A key or tensor name: non-empty, no NUL byte (the API hands them out as C strings);
 * copied NUL-terminated into the arena. */
static bool rd_name(cursor *c, md_gguf *g, const char *field, uint64_t max_bytes, const char **out) {
    size_t off = 0, n = 0;
    size_t len_off = c->pos;
    if (!rd_str(c, field, max_bytes, &off, &n)) {
        return false;
    }
    if (n == 0) {
        return fail(c, len_off, field, "is empty");
    }
    if (memchr(c->bytes + off, '\0', n)) {
        return fail(c, off, field, "contains a NUL byte");
    }
    char *copy = md_arena_alloc(&g->names, n + 1);
    if (!copy) {
        return oom(c);
    }
    memcpy(copy, c->bytes + off, n);
    copy[n] = '\0';
    *out = copy;
    return true;
}

/* ---- metadata ---------------------------------------------------------------------- */

static const char *const k_type_names[MD_GGUF_TYPE_COUNT] = {
    "uint8", "int8",   "uint16", "int16",  "uint32", "int32",   "float32",
    "bool",  "string", "array",  "uint64", "int64",  "float64",
};
static const uint8_t k_type_sizes[MD_GGUF_TYPE_COUNT] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};
static_assert(MD_ARRAY_LEN(k_type_names) == MD_GGUF_TYPE_COUNT, "a name per metadata type");
static_assert(MD_ARRAY_LEN(k_type_sizes) == MD_GGUF_TYPE_COUNT, "a size per metadata type");

const char *md_gguf_type_name(md_gguf_type t) { return (unsigned)t < MD_GGUF_TYPE_COUNT ? k_type_names[t] : "unknown"; }

size_t md_gguf_type_size(md_gguf_type t) { return (unsigned)t < MD_GGUF_TYPE_COUNT ? k_type_sizes[t] : 0; }

/* Fixed-size values (one or an array of n): bounds, and bools must be 0 or 1. */
static bool rd_fixed(cursor *c, md_gguf_type t, uint64_t n, const char *field) {
    uint64_t n_bytes;
    if (__builtin_mul_overflow(n, (uint64_t)k_type_sizes[t], &n_bytes) || n_bytes > remaining(c)) {
        return fail(c, c->pos, field, "%llu %s values need more bytes than the %zu that remain", (unsigned long long)n,
                    k_type_names[t], remaining(c));
    }
    if (t == MD_GGUF_TYPE_BOOL) {
        for (uint64_t i = 0; i < n; i++) {
            uint8_t b = c->bytes[c->pos + i];
            if (b > 1) {
                return fail(c, c->pos + (size_t)i, field, "bool value %u is neither 0 nor 1", b);
            }
        }
    }
    c->pos += (size_t)n_bytes;
    return true;
}

static bool rd_kv(cursor *c, md_gguf *g, size_t i) {
    gguf_kv *kv = &g->kvs[i];
    snprintf(c->item, sizeof c->item, "key #%zu", i);
    size_t key_off = c->pos;
    if (!rd_name(c, g, "key", MD_GGUF_MAX_KEY_BYTES, &kv->key)) {
        return false;
    }
    char shown[64];
    printable_name(shown, sizeof shown, (const uint8_t *)kv->key, strlen(kv->key));
    snprintf(c->item, sizeof c->item, "key #%zu '%s'", i, shown);
    size_t key_len = strlen(kv->key);
    uint64_t first;
    if (md_map_get(&g->kv_index, kv->key, key_len, &first)) {
        return fail(c, key_off, "key", "duplicate key (first defined as key #%llu)", (unsigned long long)first);
    }
    if (md_map_put(&g->kv_index, kv->key, key_len, i) != MD_OK) {
        return oom(c);
    }
    size_t type_off = c->pos;
    uint32_t type;
    if (!rd_u32(c, "value type", &type)) {
        return false;
    }
    if (type >= MD_GGUF_TYPE_COUNT) {
        return fail(c, type_off, "value type", "unknown type %u", type);
    }
    kv->type = kv->elem_type = (md_gguf_type)type;
    kv->n = 1;
    if (type == MD_GGUF_TYPE_STRING) {
        return rd_str(c, "string value", MD_GGUF_MAX_STRING_BYTES, &kv->off, &kv->str_bytes);
    }
    if (type != MD_GGUF_TYPE_ARRAY) {
        kv->off = c->pos;
        return rd_fixed(c, kv->type, 1, "value");
    }
    size_t elem_off = c->pos;
    uint32_t elem;
    if (!rd_u32(c, "array element type", &elem)) {
        return false;
    }
    if (elem >= MD_GGUF_TYPE_COUNT) {
        return fail(c, elem_off, "array element type", "unknown type %u", elem);
    }
    if (elem == MD_GGUF_TYPE_ARRAY) {
        return fail(c, elem_off, "array element type", "arrays of arrays are not supported");
    }
    kv->elem_type = (md_gguf_type)elem;
    size_t count_off = c->pos;
    if (!rd_u64(c, "array count", &kv->n)) {
        return false;
    }
    if (kv->n > MD_GGUF_MAX_ARRAY_COUNT) {
        return fail(c, count_off, "array count", "%llu exceeds the limit of %u elements", (unsigned long long)kv->n,
                    MD_GGUF_MAX_ARRAY_COUNT);
    }
    kv->off = c->pos;
    if (elem != MD_GGUF_TYPE_STRING) {
        return rd_fixed(c, kv->elem_type, kv->n, "array elements");
    }
    /* Each string needs at least its 8-byte length: bound the count before growing
     * the index, and the total over all string arrays by the limit. */
    uint64_t min_bytes, total;
    if (__builtin_mul_overflow(kv->n, (uint64_t)8, &min_bytes) || min_bytes > remaining(c)) {
        return fail(c, count_off, "array count", "%llu strings need at least 8 bytes each, %zu remain",
                    (unsigned long long)kv->n, remaining(c));
    }
    if (__builtin_add_overflow((uint64_t)g->str_offs.n, kv->n, &total) || total > MD_GGUF_MAX_ARRAY_COUNT) {
        return fail(c, count_off, "array count", "more than %u string elements in all arrays", MD_GGUF_MAX_ARRAY_COUNT);
    }
    kv->i_str = g->str_offs.n;
    if (md_vec_reserve(&g->str_offs, (size_t)total) != MD_OK) {
        return oom(c);
    }
    for (uint64_t j = 0; j < kv->n; j++) {
        uint64_t len_off = c->pos;
        size_t off, n;
        if (!rd_str(c, "array string", MD_GGUF_MAX_STRING_BYTES, &off, &n)) {
            return false;
        }
        if (md_vec_push(&g->str_offs, &len_off) != MD_OK) {
            return oom(c); /* cannot happen after the reserve; kept for the contract */
        }
    }
    return true;
}

/* ---- tensors ----------------------------------------------------------------------- */

static bool rd_tensor_info(cursor *c, md_gguf *g, size_t i, size_t *offset_field_off) {
    md_gguf_tensor *t = &g->tensors[i];
    snprintf(c->item, sizeof c->item, "tensor #%zu", i);
    size_t name_off = c->pos;
    if (!rd_name(c, g, "name", MD_GGUF_MAX_NAME_BYTES, &t->name)) {
        return false;
    }
    char shown[64];
    printable_name(shown, sizeof shown, (const uint8_t *)t->name, strlen(t->name));
    snprintf(c->item, sizeof c->item, "tensor #%zu '%s'", i, shown);
    size_t name_len = strlen(t->name);
    uint64_t first;
    if (md_map_get(&g->tensor_index, t->name, name_len, &first)) {
        return fail(c, name_off, "name", "duplicate tensor name (first used by tensor #%llu)",
                    (unsigned long long)first);
    }
    if (md_map_put(&g->tensor_index, t->name, name_len, i) != MD_OK) {
        return oom(c);
    }
    size_t dims_off = c->pos;
    if (!rd_u32(c, "n_dims", &t->n_dims)) {
        return false;
    }
    if (t->n_dims < 1 || t->n_dims > MD_GGUF_MAX_DIMS) {
        return fail(c, dims_off, "n_dims", "%u is outside 1..%d", t->n_dims, MD_GGUF_MAX_DIMS);
    }
    int64_t n_elements = 1;
    for (uint32_t d = 0; d < MD_GGUF_MAX_DIMS; d++) {
        t->ne[d] = 1;
    }
    for (uint32_t d = 0; d < t->n_dims; d++) {
        size_t ne_off = c->pos;
        char field[16];
        snprintf(field, sizeof field, "ne[%u]", d);
        if (!rd_u64(c, field, &t->ne[d])) {
            return false;
        }
        if (t->ne[d] < 1 || t->ne[d] > (uint64_t)INT64_MAX) {
            return fail(c, ne_off, field, "%llu is not a dimension size (1..INT64_MAX)", (unsigned long long)t->ne[d]);
        }
        if (__builtin_mul_overflow(n_elements, (int64_t)t->ne[d], &n_elements)) {
            return fail(c, ne_off, field, "the element count overflows int64");
        }
    }
    size_t type_off = c->pos;
    if (!rd_u32(c, "type", &t->type)) {
        return false;
    }
    const md_tensor_traits *tr = md_tensor_traits_get(t->type);
    t->usable = tr != NULL;
    t->n_bytes = 0;
    if (tr) {
        uint64_t row_bytes, n_rows = (uint64_t)n_elements / t->ne[0];
        if (t->ne[0] % tr->block_size != 0) {
            return fail(c, type_off, "type", "ne[0] = %llu is not a multiple of the %s block size %u",
                        (unsigned long long)t->ne[0], tr->name, tr->block_size);
        }
        if (!md_tensor_row_bytes(t->type, t->ne[0], &row_bytes) ||
            __builtin_mul_overflow(row_bytes, n_rows, &t->n_bytes)) {
            return fail(c, type_off, "type", "the byte size of %s data overflows", tr->name);
        }
    }
    *offset_field_off = c->pos;
    if (!rd_u64(c, "offset", &t->offset)) {
        return false;
    }
    if (t->offset % g->alignment != 0) {
        return fail(c, *offset_field_off, "offset", "%llu is not a multiple of the alignment %u",
                    (unsigned long long)t->offset, g->alignment);
    }
    return true;
}

typedef struct span {
    uint64_t start, end;
    size_t i;
} span;

static int span_cmp(const void *a, const void *b) {
    const span *x = a, *y = b;
    if (x->start != y->start) {
        return x->start < y->start ? -1 : 1;
    }
    return x->i < y->i ? -1 : x->i > y->i ? 1 : 0; /* deterministic order, so the message is */
}

/* Places every tensor in the data section: inside the file, and no two overlapping. */
static bool place_tensors(cursor *c, md_gguf *g, const size_t *offset_field_off) {
    if (g->n_tensors == 0) {
        return true;
    }
    snprintf(c->item, sizeof c->item, "data section");
    if (g->data_offset > c->n_bytes) {
        return fail(c, c->pos, "padding", "the data section would start at %llu, past the end of the file (%zu)",
                    (unsigned long long)g->data_offset, c->n_bytes);
    }
    span *spans = md_calloc(g->n_tensors, sizeof *spans);
    if (!spans) {
        return oom(c);
    }
    size_t n_spans = 0;
    bool ok = true;
    for (size_t i = 0; i < g->n_tensors && ok; i++) {
        md_gguf_tensor *t = &g->tensors[i];
        uint64_t start, end;
        char shown[64];
        printable_name(shown, sizeof shown, (const uint8_t *)t->name, strlen(t->name));
        snprintf(c->item, sizeof c->item, "tensor #%zu '%s'", i, shown);
        if (__builtin_add_overflow(g->data_offset, t->offset, &start) ||
            __builtin_add_overflow(start, t->n_bytes, &end) || end > c->n_bytes) {
            ok = fail(c, offset_field_off[i], "offset",
                      "data at data section + %llu (%llu bytes) runs past the end of the file (%zu bytes)",
                      (unsigned long long)t->offset, (unsigned long long)t->n_bytes, c->n_bytes);
            break;
        }
        if (t->usable) {
            t->data = c->bytes + start;
            spans[n_spans++] = (span){.start = start, .end = end, .i = i};
        }
    }
    if (ok && n_spans > 1) {
        qsort(spans, n_spans, sizeof *spans, span_cmp);
        for (size_t k = 1; k < n_spans; k++) {
            if (spans[k].start < spans[k - 1].end) {
                const md_gguf_tensor *t = &g->tensors[spans[k].i], *prev = &g->tensors[spans[k - 1].i];
                char shown[64], shown_prev[64];
                printable_name(shown, sizeof shown, (const uint8_t *)t->name, strlen(t->name));
                printable_name(shown_prev, sizeof shown_prev, (const uint8_t *)prev->name, strlen(prev->name));
                snprintf(c->item, sizeof c->item, "tensor #%zu '%s'", spans[k].i, shown);
                ok = fail(c, offset_field_off[spans[k].i], "offset", "data overlaps tensor #%zu '%s'", spans[k - 1].i,
                          shown_prev);
                break;
            }
        }
    }
    md_free(spans);
    return ok;
}

/* ---- the whole file ---------------------------------------------------------------- */

static bool rd_header(cursor *c, md_gguf *g, uint64_t *n_tensors, uint64_t *n_kv) {
    snprintf(c->item, sizeof c->item, "header");
    if (!need(c, 4, "magic")) {
        return false;
    }
    if (memcmp(c->bytes, "GGUF", 4) != 0) {
        return fail(c, 0, "magic", "expected \"GGUF\", found bytes %02x %02x %02x %02x (not a GGUF file)", c->bytes[0],
                    c->bytes[1], c->bytes[2], c->bytes[3]);
    }
    c->pos = 4;
    if (!rd_u32(c, "version", &g->version)) {
        return false;
    }
    uint32_t swapped = __builtin_bswap32(g->version);
    if (g->version == 1) {
        return fail(c, 4, "version",
                    "GGUF version 1 (32-bit counts) is not supported; medify reads versions 2 and 3 "
                    "(re-convert the model with a current llama.cpp)");
    }
    if (swapped >= 1 && swapped <= 3) {
        return fail(c, 4, "version", "big-endian GGUF (version %u byte-swapped) is not supported", swapped);
    }
    if (g->version != 2 && g->version != 3) {
        return fail(c, 4, "version", "unsupported version %u; medify reads versions 2 and 3", g->version);
    }
    if (!rd_u64(c, "n_tensors", n_tensors) || !rd_u64(c, "n_kv", n_kv)) {
        return false;
    }
    if (*n_tensors > MD_GGUF_MAX_TENSORS) {
        return fail(c, 8, "n_tensors", "%llu exceeds the limit of %u", (unsigned long long)*n_tensors,
                    MD_GGUF_MAX_TENSORS);
    }
    if (*n_kv > MD_GGUF_MAX_KV) {
        return fail(c, 16, "n_kv", "%llu exceeds the limit of %u", (unsigned long long)*n_kv, MD_GGUF_MAX_KV);
    }
    /* Both are now small enough that these products cannot overflow. */
    uint64_t min_bytes = *n_kv * GGUF_MIN_KV_BYTES + *n_tensors * GGUF_MIN_TENSOR_INFO_BYTES;
    if (min_bytes > remaining(c)) {
        return fail(c, 8, "n_tensors/n_kv", "%llu tensors and %llu keys need at least %llu bytes, only %zu remain",
                    (unsigned long long)*n_tensors, (unsigned long long)*n_kv, (unsigned long long)min_bytes,
                    remaining(c));
    }
    return true;
}

static bool rd_alignment(cursor *c, md_gguf *g) {
    g->alignment = MD_GGUF_DEFAULT_ALIGNMENT;
    uint64_t i;
    if (!md_map_get(&g->kv_index, "general.alignment", strlen("general.alignment"), &i)) {
        return true;
    }
    const gguf_kv *kv = &g->kvs[i];
    snprintf(c->item, sizeof c->item, "key #%llu 'general.alignment'", (unsigned long long)i);
    if (kv->type != MD_GGUF_TYPE_UINT32) {
        return fail(c, kv->off, "value", "must be uint32, found %s", md_gguf_type_name(kv->type));
    }
    uint32_t a;
    memcpy(&a, c->bytes + kv->off, 4);
    if (a == 0 || (a & (a - 1)) != 0) {
        return fail(c, kv->off, "value", "alignment %u is not a power of two", a);
    }
    g->alignment = a;
    return true;
}

static md_status parse(md_gguf *g, md_error *err) {
    cursor c = {.bytes = g->bytes, .n_bytes = g->n_bytes, .status = MD_OK, .err = err};
    uint64_t n_tensors = 0, n_kv = 0;
    if (!rd_header(&c, g, &n_tensors, &n_kv)) {
        return c.status;
    }
    g->kvs = md_calloc((size_t)n_kv ? (size_t)n_kv : 1, sizeof *g->kvs);
    g->tensors = md_calloc((size_t)n_tensors ? (size_t)n_tensors : 1, sizeof *g->tensors);
    size_t *offset_field_off = md_calloc((size_t)n_tensors ? (size_t)n_tensors : 1, sizeof *offset_field_off);
    bool ok = g->kvs && g->tensors && offset_field_off;
    if (!ok) {
        oom(&c);
    }
    for (size_t i = 0; ok && i < (size_t)n_kv; i++) {
        ok = rd_kv(&c, g, i);
        g->n_kv = ok ? i + 1 : i;
    }
    ok = ok && rd_alignment(&c, g);
    for (size_t i = 0; ok && i < (size_t)n_tensors; i++) {
        ok = rd_tensor_info(&c, g, i, &offset_field_off[i]);
        g->n_tensors = ok ? i + 1 : i;
    }
    if (ok) {
        /* The data section starts at the next multiple of the alignment. */
        uint64_t end = c.pos, pad = (g->alignment - end % g->alignment) % g->alignment;
        if (__builtin_add_overflow(end, pad, &g->data_offset)) {
            ok = fail(&c, c.pos, "padding", "the data offset overflows");
        }
    }
    ok = ok && place_tensors(&c, g, offset_field_off);
    md_free(offset_field_off);
    return ok ? MD_OK : c.status;
}

static md_gguf *gguf_new(const void *bytes, size_t n_bytes) {
    md_gguf *g = md_calloc(1, sizeof *g);
    if (!g) {
        return NULL;
    }
    g->bytes = bytes;
    g->n_bytes = n_bytes;
    g->alignment = MD_GGUF_DEFAULT_ALIGNMENT;
    md_vec_init(&g->str_offs, sizeof(uint64_t));
    md_arena_init(&g->names, 0);
    md_map_init(&g->kv_index);
    md_map_init(&g->tensor_index);
    return g;
}

md_status md_gguf_open_memory(const void *bytes, size_t n_bytes, md_gguf **out, md_error *err) {
    if (!out || (!bytes && n_bytes > 0)) {
        return md_error_set(err, MD_ERR_INVALID_ARG, "md_gguf_open_memory: no bytes or no output");
    }
    *out = NULL;
    md_gguf *g = gguf_new(bytes ? bytes : "", n_bytes);
    if (!g) {
        return md_error_set(err, MD_ERR_NOMEM, "gguf: out of memory");
    }
    md_status st = parse(g, err);
    if (st != MD_OK) {
        md_gguf_close(g);
        return st;
    }
    *out = g;
    return MD_OK;
}

md_status md_gguf_open(const char *path, md_gguf **out, md_error *err) {
    if (!path || !out) {
        return md_error_set(err, MD_ERR_INVALID_ARG, "md_gguf_open: no path or no output");
    }
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        return md_error_set(err, e == ENOENT ? MD_ERR_NOT_FOUND : MD_ERR_IO, "%s: %s", path, strerror(e));
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return md_error_set(err, MD_ERR_IO, "%s: %s", path, strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return md_error_set(err, MD_ERR_IO, "%s: not a regular file", path);
    }
    size_t n_bytes = (size_t)st.st_size;
    void *map = NULL;
    if (n_bytes > 0) {
        map = mmap(NULL, n_bytes, PROT_READ, MAP_PRIVATE, fd, 0);
        if (map == MAP_FAILED) {
            int e = errno;
            close(fd);
            return md_error_set(err, MD_ERR_IO, "%s: mmap: %s", path, strerror(e));
        }
    }
    close(fd); /* the mapping keeps the file */
    md_gguf *g = gguf_new(map ? map : "", n_bytes);
    if (!g) {
        if (map) {
            munmap(map, n_bytes);
        }
        return md_error_set(err, MD_ERR_NOMEM, "gguf: out of memory");
    }
    g->mapped = map != NULL;
    md_status s = parse(g, err);
    if (s != MD_OK) {
        md_gguf_close(g);
        if (err) {
            char msg[MD_ERROR_MSG_BYTES];
            snprintf(msg, sizeof msg, "%s", err->message);
            md_error_set(err, s, "%s: %s", path, msg);
        }
        return s;
    }
    *out = g;
    return MD_OK;
}

void md_gguf_close(md_gguf *g) {
    if (!g) {
        return;
    }
    if (g->mapped) {
        munmap((void *)g->bytes, g->n_bytes);
    }
    md_free(g->kvs);
    md_free(g->tensors);
    md_vec_free(&g->str_offs);
    md_arena_free(&g->names);
    md_map_free(&g->kv_index);
    md_map_free(&g->tensor_index);
    md_free(g);
}

/* ---- accessors --------------------------------------------------------------------- */

uint32_t md_gguf_version(const md_gguf *g) { return g ? g->version : 0; }
size_t md_gguf_n_kv(const md_gguf *g) { return g ? g->n_kv : 0; }
size_t md_gguf_n_tensors(const md_gguf *g) { return g ? g->n_tensors : 0; }
uint32_t md_gguf_alignment(const md_gguf *g) { return g ? g->alignment : MD_GGUF_DEFAULT_ALIGNMENT; }
uint64_t md_gguf_data_offset(const md_gguf *g) { return g ? g->data_offset : 0; }

const md_gguf_tensor *md_gguf_tensor_at(const md_gguf *g, size_t i) {
    return g && i < g->n_tensors ? &g->tensors[i] : NULL;
}

const md_gguf_tensor *md_gguf_tensor_find(const md_gguf *g, const char *name) {
    uint64_t i;
    if (!g || !name || !md_map_get(&g->tensor_index, name, strlen(name), &i)) {
        return NULL;
    }
    return &g->tensors[i];
}

int64_t md_gguf_find_key(const md_gguf *g, const char *key) {
    uint64_t i;
    if (!g || !key || !md_map_get(&g->kv_index, key, strlen(key), &i)) {
        return -1;
    }
    return (int64_t)i;
}

const char *md_gguf_key_at(const md_gguf *g, size_t i) { return g && i < g->n_kv ? g->kvs[i].key : NULL; }

md_gguf_type md_gguf_kv_type(const md_gguf *g, size_t i) {
    return g && i < g->n_kv ? g->kvs[i].type : MD_GGUF_TYPE_COUNT;
}

static const gguf_kv *kv_get(const md_gguf *g, const char *key) {
    int64_t i = md_gguf_find_key(g, key);
    return i < 0 ? NULL : &g->kvs[i];
}

/* An integer value at p of type t, as sign + magnitude so every type fits. */
typedef struct int_val {
    bool neg;
    uint64_t mag;
} int_val;

static bool read_int(const uint8_t *p, md_gguf_type t, int_val *v) {
    int64_t s = 0;
    uint64_t u = 0;
    bool is_signed = true;
    switch (t) {
    case MD_GGUF_TYPE_UINT8: u = p[0], is_signed = false; break;
    case MD_GGUF_TYPE_INT8: s = (int8_t)p[0]; break;
    case MD_GGUF_TYPE_UINT16: {
        uint16_t x;
        memcpy(&x, p, 2);
        u = x, is_signed = false;
        break;
    }
    case MD_GGUF_TYPE_INT16: {
        int16_t x;
        memcpy(&x, p, 2);
        s = x;
        break;
    }
    case MD_GGUF_TYPE_UINT32: {
        uint32_t x;
        memcpy(&x, p, 4);
        u = x, is_signed = false;
        break;
    }
    case MD_GGUF_TYPE_INT32: {
        int32_t x;
        memcpy(&x, p, 4);
        s = x;
        break;
    }
    case MD_GGUF_TYPE_UINT64: memcpy(&u, p, 8), is_signed = false; break;
    case MD_GGUF_TYPE_INT64: memcpy(&s, p, 8); break;
    default: return false;
    }
    if (is_signed) {
        v->neg = s < 0;
        v->mag = s < 0 ? (uint64_t)0 - (uint64_t)s : (uint64_t)s;
    } else {
        v->neg = false;
        v->mag = u;
    }
    return true;
}

static bool int_to_i64(int_val v, int64_t *out) {
    if (!v.neg) {
        if (v.mag > (uint64_t)INT64_MAX) {
            return false;
        }
        *out = (int64_t)v.mag;
        return true;
    }
    if (v.mag > (uint64_t)INT64_MAX + 1u) {
        return false;
    }
    *out = v.mag == (uint64_t)INT64_MAX + 1u ? INT64_MIN : -(int64_t)v.mag;
    return true;
}

static bool read_float(const uint8_t *p, md_gguf_type t, double *out) {
    if (t == MD_GGUF_TYPE_FLOAT32) {
        float f;
        memcpy(&f, p, 4);
        *out = f;
        return true;
    }
    if (t == MD_GGUF_TYPE_FLOAT64) {
        memcpy(out, p, 8);
        return true;
    }
    return false;
}

/* double → float without undefined behaviour: finite values out of range fail. */
static bool double_to_f32(double d, float *out) {
    if (d == d && (d > FLT_MAX || d < -FLT_MAX) && d - d == 0.0) {
        return false;
    }
    *out = (float)d;
    return true;
}

static const uint8_t *scalar_at(const md_gguf *g, const char *key, const gguf_kv **kv_out) {
    const gguf_kv *kv = kv_get(g, key);
    if (!kv || kv->type == MD_GGUF_TYPE_ARRAY || kv->type == MD_GGUF_TYPE_STRING) {
        return NULL;
    }
    *kv_out = kv;
    return g->bytes + kv->off;
}

bool md_gguf_get_i64(const md_gguf *g, const char *key, int64_t *out) {
    const gguf_kv *kv;
    const uint8_t *p = scalar_at(g, key, &kv);
    int_val v;
    int64_t x;
    if (!p || !read_int(p, kv->type, &v) || !int_to_i64(v, &x)) {
        return false;
    }
    if (out) {
        *out = x;
    }
    return true;
}

bool md_gguf_get_u64(const md_gguf *g, const char *key, uint64_t *out) {
    const gguf_kv *kv;
    const uint8_t *p = scalar_at(g, key, &kv);
    int_val v;
    if (!p || !read_int(p, kv->type, &v) || (v.neg && v.mag != 0)) {
        return false;
    }
    if (out) {
        *out = v.mag;
    }
    return true;
}

bool md_gguf_get_u32(const md_gguf *g, const char *key, uint32_t *out) {
    uint64_t v;
    if (!md_gguf_get_u64(g, key, &v) || v > UINT32_MAX) {
        return false;
    }
    if (out) {
        *out = (uint32_t)v;
    }
    return true;
}

bool md_gguf_get_f64(const md_gguf *g, const char *key, double *out) {
    const gguf_kv *kv;
    const uint8_t *p = scalar_at(g, key, &kv);
    double d;
    if (!p || !read_float(p, kv->type, &d)) {
        return false;
    }
    if (out) {
        *out = d;
    }
    return true;
}

bool md_gguf_get_f32(const md_gguf *g, const char *key, float *out) {
    double d;
    float f;
    if (!md_gguf_get_f64(g, key, &d) || !double_to_f32(d, &f)) {
        return false;
    }
    if (out) {
        *out = f;
    }
    return true;
}

bool md_gguf_get_bool(const md_gguf *g, const char *key, bool *out) {
    const gguf_kv *kv;
    const uint8_t *p = scalar_at(g, key, &kv);
    if (!p || kv->type != MD_GGUF_TYPE_BOOL) {
        return false;
    }
    if (out) {
        *out = p[0] != 0;
    }
    return true;
}

bool md_gguf_get_str(const md_gguf *g, const char *key, const char **s, size_t *n_bytes) {
    const gguf_kv *kv = kv_get(g, key);
    if (!kv || kv->type != MD_GGUF_TYPE_STRING) {
        return false;
    }
    if (s) {
        *s = (const char *)g->bytes + kv->off;
    }
    if (n_bytes) {
        *n_bytes = kv->str_bytes;
    }
    return true;
}

bool md_gguf_get_arr(const md_gguf *g, const char *key, md_gguf_type *elem_type, uint64_t *n) {
    const gguf_kv *kv = kv_get(g, key);
    if (!kv || kv->type != MD_GGUF_TYPE_ARRAY) {
        return false;
    }
    if (elem_type) {
        *elem_type = kv->elem_type;
    }
    if (n) {
        *n = kv->n;
    }
    return true;
}

const void *md_gguf_arr_data(const md_gguf *g, const char *key, md_gguf_type *elem_type, uint64_t *n) {
    const gguf_kv *kv = kv_get(g, key);
    if (!kv || kv->type != MD_GGUF_TYPE_ARRAY || kv->elem_type == MD_GGUF_TYPE_STRING) {
        return NULL;
    }
    if (elem_type) {
        *elem_type = kv->elem_type;
    }
    if (n) {
        *n = kv->n;
    }
    return g->bytes + kv->off;
}

/* Element i of a fixed-size array, or NULL. */
static const uint8_t *elem_at(const md_gguf *g, const char *key, uint64_t i, md_gguf_type *t) {
    const gguf_kv *kv = kv_get(g, key);
    if (!kv || kv->type != MD_GGUF_TYPE_ARRAY || kv->elem_type == MD_GGUF_TYPE_STRING || i >= kv->n) {
        return NULL;
    }
    *t = kv->elem_type;
    return g->bytes + kv->off + (size_t)i * k_type_sizes[kv->elem_type]; /* validated in bounds */
}

bool md_gguf_arr_str(const md_gguf *g, const char *key, uint64_t i, const char **s, size_t *n_bytes) {
    const gguf_kv *kv = kv_get(g, key);
    if (!kv || kv->type != MD_GGUF_TYPE_ARRAY || kv->elem_type != MD_GGUF_TYPE_STRING || i >= kv->n) {
        return false;
    }
    uint64_t len_off, len;
    memcpy(&len_off, md_vec_at(&g->str_offs, kv->i_str + (size_t)i), sizeof len_off);
    memcpy(&len, g->bytes + len_off, 8);
    if (s) {
        *s = (const char *)g->bytes + len_off + 8;
    }
    if (n_bytes) {
        *n_bytes = (size_t)len;
    }
    return true;
}

bool md_gguf_arr_i64(const md_gguf *g, const char *key, uint64_t i, int64_t *out) {
    md_gguf_type t;
    const uint8_t *p = elem_at(g, key, i, &t);
    int_val v;
    int64_t x;
    if (!p || !read_int(p, t, &v) || !int_to_i64(v, &x)) {
        return false;
    }
    if (out) {
        *out = x;
    }
    return true;
}

bool md_gguf_arr_i32(const md_gguf *g, const char *key, uint64_t i, int32_t *out) {
    int64_t x;
    if (!md_gguf_arr_i64(g, key, i, &x) || x < INT32_MIN || x > INT32_MAX) {
        return false;
    }
    if (out) {
        *out = (int32_t)x;
    }
    return true;
}

bool md_gguf_arr_f64(const md_gguf *g, const char *key, uint64_t i, double *out) {
    md_gguf_type t;
    const uint8_t *p = elem_at(g, key, i, &t);
    double d;
    if (!p || !read_float(p, t, &d)) {
        return false;
    }
    if (out) {
        *out = d;
    }
    return true;
}

bool md_gguf_arr_f32(const md_gguf *g, const char *key, uint64_t i, float *out) {
    double d;
    float f;
    if (!md_gguf_arr_f64(g, key, i, &d) || !double_to_f32(d, &f)) {
        return false;
    }
    if (out) {
        *out = f;
    }
    return true;
}

bool md_gguf_arr_bool(const md_gguf *g, const char *key, uint64_t i, bool *out) {
    md_gguf_type t;
    const uint8_t *p = elem_at(g, key, i, &t);
    if (!p || t != MD_GGUF_TYPE_BOOL) {
        return false;
    }
    if (out) {
        *out = p[0] != 0;
    }
    return true;
}
