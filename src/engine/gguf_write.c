/* gguf_write.c: the GGUF writer, which makes the project's own model files (tests,
 * tools, benchmarks).
 *
 * The writer collects metadata (each value already serialised as it will appear in
 * the file) and tensors (their data copied), then emits a GGUF v3 file in one pass:
 * header, key/values in insertion order, tensor infos with offsets assigned in
 * insertion order, zero padding to the alignment, and the tensor data, each tensor
 * padded to the alignment as ggml does. The alignment is `general.alignment` when the
 * caller set it (uint32, a power of two), else 32.
 *
 * Everything the reader would reject (empty or over-long names, duplicate tensors,
 * bad shapes, sizes that do not match the type) is refused when it is added, so a
 * writer can only produce files that md_gguf_open accepts.
 *
 * md_gguf_writer_save is atomic: the bytes go to a new file beside the target
 * (O_EXCL, unique name), which is fsync'ed, renamed over the target and followed by an
 * fsync of the directory; on any failure the temporary file is removed and the target
 * is untouched. Tensor data is streamed from the copies, not assembled in memory.
 */
#include "medify/gguf.h"
#include "medify/tensor.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct wkv {
    char *key;
    md_gguf_type type;
    md_buf value; /* bytes after the type field */
} wkv;

typedef struct wtensor {
    char *name;
    uint32_t type;
    uint32_t n_dims;
    uint64_t ne[MD_GGUF_MAX_DIMS];
    void *data;
    size_t n_bytes;
    uint64_t offset; /* assigned when the file is written */
} wtensor;

struct md_gguf_writer {
    md_vec kvs;     /* wkv */
    md_vec tensors; /* wtensor */
};

md_gguf_writer *md_gguf_writer_new(void) {
    md_gguf_writer *w = md_calloc(1, sizeof *w);
    if (!w) {
        return NULL;
    }
    md_vec_init(&w->kvs, sizeof(wkv));
    md_vec_init(&w->tensors, sizeof(wtensor));
    return w;
}

void md_gguf_writer_free(md_gguf_writer *w) {
    if (!w) {
        return;
    }
    for (size_t i = 0; i < w->kvs.n; i++) {
        wkv *kv = md_vec_at(&w->kvs, i);
        md_free(kv->key);
        md_buf_free(&kv->value);
    }
    for (size_t i = 0; i < w->tensors.n; i++) {
        wtensor *t = md_vec_at(&w->tensors, i);
        md_free(t->name);
        md_free(t->data);
    }
    md_vec_free(&w->kvs);
    md_vec_free(&w->tensors);
    md_free(w);
}

/* ---- metadata ---------------------------------------------------------------------- */

static void put_u32(md_buf *b, uint32_t v) { md_buf_append(b, &v, 4); }
static void put_u64(md_buf *b, uint64_t v) { md_buf_append(b, &v, 8); }
static void put_str(md_buf *b, const char *s, size_t n) {
    put_u64(b, n);
    md_buf_append(b, s, n);
}

/* Takes ownership of `value` (freed on every path). */
static md_status set_kv(md_gguf_writer *w, const char *key, md_gguf_type type, md_buf *value) {
    size_t key_len = key ? strlen(key) : 0;
    if (!w || key_len == 0 || key_len > MD_GGUF_MAX_KEY_BYTES) {
        md_buf_free(value);
        return MD_ERR_INVALID_ARG;
    }
    if (!md_buf_ok(value)) {
        md_buf_free(value);
        return MD_ERR_NOMEM;
    }
    for (size_t i = 0; i < w->kvs.n; i++) {
        wkv *kv = md_vec_at(&w->kvs, i);
        if (strcmp(kv->key, key) == 0) {
            md_buf_free(&kv->value);
            kv->type = type;
            kv->value = *value;
            return MD_OK;
        }
    }
    wkv kv = {.key = md_strdup(key), .type = type, .value = *value};
    if (!kv.key || md_vec_push(&w->kvs, &kv) != MD_OK) {
        md_free(kv.key);
        md_buf_free(value);
        return MD_ERR_NOMEM;
    }
    return MD_OK;
}

static md_status set_scalar(md_gguf_writer *w, const char *key, md_gguf_type type, const void *v) {
    md_buf b;
    md_buf_init(&b);
    md_buf_append(&b, v, md_gguf_type_size(type));
    return set_kv(w, key, type, &b);
}

md_status md_gguf_writer_set_u8(md_gguf_writer *w, const char *key, uint8_t v) {
    return set_scalar(w, key, MD_GGUF_TYPE_UINT8, &v);
}
md_status md_gguf_writer_set_i8(md_gguf_writer *w, const char *key, int8_t v) {
    return set_scalar(w, key, MD_GGUF_TYPE_INT8, &v);
}
md_status md_gguf_writer_set_u16(md_gguf_writer *w, const char *key, uint16_t v) {
    return set_scalar(w, key, MD_GGUF_TYPE_UINT16, &v);
}
md_status md_gguf_writer_set_i16(md_gguf_writer *w, const char *key, int16_t v) {
    return set_scalar(w, key, MD_GGUF_TYPE_INT16, &v);
}
md_status md_gguf_writer_set_u32(md_gguf_writer *w, const char *key, uint32_t v) {
    return set_scalar(w, key, MD_GGUF_TYPE_UINT32, &v);
}
md_status md_gguf_writer_set_i32(md_gguf_writer *w, const char *key, int32_t v) {
    return set_scalar(w, key, MD_GGUF_TYPE_INT32, &v);
}
md_status md_gguf_writer_set_u64(md_gguf_writer *w, const char *key, uint64_t v) {
    return set_scalar(w, key, MD_GGUF_TYPE_UINT64, &v);
}
md_status md_gguf_writer_set_i64(md_gguf_writer *w, const char *key, int64_t v) {
    return set_scalar(w, key, MD_GGUF_TYPE_INT64, &v);
}
md_status md_gguf_writer_set_f32(md_gguf_writer *w, const char *key, float v) {
    return set_scalar(w, key, MD_GGUF_TYPE_FLOAT32, &v);
}
md_status md_gguf_writer_set_f64(md_gguf_writer *w, const char *key, double v) {
    return set_scalar(w, key, MD_GGUF_TYPE_FLOAT64, &v);
}
md_status md_gguf_writer_set_bool(md_gguf_writer *w, const char *key, bool v) {
    uint8_t b = v ? 1 : 0;
    return set_scalar(w, key, MD_GGUF_TYPE_BOOL, &b);
}

md_status md_gguf_writer_set_str(md_gguf_writer *w, const char *key, const char *v) {
    if (!v || strlen(v) > MD_GGUF_MAX_STRING_BYTES) {
        return MD_ERR_INVALID_ARG;
    }
    md_buf b;
    md_buf_init(&b);
    put_str(&b, v, strlen(v));
    return set_kv(w, key, MD_GGUF_TYPE_STRING, &b);
}

md_status md_gguf_writer_set_arr_str(md_gguf_writer *w, const char *key, const char *const *v, size_t n) {
    if ((!v && n > 0) || n > MD_GGUF_MAX_ARRAY_COUNT) {
        return MD_ERR_INVALID_ARG;
    }
    md_buf b;
    md_buf_init(&b);
    put_u32(&b, MD_GGUF_TYPE_STRING);
    put_u64(&b, n);
    for (size_t i = 0; i < n; i++) {
        if (!v[i] || strlen(v[i]) > MD_GGUF_MAX_STRING_BYTES) {
            md_buf_free(&b);
            return MD_ERR_INVALID_ARG;
        }
        put_str(&b, v[i], strlen(v[i]));
    }
    return set_kv(w, key, MD_GGUF_TYPE_ARRAY, &b);
}

md_status md_gguf_writer_set_arr(md_gguf_writer *w, const char *key, md_gguf_type elem_type, const void *elems,
                                 size_t n) {
    size_t elem_bytes = md_gguf_type_size(elem_type);
    if (elem_bytes == 0 || (!elems && n > 0) || n > MD_GGUF_MAX_ARRAY_COUNT) {
        return MD_ERR_INVALID_ARG; /* strings go through set_arr_str; no nested arrays */
    }
    if (elem_type == MD_GGUF_TYPE_BOOL) {
        for (size_t i = 0; i < n; i++) {
            if (((const uint8_t *)elems)[i] > 1) {
                return MD_ERR_INVALID_ARG;
            }
        }
    }
    md_buf b;
    md_buf_init(&b);
    put_u32(&b, (uint32_t)elem_type);
    put_u64(&b, n);
    md_buf_append(&b, elems, n * elem_bytes); /* n ≤ 2^24, elem_bytes ≤ 8: no overflow */
    return set_kv(w, key, MD_GGUF_TYPE_ARRAY, &b);
}

md_status md_gguf_writer_set_arr_f32(md_gguf_writer *w, const char *key, const float *v, size_t n) {
    return md_gguf_writer_set_arr(w, key, MD_GGUF_TYPE_FLOAT32, v, n);
}

md_status md_gguf_writer_set_arr_i32(md_gguf_writer *w, const char *key, const int32_t *v, size_t n) {
    return md_gguf_writer_set_arr(w, key, MD_GGUF_TYPE_INT32, v, n);
}

/* ---- tensors ----------------------------------------------------------------------- */

md_status md_gguf_writer_add_tensor(md_gguf_writer *w, const char *name, md_tensor_type type, uint32_t n_dims,
                                    const uint64_t *ne, const void *data, size_t n_bytes) {
    size_t name_len = name ? strlen(name) : 0;
    if (!w || name_len == 0 || name_len > MD_GGUF_MAX_NAME_BYTES || n_dims < 1 || n_dims > MD_GGUF_MAX_DIMS || !ne ||
        (!data && n_bytes > 0) || w->tensors.n >= MD_GGUF_MAX_TENSORS) {
        return MD_ERR_INVALID_ARG;
    }
    int64_t n_elements = 1;
    for (uint32_t d = 0; d < n_dims; d++) {
        if (ne[d] < 1 || ne[d] > (uint64_t)INT64_MAX ||
            __builtin_mul_overflow(n_elements, (int64_t)ne[d], &n_elements)) {
            return MD_ERR_INVALID_ARG;
        }
    }
    uint64_t row_bytes, expected;
    if (!md_tensor_row_bytes((uint32_t)type, ne[0], &row_bytes) ||
        __builtin_mul_overflow(row_bytes, (uint64_t)n_elements / ne[0], &expected) || expected != n_bytes) {
        return MD_ERR_INVALID_ARG;
    }
    for (size_t i = 0; i < w->tensors.n; i++) {
        const wtensor *t = md_vec_at(&w->tensors, i);
        if (strcmp(t->name, name) == 0) {
            return MD_ERR_INVALID_ARG;
        }
    }
    wtensor t = {.name = md_strdup(name), .type = (uint32_t)type, .n_dims = n_dims, .n_bytes = n_bytes};
    for (uint32_t d = 0; d < MD_GGUF_MAX_DIMS; d++) {
        t.ne[d] = d < n_dims ? ne[d] : 1;
    }
    t.data = md_malloc(n_bytes ? n_bytes : 1);
    if (t.data && n_bytes > 0) {
        memcpy(t.data, data, n_bytes);
    }
    if (!t.name || !t.data || md_vec_push(&w->tensors, &t) != MD_OK) {
        md_free(t.name);
        md_free(t.data);
        return MD_ERR_NOMEM;
    }
    return MD_OK;
}

/* ---- emitting ---------------------------------------------------------------------- */

typedef struct sink {
    md_buf *buf; /* either a buffer ... */
    int fd;      /* ... or a file descriptor */
    int err_no;  /* errno of a failed write */
} sink;

static bool emit(sink *s, const void *bytes, size_t n) {
    if (s->buf) {
        md_buf_append(s->buf, bytes, n);
        return md_buf_ok(s->buf);
    }
    const uint8_t *p = bytes;
    while (n > 0) {
        size_t chunk = n > (size_t)1 << 30 ? (size_t)1 << 30 : n;
        ssize_t k = write(s->fd, p, chunk);
        if (k < 0) {
            if (errno == EINTR) {
                continue;
            }
            s->err_no = errno;
            return false;
        }
        p += k;
        n -= (size_t)k;
    }
    return true;
}

static bool emit_zeros(sink *s, size_t n) {
    static const uint8_t zeros[64];
    while (n > 0) {
        size_t k = n < sizeof zeros ? n : sizeof zeros;
        if (!emit(s, zeros, k)) {
            return false;
        }
        n -= k;
    }
    return true;
}

static uint64_t pad_to(uint64_t n, uint32_t alignment) { return (alignment - n % alignment) % alignment; }

static md_status writer_alignment(const md_gguf_writer *w, uint32_t *alignment, md_error *err) {
    *alignment = MD_GGUF_DEFAULT_ALIGNMENT;
    for (size_t i = 0; i < w->kvs.n; i++) {
        const wkv *kv = md_vec_at(&w->kvs, i);
        if (strcmp(kv->key, "general.alignment") != 0) {
            continue;
        }
        uint32_t a = 0;
        if (kv->type == MD_GGUF_TYPE_UINT32) {
            memcpy(&a, kv->value.data, 4);
        }
        if (kv->type != MD_GGUF_TYPE_UINT32 || a == 0 || (a & (a - 1)) != 0) {
            return md_error_set(err, MD_ERR_INVALID_ARG,
                                "gguf writer: general.alignment must be a uint32 power of two");
        }
        *alignment = a;
    }
    return MD_OK;
}

static md_status writer_emit(md_gguf_writer *w, sink *s, md_error *err) {
    uint32_t alignment;
    md_status st = writer_alignment(w, &alignment, err);
    if (st != MD_OK) {
        return st;
    }
    /* Assign offsets (overflow is impossible for data that fits in memory, but the
     * arithmetic is checked like everywhere else). */
    uint64_t off = 0;
    for (size_t i = 0; i < w->tensors.n; i++) {
        wtensor *t = md_vec_at(&w->tensors, i);
        t->offset = off;
        if (__builtin_add_overflow(off, (uint64_t)t->n_bytes, &off) ||
            __builtin_add_overflow(off, pad_to(off, alignment), &off)) {
            return md_error_set(err, MD_ERR_TOO_LARGE, "gguf writer: tensor data too large");
        }
    }
    md_buf h;
    md_buf_init(&h);
    md_buf_append(&h, "GGUF", 4);
    put_u32(&h, 3);
    put_u64(&h, w->tensors.n);
    put_u64(&h, w->kvs.n);
    for (size_t i = 0; i < w->kvs.n; i++) {
        const wkv *kv = md_vec_at(&w->kvs, i);
        put_str(&h, kv->key, strlen(kv->key));
        put_u32(&h, (uint32_t)kv->type);
        md_buf_append(&h, kv->value.data, kv->value.len);
    }
    for (size_t i = 0; i < w->tensors.n; i++) {
        const wtensor *t = md_vec_at(&w->tensors, i);
        put_str(&h, t->name, strlen(t->name));
        put_u32(&h, t->n_dims);
        for (uint32_t d = 0; d < t->n_dims; d++) {
            put_u64(&h, t->ne[d]);
        }
        put_u32(&h, t->type);
        put_u64(&h, t->offset);
    }
    if (!md_buf_ok(&h)) {
        md_buf_free(&h);
        return md_error_set(err, MD_ERR_NOMEM, "gguf writer: out of memory");
    }
    bool ok = emit(s, h.data, h.len) && (w->tensors.n == 0 || emit_zeros(s, pad_to(h.len, alignment)));
    md_buf_free(&h);
    for (size_t i = 0; ok && i < w->tensors.n; i++) {
        const wtensor *t = md_vec_at(&w->tensors, i);
        ok = emit(s, t->data, t->n_bytes) && emit_zeros(s, pad_to(t->n_bytes, alignment));
    }
    if (!ok) {
        return s->buf ? md_error_set(err, MD_ERR_NOMEM, "gguf writer: out of memory")
                      : md_error_set(err, MD_ERR_IO, "gguf writer: write: %s", strerror(s->err_no));
    }
    return MD_OK;
}

md_status md_gguf_writer_write_buf(md_gguf_writer *w, md_buf *out, md_error *err) {
    if (!w || !out) {
        return md_error_set(err, MD_ERR_INVALID_ARG, "md_gguf_writer_write_buf: no writer or no buffer");
    }
    sink s = {.buf = out, .fd = -1};
    return writer_emit(w, &s, err);
}

/* fsync of the directory makes the rename durable; filesystems that cannot sync a
 * directory (EINVAL) are accepted. */
static md_status sync_dir(const char *path, md_error *err) {
    char dir[PATH_MAX];
    const char *slash = strrchr(path, '/');
    if (!slash) {
        snprintf(dir, sizeof dir, ".");
    } else if (slash == path) {
        snprintf(dir, sizeof dir, "/");
    } else {
        snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
    }
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        return md_error_set(err, MD_ERR_IO, "%s: %s", dir, strerror(errno));
    }
    int rc = fsync(fd);
    int e = errno;
    close(fd);
    if (rc != 0 && e != EINVAL) {
        return md_error_set(err, MD_ERR_IO, "%s: fsync: %s", dir, strerror(e));
    }
    return MD_OK;
}

md_status md_gguf_writer_save(md_gguf_writer *w, const char *path, md_error *err) {
    if (!w || !path || !*path) {
        return md_error_set(err, MD_ERR_INVALID_ARG, "md_gguf_writer_save: no writer or no path");
    }
    char tmp[PATH_MAX];
    int fd = -1;
    for (int attempt = 0; attempt < 16 && fd < 0; attempt++) {
        int n = snprintf(tmp, sizeof tmp, "%s.tmp.%ld.%llx", path, (long)getpid(),
                         (unsigned long long)md_clock_monotonic_ns() + (unsigned long long)attempt);
        if (n < 0 || (size_t)n >= sizeof tmp) {
            return md_error_set(err, MD_ERR_INVALID_ARG, "%s: path too long", path);
        }
        fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (fd < 0 && errno != EEXIST) {
            return md_error_set(err, MD_ERR_IO, "%s: %s", tmp, strerror(errno));
        }
    }
    if (fd < 0) {
        return md_error_set(err, MD_ERR_IO, "%s: could not create a unique temporary file", path);
    }
    sink s = {.buf = NULL, .fd = fd};
    md_status st = writer_emit(w, &s, err);
    if (st == MD_OK && fsync(fd) != 0) {
        st = md_error_set(err, MD_ERR_IO, "%s: fsync: %s", tmp, strerror(errno));
    }
    if (close(fd) != 0 && st == MD_OK) {
        st = md_error_set(err, MD_ERR_IO, "%s: close: %s", tmp, strerror(errno));
    }
    if (st == MD_OK && rename(tmp, path) != 0) {
        st = md_error_set(err, MD_ERR_IO, "%s: rename: %s", path, strerror(errno));
    }
    if (st != MD_OK) {
        unlink(tmp);
        return st;
    }
    return sync_dir(path, err);
}
