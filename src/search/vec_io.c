/* Saving, loading and verifying vector index files (format in vec_io.h).
 *
 * Save writes a temporary file in the target's directory, fsyncs it and renames it
 * over the target, then fsyncs the directory: a crash leaves the old file or the new
 * one, never a mix.
 *
 * Load treats the file as hostile: the size must match the header, every section's
 * count times its item size is computed with overflow checks and must lie inside the
 * file, the checksum must match, the parameters must be ones md_vindex_new accepts,
 * and the graph must pass mdv_check_graph (every link a valid node of a high enough
 * level) before a search may follow a link. The file is then mapped read-only and
 * the index points into the mapping; the first change copies it into memory. The
 * work is O(file) for the checksum and the checks, with no copying of vectors.
 */
#include "search/vec_io.h"
#include "search/vec_index.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <pthread.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "vec_io.c writes native little-endian arrays; a big-endian port needs byte swapping"
#endif

/* ---------------------------------------------------------------- CRC-32C ---- */

static uint32_t crc_table[256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;
static bool crc_hw;

static void crc_init(void) {
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int j = 0; j < 8; j++) {
            c = (c >> 1) ^ (0x82F63B78u & (0u - (c & 1u))); /* reflected Castagnoli polynomial */
        }
        crc_table[i] = c;
    }
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    __builtin_cpu_init();
    crc_hw = __builtin_cpu_supports("sse4.2");
#endif
}

static uint32_t crc_sw(uint32_t c, const uint8_t *p, size_t n) {
    for (size_t i = 0; i < n; i++) {
        c = crc_table[(c ^ p[i]) & 0xffu] ^ (c >> 8);
    }
    return c;
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
__attribute__((target("sse4.2"))) static uint32_t crc_hw_run(uint32_t c, const uint8_t *p, size_t n) {
    uint64_t c64 = c;
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        c64 = _mm_crc32_u64(c64, w);
        p += 8;
        n -= 8;
    }
    c = (uint32_t)c64;
    while (n > 0) {
        c = _mm_crc32_u8(c, *p++);
        n--;
    }
    return c;
}
#endif

uint32_t mdv_crc32c(uint32_t crc, const void *bytes, size_t n_bytes) {
    pthread_once(&crc_once, crc_init);
    uint32_t c = ~crc;
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    if (crc_hw) {
        return ~crc_hw_run(c, bytes, n_bytes);
    }
#endif
    return ~crc_sw(c, bytes, n_bytes);
}

/* ------------------------------------------------------------- header io ---- */

static void put32(uint8_t *h, size_t off, uint32_t x) { memcpy(h + off, &x, 4); }
static void put64(uint8_t *h, size_t off, uint64_t x) { memcpy(h + off, &x, 8); }
static uint32_t get32(const uint8_t *h, size_t off) {
    uint32_t x;
    memcpy(&x, h + off, 4);
    return x;
}
static uint64_t get64(const uint8_t *h, size_t off) {
    uint64_t x;
    memcpy(&x, h + off, 8);
    return x;
}

enum { SEC_RECORDS, SEC_IDS, SEC_LEVELS, SEC_DELETED, SEC_UPPER_OFF, SEC_UPPER, SEC_COUNT };

typedef struct section {
    const char *name;
    uint64_t off;
    uint64_t n_items;
    uint64_t item_bytes;
} section;

static uint64_t align_up(uint64_t x) { return (x + MDV_FILE_ALIGN - 1) & ~(uint64_t)(MDV_FILE_ALIGN - 1); }

static void sections_of(const md_vindex *v, section sec[SEC_COUNT]) {
    sec[SEC_RECORDS] = (section){"records", 0, v->n_nodes, v->record_bytes};
    sec[SEC_IDS] = (section){"ids", 0, v->n_nodes, 8};
    sec[SEC_LEVELS] = (section){"levels", 0, v->n_nodes, 1};
    sec[SEC_DELETED] = (section){"deleted", 0, v->n_nodes, 1};
    sec[SEC_UPPER_OFF] = (section){"upper_off", 0, v->n_nodes, 8};
    sec[SEC_UPPER] = (section){"upper", 0, v->n_upper, 4};
    uint64_t off = MDV_FILE_HEADER_BYTES;
    for (int i = 0; i < SEC_COUNT; i++) {
        sec[i].off = align_up(off);
        off = sec[i].off + sec[i].n_items * sec[i].item_bytes;
    }
}

static void header_build(const md_vindex *v, const section sec[SEC_COUNT], uint64_t file_bytes,
                         uint8_t h[MDV_FILE_HEADER_BYTES]) {
    memset(h, 0, MDV_FILE_HEADER_BYTES);
    memcpy(h, MDV_FILE_MAGIC, 8);
    put32(h, 8, MDV_FILE_VERSION);
    put32(h, 12, MDV_FILE_HEADER_BYTES);
    const md_vindex_params *p = &v->params;
    uint32_t u32s[9] = {(uint32_t)p->kind,
                        (uint32_t)p->dim,
                        (uint32_t)p->metric,
                        (uint32_t)p->storage,
                        p->m,
                        p->ef_construction,
                        p->ef_search,
                        v->max_level,
                        v->entry};
    for (size_t i = 0; i < 9; i++) {
        put32(h, 16 + 4 * i, u32s[i]);
    }
    uint64_t u64s[6] = {p->seed, v->rng, v->n_nodes, v->n_deleted, v->n_upper, v->record_bytes};
    for (size_t i = 0; i < 6; i++) {
        put64(h, 56 + 8 * i, u64s[i]);
    }
    for (int i = 0; i < SEC_COUNT; i++) {
        put64(h, 104 + 8 * (size_t)i, sec[i].off);
    }
    put64(h, 152, file_bytes);
}

static const void *section_data(const md_vindex *v, int i) {
    switch (i) {
    case SEC_RECORDS: return v->records;
    case SEC_IDS: return v->ids;
    case SEC_LEVELS: return v->levels;
    case SEC_DELETED: return v->deleted;
    case SEC_UPPER_OFF: return v->upper_off;
    default: return v->upper;
    }
}

/* ------------------------------------------------------------------ save ---- */

static bool write_all(int fd, const void *bytes, size_t n, uint32_t *crc) {
    const uint8_t *p = bytes;
    if (crc) {
        *crc = mdv_crc32c(*crc, bytes, n);
    }
    while (n > 0) {
        ssize_t w = write(fd, p, n > (1u << 30) ? (1u << 30) : n);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            return false;
        }
        p += w;
        n -= (size_t)w;
    }
    return true;
}

static void fsync_dir_of(const char *path) {
    char *copy = md_strdup(path);
    if (!copy) {
        return;
    }
    int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
    md_free(copy);
}

md_status md_vindex_save(const md_vindex *v, const char *path, md_error *err) {
    if (!v || !path) {
        return md_error_set(err, MD_ERR_INVALID_ARG, "vector index: NULL argument");
    }
    size_t n_path = strlen(path);
    char *tmp = md_malloc(n_path + 16);
    if (!tmp) {
        return md_error_set(err, MD_ERR_NOMEM, "vector index: out of memory");
    }
    memcpy(tmp, path, n_path);
    memcpy(tmp + n_path, ".tmp.XXXXXX", 12);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        md_status st =
            md_error_set(err, MD_ERR_IO, "vector index: cannot create a file beside %s: %s", path, strerror(errno));
        md_free(tmp);
        return st;
    }
    section sec[SEC_COUNT];
    sections_of(v, sec);
    uint64_t file_bytes = sec[SEC_UPPER].off + sec[SEC_UPPER].n_items * sec[SEC_UPPER].item_bytes;
    uint8_t h[MDV_FILE_HEADER_BYTES];
    static const uint8_t zeros[MDV_FILE_ALIGN];
    uint32_t crc = 0;
    bool ok = write_all(fd, zeros, sizeof(zeros), NULL) && write_all(fd, zeros, sizeof(zeros), NULL) &&
              write_all(fd, zeros, sizeof(zeros), NULL); /* header placeholder: 3 * 64 = 192 */
    uint64_t at = MDV_FILE_HEADER_BYTES;
    for (int i = 0; ok && i < SEC_COUNT; i++) {
        ok = write_all(fd, zeros, (size_t)(sec[i].off - at), &crc) &&
             write_all(fd, section_data(v, i), (size_t)(sec[i].n_items * sec[i].item_bytes), &crc);
        at = sec[i].off + sec[i].n_items * sec[i].item_bytes;
    }
    if (ok) {
        header_build(v, sec, file_bytes, h);
        crc = mdv_crc32c(crc, h, sizeof(h));
        put32(h, MDV_FILE_OFF_CHECKSUM, crc);
        ok = pwrite(fd, h, sizeof(h), 0) == (ssize_t)sizeof(h) && fsync(fd) == 0;
    }
    int saved_errno = errno;
    if (close(fd) != 0) {
        ok = false;
    }
    if (ok && rename(tmp, path) != 0) {
        saved_errno = errno;
        ok = false;
    }
    if (!ok) {
        unlink(tmp);
        md_free(tmp);
        return md_error_set(err, MD_ERR_IO, "vector index: cannot write %s: %s", path, strerror(saved_errno));
    }
    md_free(tmp);
    fsync_dir_of(path);
    return MD_OK;
}

/* ------------------------------------------------------------------ load ---- */

static md_status bad(md_error *err, const char *path, const char *what) {
    return md_error_set(err, MD_ERR_PARSE, "vector index file %s: %s", path, what);
}

md_status md_vindex_load(const char *path, md_vindex **out, md_error *err) {
    if (!path || !out) {
        return md_error_set(err, MD_ERR_INVALID_ARG, "vector index: NULL argument");
    }
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return md_error_set(err, errno == ENOENT ? MD_ERR_NOT_FOUND : MD_ERR_IO, "vector index file %s: %s", path,
                            strerror(errno));
    }
    struct stat stbuf;
    if (fstat(fd, &stbuf) != 0 || !S_ISREG(stbuf.st_mode)) {
        close(fd);
        return md_error_set(err, MD_ERR_IO, "vector index file %s: not a regular file", path);
    }
    uint64_t size = (uint64_t)stbuf.st_size;
    if (size < MDV_FILE_HEADER_BYTES) {
        close(fd);
        return bad(err, path, "truncated: shorter than the header");
    }
    if (size > SIZE_MAX) {
        close(fd);
        return md_error_set(err, MD_ERR_TOO_LARGE, "vector index file %s: too large to map", path);
    }
    void *map = mmap(NULL, (size_t)size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (map == MAP_FAILED) {
        return md_error_set(err, MD_ERR_IO, "vector index file %s: mmap: %s", path, strerror(errno));
    }
    const uint8_t *h = map;
    md_status st = MD_OK;
    md_vindex *v = NULL;
    if (memcmp(h, MDV_FILE_MAGIC, 8) != 0) {
        st = bad(err, path, "bad magic: not a medify vector index");
        goto fail;
    }
    if (get32(h, 8) != MDV_FILE_VERSION) {
        st = md_error_set(err, MD_ERR_UNSUPPORTED, "vector index file %s: version %u, this build reads %u", path,
                          get32(h, 8), MDV_FILE_VERSION);
        goto fail;
    }
    if (get32(h, 12) != MDV_FILE_HEADER_BYTES) {
        st = bad(err, path, "bad header size");
        goto fail;
    }
    if (get64(h, 152) != size) {
        st = bad(err, path,
                 get64(h, 152) > size ? "truncated: shorter than its header says" : "longer than its header says");
        goto fail;
    }
    uint8_t hz[MDV_FILE_HEADER_BYTES];
    memcpy(hz, h, sizeof(hz));
    put32(hz, MDV_FILE_OFF_CHECKSUM, 0);
    uint32_t crc = mdv_crc32c(0, h + MDV_FILE_HEADER_BYTES, (size_t)(size - MDV_FILE_HEADER_BYTES));
    crc = mdv_crc32c(crc, hz, sizeof(hz));
    if (crc != get32(h, MDV_FILE_OFF_CHECKSUM)) {
        st = bad(err, path, "checksum mismatch");
        goto fail;
    }
    md_vindex_params p = {
        .kind = (md_vindex_kind)get32(h, 16),
        .dim = get32(h, 20),
        .metric = (md_metric)get32(h, 24),
        .storage = (md_vstorage)get32(h, 28),
        .m = get32(h, 32),
        .ef_construction = get32(h, 36),
        .ef_search = get32(h, 40),
        .seed = get64(h, 56),
    };
    md_error perr;
    if (mdv_validate_params(&p, &perr) != MD_OK) {
        st = md_error_set(err, MD_ERR_PARSE, "vector index file %s: %s", path, perr.message);
        goto fail;
    }
    st = mdv_index_alloc(p, &v, err);
    if (st != MD_OK) {
        goto fail;
    }
    uint64_t n_nodes = get64(h, 72), n_deleted = get64(h, 80), n_upper = get64(h, 88);
    if (get64(h, 96) != v->record_bytes) {
        st = bad(err, path, "record size does not match dim, storage and M");
        goto fail;
    }
    if (n_nodes > MDV_MAX_NODES || n_deleted > n_nodes || n_upper > size / 4) {
        st = bad(err, path, "counts out of range");
        goto fail;
    }
    v->n_nodes = (size_t)n_nodes;
    v->n_deleted = (size_t)n_deleted;
    v->n_upper = (size_t)n_upper;
    v->max_level = get32(h, 44);
    v->entry = get32(h, 48);
    v->rng = get64(h, 64);
    if (v->max_level > MDV_MAX_LEVEL || (v->params.kind == MD_VINDEX_FLAT && (v->n_upper != 0 || v->max_level))) {
        st = bad(err, path, "bad level");
        goto fail;
    }
    section sec[SEC_COUNT];
    sections_of(v, sec); /* counts and item sizes; offsets come from the file */
    void *ptrs[SEC_COUNT];
    for (int i = 0; i < SEC_COUNT; i++) {
        uint64_t off = get64(h, 104 + 8 * (size_t)i);
        /* n_items * item_bytes without overflow, then [off, off + bytes) inside the file */
        if (sec[i].item_bytes && sec[i].n_items > UINT64_MAX / sec[i].item_bytes) {
            st = bad(err, path, "section size overflows");
            goto fail;
        }
        uint64_t n_bytes = sec[i].n_items * sec[i].item_bytes;
        if (off % MDV_FILE_ALIGN != 0 || off < MDV_FILE_HEADER_BYTES || off > size || n_bytes > size - off) {
            md_error_set(err, MD_ERR_PARSE, "vector index file %s: section %s (%llu bytes at %llu) outside the file",
                         path, sec[i].name, (unsigned long long)n_bytes, (unsigned long long)off);
            st = MD_ERR_PARSE;
            goto fail;
        }
        ptrs[i] = (uint8_t *)map + off;
    }
    v->records = ptrs[SEC_RECORDS];
    v->ids = ptrs[SEC_IDS];
    v->levels = ptrs[SEC_LEVELS];
    v->deleted = ptrs[SEC_DELETED];
    v->upper_off = ptrs[SEC_UPPER_OFF];
    v->upper = ptrs[SEC_UPPER];
    v->cap_nodes = v->n_nodes;
    v->cap_upper = v->n_upper;
    v->file_map = map;
    v->file_map_bytes = (size_t)size;
    map = NULL; /* owned by v from here */
    if (v->params.kind == MD_VINDEX_FLAT) {
        v->entry = v->n_nodes ? 0 : MDV_NONE;
    }
    md_error gerr;
    if (mdv_check_graph(v, &gerr) != MD_OK) {
        st = md_error_set(err, MD_ERR_PARSE, "vector index file %s: %s", path, gerr.message);
        goto fail;
    }
    st = mdv_map_rebuild(v, &gerr);
    if (st != MD_OK) {
        md_error_set(err, st, "vector index file %s: %s", path, gerr.message);
        goto fail;
    }
    *out = v;
    return MD_OK;
fail:
    md_vindex_free(v);
    if (map) {
        munmap(map, (size_t)size);
    }
    return st;
}

md_status md_vindex_verify_file(const char *path, md_error *err) {
    md_vindex *v = NULL;
    md_status st = md_vindex_load(path, &v, err);
    md_vindex_free(v);
    return st;
}
