/* medify gguf: reading and writing GGUF model files (engine module).
 *
 * GGUF (the llama.cpp model format, versions 2 and 3), little-endian:
 *   magic "GGUF" | u32 version | u64 n_tensors | u64 n_kv
 *   n_kv × { string key | u32 type | value }          (metadata)
 *   n_tensors × { string name | u32 n_dims | n_dims × u64 ne | u32 ggml_type | u64 offset }
 *   padding to `general.alignment` (default 32)
 *   tensor data; each tensor at data_start + offset, offsets aligned
 * Strings are u64 length + bytes (no NUL). Arrays are u32 element type + u64 count +
 * elements. Spec: github.com/ggml-org/ggml/blob/master/docs/gguf.md.
 *
 * The reader maps the file read-only and validates everything before handing out a
 * pointer: every count, length, offset, alignment and shape is checked against the
 * file size with overflow-safe arithmetic; a truncated or hostile file is an error
 * value (MD_ERR_PARSE with a message naming the field), never a crash.
 */
#ifndef MEDIFY_GGUF_H
#define MEDIFY_GGUF_H

#include "medify/base.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Metadata value types, numbered as in the GGUF specification. */
typedef enum md_gguf_type {
    MD_GGUF_TYPE_UINT8 = 0,
    MD_GGUF_TYPE_INT8 = 1,
    MD_GGUF_TYPE_UINT16 = 2,
    MD_GGUF_TYPE_INT16 = 3,
    MD_GGUF_TYPE_UINT32 = 4,
    MD_GGUF_TYPE_INT32 = 5,
    MD_GGUF_TYPE_FLOAT32 = 6,
    MD_GGUF_TYPE_BOOL = 7,
    MD_GGUF_TYPE_STRING = 8,
    MD_GGUF_TYPE_ARRAY = 9,
    MD_GGUF_TYPE_UINT64 = 10,
    MD_GGUF_TYPE_INT64 = 11,
    MD_GGUF_TYPE_FLOAT64 = 12,
    MD_GGUF_TYPE_COUNT = 13,
} md_gguf_type;

/* Tensor element types, numbered as ggml numbers them (only those medify supports
 * are listed; a file with another type loads, and using that tensor is an error). */
typedef enum md_tensor_type {
    MD_TENSOR_TYPE_F32 = 0,
    MD_TENSOR_TYPE_F16 = 1,
    MD_TENSOR_TYPE_Q4_0 = 2,
    MD_TENSOR_TYPE_Q8_0 = 8,
    MD_TENSOR_TYPE_Q4_K = 12,
    MD_TENSOR_TYPE_Q5_K = 13,
    MD_TENSOR_TYPE_Q6_K = 14,
    MD_TENSOR_TYPE_Q8_K = 15, /* activations only */
    MD_TENSOR_TYPE_BF16 = 30,
} md_tensor_type;

#define MD_GGUF_MAX_DIMS 4 /* ggml's GGML_MAX_DIMS */

/* Limits the reader enforces (a file beyond them is MD_ERR_PARSE). Each sits far above
 * what real models need, so only a corrupt or hostile file reaches it; they bound the
 * memory the reader allocates before it has seen the data. */
#define MD_GGUF_DEFAULT_ALIGNMENT 32u    /* spec: used when general.alignment is absent */
#define MD_GGUF_MAX_KEY_BYTES     65535u /* spec: keys are at most 2^16 - 1 bytes */
#define MD_GGUF_MAX_NAME_BYTES    63u    /* ggml: GGML_MAX_NAME is 64 including the NUL */
/* Longest string value: real ones are tokens and chat templates (tens of KiB). */
#define MD_GGUF_MAX_STRING_BYTES (16u * 1024u * 1024u)
/* Metadata entries: real models have 20-60; a vocab-only file a few more. */
#define MD_GGUF_MAX_KV 65536u
/* Tensors: an 8B Llama has 291, the largest MoE checkpoints a few thousand. */
#define MD_GGUF_MAX_TENSORS 65536u
/* Elements of one array, and string elements over all arrays (the reader keeps an
 * 8-byte index per string): real vocabularies and merge lists have < 1 M entries. */
#define MD_GGUF_MAX_ARRAY_COUNT (16u * 1024u * 1024u)

typedef struct md_gguf_tensor {
    const char *name;            /* NUL-terminated copy owned by the file object */
    uint32_t n_dims;
    uint64_t ne[MD_GGUF_MAX_DIMS]; /* elements per dimension; ne[0] is the row length */
    uint32_t type;               /* md_tensor_type value as stored */
    uint64_t offset;             /* from the start of the data section */
    uint64_t n_bytes;            /* validated size of the data */
    const void *data;            /* points into the mapping; NULL when !usable */
    bool usable;                 /* false: a type medify has no traits for (see tensor.h);
                                    the tensor is listed but n_bytes is 0 and data NULL */
} md_gguf_tensor;

typedef struct md_gguf md_gguf;

/* Opens and validates a GGUF file (mmap). Free with md_gguf_close. Names, keys and
 * tensor data pointers stay valid until md_gguf_close. Errors: MD_ERR_NOT_FOUND /
 * MD_ERR_IO for the file itself, MD_ERR_PARSE (message: the field, its offset and what
 * is wrong) for its content, MD_ERR_NOMEM. (A file truncated by someone else while
 * mapped raises SIGBUS on access, as with any mmap reader.) */
md_status md_gguf_open(const char *path, md_gguf **out, md_error *err);
/* The same over bytes in memory (not copied; must outlive the object). Tensor data is
 * aligned to the file's alignment only as far as `bytes` itself is. */
md_status md_gguf_open_memory(const void *bytes, size_t n_bytes, md_gguf **out, md_error *err);
void md_gguf_close(md_gguf *g);

uint32_t md_gguf_version(const md_gguf *g);
size_t md_gguf_n_kv(const md_gguf *g);
size_t md_gguf_n_tensors(const md_gguf *g);
const md_gguf_tensor *md_gguf_tensor_at(const md_gguf *g, size_t i);
const md_gguf_tensor *md_gguf_tensor_find(const md_gguf *g, const char *name); /* NULL if absent */

/* Metadata lookups. Each returns false when the key is absent or has another type. */
int64_t md_gguf_find_key(const md_gguf *g, const char *key); /* index or -1 */
const char *md_gguf_key_at(const md_gguf *g, size_t i);
md_gguf_type md_gguf_kv_type(const md_gguf *g, size_t i);
bool md_gguf_get_u32(const md_gguf *g, const char *key, uint32_t *out);  /* any integer type in range */
bool md_gguf_get_u64(const md_gguf *g, const char *key, uint64_t *out);
bool md_gguf_get_f32(const md_gguf *g, const char *key, float *out);    /* float32 or float64 */
bool md_gguf_get_bool(const md_gguf *g, const char *key, bool *out);
/* Strings are not NUL-terminated in the file: returns pointer and length. */
bool md_gguf_get_str(const md_gguf *g, const char *key, const char **s, size_t *n_bytes);
/* Arrays: element type and count; then typed element access. */
bool md_gguf_get_arr(const md_gguf *g, const char *key, md_gguf_type *elem_type, uint64_t *n);
bool md_gguf_arr_str(const md_gguf *g, const char *key, uint64_t i, const char **s, size_t *n_bytes);
bool md_gguf_arr_f32(const md_gguf *g, const char *key, uint64_t i, float *out);
bool md_gguf_arr_i32(const md_gguf *g, const char *key, uint64_t i, int32_t *out);

/* Additions (medify): the layout of the file, wider scalar getters and raw access. */
uint32_t md_gguf_alignment(const md_gguf *g);   /* general.alignment or 32 */
uint64_t md_gguf_data_offset(const md_gguf *g); /* file offset of the tensor data section */
const char *md_gguf_type_name(md_gguf_type t);  /* "uint32", "string", ...; "unknown" */
size_t md_gguf_type_size(md_gguf_type t);       /* bytes of a fixed-size value; 0 for string/array */
bool md_gguf_get_i64(const md_gguf *g, const char *key, int64_t *out); /* any integer type in range */
bool md_gguf_get_f64(const md_gguf *g, const char *key, double *out);  /* float32 or float64 */
bool md_gguf_arr_i64(const md_gguf *g, const char *key, uint64_t i, int64_t *out); /* integer elements */
bool md_gguf_arr_f64(const md_gguf *g, const char *key, uint64_t i, double *out);  /* float elements */
bool md_gguf_arr_bool(const md_gguf *g, const char *key, uint64_t i, bool *out);
/* The elements of a numeric or bool array as stored: little-endian, packed, possibly
 * unaligned (copy with memcpy). NULL for string arrays, non-arrays and absent keys. */
const void *md_gguf_arr_data(const md_gguf *g, const char *key, md_gguf_type *elem_type, uint64_t *n);

/* ---- writing (tests and tools make their own model files) ------------------------- */

typedef struct md_gguf_writer md_gguf_writer;

md_gguf_writer *md_gguf_writer_new(void); /* NULL on OOM */
void md_gguf_writer_free(md_gguf_writer *w);
md_status md_gguf_writer_set_u32(md_gguf_writer *w, const char *key, uint32_t v);
md_status md_gguf_writer_set_f32(md_gguf_writer *w, const char *key, float v);
md_status md_gguf_writer_set_bool(md_gguf_writer *w, const char *key, bool v);
md_status md_gguf_writer_set_str(md_gguf_writer *w, const char *key, const char *v);
md_status md_gguf_writer_set_arr_str(md_gguf_writer *w, const char *key, const char *const *v, size_t n);
md_status md_gguf_writer_set_arr_f32(md_gguf_writer *w, const char *key, const float *v, size_t n);
md_status md_gguf_writer_set_arr_i32(md_gguf_writer *w, const char *key, const int32_t *v, size_t n);
/* Additions (medify): every other scalar type, and arrays of any fixed-size type
 * (`elems` holds n values of elem_type in host = little-endian layout; bools as bytes
 * 0/1). Setting a key again replaces its value. "general.alignment" (uint32, a power of
 * two) sets the alignment the writer uses. MD_ERR_INVALID_ARG for a bad key or type,
 * MD_ERR_NOMEM. */
md_status md_gguf_writer_set_u8(md_gguf_writer *w, const char *key, uint8_t v);
md_status md_gguf_writer_set_i8(md_gguf_writer *w, const char *key, int8_t v);
md_status md_gguf_writer_set_u16(md_gguf_writer *w, const char *key, uint16_t v);
md_status md_gguf_writer_set_i16(md_gguf_writer *w, const char *key, int16_t v);
md_status md_gguf_writer_set_i32(md_gguf_writer *w, const char *key, int32_t v);
md_status md_gguf_writer_set_u64(md_gguf_writer *w, const char *key, uint64_t v);
md_status md_gguf_writer_set_i64(md_gguf_writer *w, const char *key, int64_t v);
md_status md_gguf_writer_set_f64(md_gguf_writer *w, const char *key, double v);
md_status md_gguf_writer_set_arr(md_gguf_writer *w, const char *key, md_gguf_type elem_type, const void *elems,
                                 size_t n);
/* Adds a tensor whose data (n_bytes, already in `type`'s layout) is copied. */
md_status md_gguf_writer_add_tensor(md_gguf_writer *w, const char *name, md_tensor_type type, uint32_t n_dims,
                                    const uint64_t *ne, const void *data, size_t n_bytes);
/* Writes the file atomically (temporary file + rename). */
md_status md_gguf_writer_save(md_gguf_writer *w, const char *path, md_error *err);
/* Addition (medify): appends the whole file to `out` (tests, fuzz seeds). */
md_status md_gguf_writer_write_buf(md_gguf_writer *w, md_buf *out, md_error *err);

#ifdef __cplusplus
}
#endif

#endif /* MEDIFY_GGUF_H */
