/* snapshot.c: immutable, versioned index directories with a manifest and an atomic
 * `current` pointer.
 *
 * Layout:
 *     DATA_DIR/index/<version>/manifest.json   files, sizes, checksums, counts
 *     DATA_DIR/index/<version>/bm25.bin        BM25 index
 *     DATA_DIR/index/<version>/hnsw.bin        dense chunk vectors (optional; the
 *                                              manifest's "embedding" names the model)
 *     DATA_DIR/index/current                    "<version>\n"
 *
 * Lifecycle: a writer stages files in DATA_DIR/index/.staging-<version>-<pid>/; commit
 * checksums each file (FNV-1a 64, streaming), writes manifest.json, fsyncs the files
 * and the directory, makes the files read-only, renames the staging directory to its
 * version name (atomic on POSIX; fails if the version exists) and then replaces
 * `current` by writing current.tmp, fsyncing it and renaming it over `current`. A crash
 * at any point leaves either the old or the new snapshot live, never a half one;
 * leftover staging directories are ignored by readers.
 *
 * Readers validate the manifest (jansson) and refuse names that are not plain file
 * names, so a tampered manifest cannot point outside its directory.
 */
#include <dirent.h>
#include <stdarg.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "medify/search.h"

#define PATH_BYTES 4096
#define MANIFEST_MAX_BYTES (1u << 20)

struct md_snapshot_writer {
    char index_dir[PATH_BYTES];
    char staging[PATH_BYTES];
    char version[64];
    char path_buf[PATH_BYTES];
    md_snapshot_manifest m;
    bool committed;
};

/* snprintf that reports truncation (paths are checked against PATH_BYTES up front;
 * this keeps the checks honest and the compiler's truncation analysis quiet). */
static bool pfmt(char *dst, size_t cap, const char *fmt, ...) MD_PRINTF(3, 4);
static bool pfmt(char *dst, size_t cap, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(dst, cap, fmt, ap);
    va_end(ap);
    return n >= 0 && (size_t)n < cap;
}

static bool plain_name(const char *s) {
    if (!s || !*s || strlen(s) >= 64 || strcmp(s, ".") == 0 || strcmp(s, "..") == 0 || s[0] == '.') return false;
    for (const char *p = s; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '-' ||
              *p == '_' || *p == '.'))
            return false;
    return true;
}

static md_status mkdir_p(const char *path, md_error *err) {
    char tmp[PATH_BYTES];
    if (!pfmt(tmp, sizeof tmp, "%s", path))
        return md_error_set(err, MD_ERR_INVALID_ARG, "snapshot: path too long");
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
            return md_error_set(err, MD_ERR_IO, "snapshot: cannot create %s: %s", tmp, strerror(errno));
        *p = '/';
    }
    if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
        return md_error_set(err, MD_ERR_IO, "snapshot: cannot create %s: %s", tmp, strerror(errno));
    return MD_OK;
}

static void fsync_path(const char *path) {
    int fd = open(path, O_RDONLY);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
}

static bool exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

md_status md_snapshot_file_checksum(const char *path, char hex[17], uint64_t *n_bytes, md_error *err) {
    FILE *f = fopen(path, "rb");
    if (!f) return md_error_set(err, MD_ERR_IO, "snapshot: cannot open %s: %s", path, strerror(errno));
    uint64_t h = 0xcbf29ce484222325ULL, n = 0; /* FNV-1a 64, streaming */
    unsigned char buf[1 << 16];
    size_t got;
    while ((got = fread(buf, 1, sizeof buf, f)) > 0) {
        for (size_t i = 0; i < got; i++) {
            h ^= buf[i];
            h *= 0x100000001b3ULL;
        }
        n += got;
    }
    bool bad = ferror(f) != 0;
    fclose(f);
    if (bad) return md_error_set(err, MD_ERR_IO, "snapshot: cannot read %s", path);
    snprintf(hex, 17, "%016llx", (unsigned long long)h);
    if (n_bytes) *n_bytes = n;
    return MD_OK;
}

md_status md_snapshot_writer_new(const char *data_dir, const char *version, md_snapshot_writer **out,
                                 md_error *err) {
    *out = NULL;
    if (!data_dir || !*data_dir) return md_error_set(err, MD_ERR_INVALID_ARG, "snapshot: no data directory");
    md_snapshot_writer *w = md_calloc(1, sizeof *w);
    if (!w) return md_error_set(err, MD_ERR_NOMEM, "snapshot: out of memory");
    if (strlen(data_dir) > PATH_BYTES - 256 || !pfmt(w->index_dir, sizeof w->index_dir, "%s/index", data_dir)) {
        md_free(w);
        return md_error_set(err, MD_ERR_INVALID_ARG, "snapshot: data directory path too long");
    }
    md_status s = mkdir_p(w->index_dir, err);
    if (s != MD_OK) {
        md_free(w);
        return s;
    }
    char path[PATH_BYTES];
    if (version && *version) {
        if (!plain_name(version) || strcmp(version, "current") == 0) {
            md_free(w);
            return md_error_set(err, MD_ERR_INVALID_ARG, "snapshot: version '%s' is not a plain name", version);
        }
        pfmt(w->version, sizeof w->version, "%s", version);
        pfmt(path, sizeof path, "%s/%s", w->index_dir, w->version);
        if (exists(path)) {
            md_free(w);
            return md_error_set(err, MD_ERR_CONFLICT, "snapshot: version %s exists; snapshots are immutable", version);
        }
    } else {
        char iso[32];
        md_clock_wall_iso8601(iso); /* YYYY-MM-DDTHH:MM:SS.mmmZ → YYYYMMDDTHHMMSSZ */
        char base[32];
        pfmt(base, sizeof base, "%.4s%.2s%.2sT%.2s%.2s%.2sZ", iso, iso + 5, iso + 8, iso + 11, iso + 14, iso + 17);
        pfmt(w->version, sizeof w->version, "%s", base);
        for (int i = 2; i < 1000; i++) {
            pfmt(path, sizeof path, "%s/%s", w->index_dir, w->version);
            if (!exists(path)) break;
            pfmt(w->version, sizeof w->version, "%s-%d", base, i);
        }
    }
    pfmt(w->staging, sizeof w->staging, "%s/.staging-%s-%ld", w->index_dir, w->version, (long)getpid());
    if (mkdir(w->staging, 0755) != 0) {
        md_status e = md_error_set(err, MD_ERR_IO, "snapshot: cannot create %s: %s", w->staging, strerror(errno));
        md_free(w);
        return e;
    }
    snprintf(w->m.version, sizeof w->m.version, "%s", w->version);
    *out = w;
    return MD_OK;
}

const char *md_snapshot_writer_path(md_snapshot_writer *w, const char *name) {
    if (!w || !plain_name(name)) return NULL;
    pfmt(w->path_buf, sizeof w->path_buf, "%s/%s", w->staging, name);
    return w->path_buf;
}

md_status md_snapshot_writer_add(md_snapshot_writer *w, const char *name, const char *kind, uint64_t n_items,
                                 md_error *err) {
    if (!w || !plain_name(name) || strcmp(name, MD_SNAPSHOT_MANIFEST) == 0 || !kind || strlen(kind) >= 32)
        return md_error_set(err, MD_ERR_INVALID_ARG, "snapshot: bad file name or kind");
    if (w->m.n_files >= MD_SNAPSHOT_MAX_FILES) return md_error_set(err, MD_ERR_LIMIT, "snapshot: too many files");
    for (size_t i = 0; i < w->m.n_files; i++)
        if (strcmp(w->m.files[i].name, name) == 0) return md_error_set(err, MD_ERR_CONFLICT, "snapshot: %s added twice", name);
    md_snapshot_file *f = &w->m.files[w->m.n_files];
    memset(f, 0, sizeof *f);
    snprintf(f->name, sizeof f->name, "%s", name);
    snprintf(f->kind, sizeof f->kind, "%s", kind);
    f->n_items = n_items;
    w->m.n_files++;
    return MD_OK;
}

md_status md_snapshot_writer_set_embedding(md_snapshot_writer *w, const char *model, const char *model_path,
                                           uint32_t dim, md_error *err) {
    if (!w || !model || !*model || !model_path || dim == 0 || strlen(model) >= sizeof w->m.embed_model ||
        strlen(model_path) >= sizeof w->m.embed_model_path)
        return md_error_set(err, MD_ERR_INVALID_ARG, "snapshot: bad embedding model name, path or dimension");
    snprintf(w->m.embed_model, sizeof w->m.embed_model, "%s", model);
    snprintf(w->m.embed_model_path, sizeof w->m.embed_model_path, "%s", model_path);
    w->m.embed_dim = dim;
    return MD_OK;
}

md_status md_snapshot_manifest_to_json(const md_snapshot_manifest *m, md_buf *out) {
    md_buf_append_str(out, "{\n  \"format\": \"medify-index-snapshot\",\n  \"format_version\": 1,\n  \"version\": ");
    md_buf_append_json_str(out, m->version, strlen(m->version));
    md_buf_append_str(out, ",\n  \"dataset_version\": ");
    md_buf_append_json_str(out, m->dataset_version, strlen(m->dataset_version));
    md_buf_append_str(out, ",\n  \"created_at\": ");
    md_buf_append_json_str(out, m->created_at, strlen(m->created_at));
    md_buf_appendf(out, ",\n  \"n_cases\": %llu,\n  \"checksum_algorithm\": \"fnv1a64\",",
                   (unsigned long long)m->n_cases);
    if (m->embed_dim > 0) {
        md_buf_append_str(out, "\n  \"embedding\": {\"model\": ");
        md_buf_append_json_str(out, m->embed_model, strlen(m->embed_model));
        md_buf_append_str(out, ", \"path\": ");
        md_buf_append_json_str(out, m->embed_model_path, strlen(m->embed_model_path));
        md_buf_appendf(out, ", \"dim\": %u},", m->embed_dim);
    }
    md_buf_append_str(out, "\n  \"files\": [");
    for (size_t i = 0; i < m->n_files; i++) {
        const md_snapshot_file *f = &m->files[i];
        md_buf_appendf(out, "%s\n    {\"name\": ", i ? "," : "");
        md_buf_append_json_str(out, f->name, strlen(f->name));
        md_buf_append_str(out, ", \"kind\": ");
        md_buf_append_json_str(out, f->kind, strlen(f->kind));
        md_buf_appendf(out, ", \"bytes\": %llu, \"items\": %llu, \"checksum\": \"%s\"}", (unsigned long long)f->n_bytes,
                       (unsigned long long)f->n_items, f->checksum);
    }
    md_buf_append_str(out, "\n  ]\n}\n");
    return md_buf_ok(out) ? MD_OK : MD_ERR_NOMEM;
}

static md_status write_file_sync(const char *path, const char *data, size_t n, md_error *err) {
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) return md_error_set(err, MD_ERR_IO, "snapshot: cannot create %s: %s", path, strerror(errno));
    size_t off = 0;
    while (off < n) {
        ssize_t w = write(fd, data + off, n - off);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) break;
        off += (size_t)w;
    }
    bool ok = off == n && fsync(fd) == 0;
    ok = close(fd) == 0 && ok;
    return ok ? MD_OK : md_error_set(err, MD_ERR_IO, "snapshot: cannot write %s", path);
}

md_status md_snapshot_writer_commit(md_snapshot_writer *w, const char *dataset_version, uint64_t n_cases,
                                    md_snapshot_manifest *out, md_error *err) {
    if (!w || w->committed) return md_error_set(err, MD_ERR_INVALID_ARG, "snapshot: writer already committed");
    char path[PATH_BYTES];
    for (size_t i = 0; i < w->m.n_files; i++) {
        md_snapshot_file *f = &w->m.files[i];
        pfmt(path, sizeof path, "%s/%s", w->staging, f->name);
        md_status s = md_snapshot_file_checksum(path, f->checksum, &f->n_bytes, err);
        if (s != MD_OK) return s;
        fsync_path(path);
    }
    snprintf(w->m.dataset_version, sizeof w->m.dataset_version, "%s", dataset_version ? dataset_version : "");
    md_clock_wall_iso8601(w->m.created_at);
    w->m.n_cases = n_cases;
    md_buf b;
    md_buf_init(&b);
    if (md_snapshot_manifest_to_json(&w->m, &b) != MD_OK) {
        md_buf_free(&b);
        return md_error_set(err, MD_ERR_NOMEM, "snapshot: out of memory");
    }
    pfmt(path, sizeof path, "%s/%s", w->staging, MD_SNAPSHOT_MANIFEST);
    md_status s = write_file_sync(path, b.data, b.len, err);
    md_buf_free(&b);
    if (s != MD_OK) return s;
    /* read-only files: the snapshot is never modified after this point */
    chmod(path, 0444);
    for (size_t i = 0; i < w->m.n_files; i++) {
        pfmt(path, sizeof path, "%s/%s", w->staging, w->m.files[i].name);
        chmod(path, 0444);
    }
    fsync_path(w->staging);
    char final_dir[PATH_BYTES];
    pfmt(final_dir, sizeof final_dir, "%s/%s", w->index_dir, w->version);
    if (exists(final_dir))
        return md_error_set(err, MD_ERR_CONFLICT, "snapshot: version %s appeared meanwhile", w->version);
    if (rename(w->staging, final_dir) != 0)
        return md_error_set(err, MD_ERR_IO, "snapshot: cannot publish %s: %s", final_dir, strerror(errno));
    w->committed = true;
    fsync_path(w->index_dir);
    /* point `current` at it */
    char cur[PATH_BYTES], tmp[PATH_BYTES], line[80];
    pfmt(cur, sizeof cur, "%s/current", w->index_dir);
    pfmt(tmp, sizeof tmp, "%s/current.tmp-%ld", w->index_dir, (long)getpid());
    pfmt(line, sizeof line, "%s\n", w->version);
    s = write_file_sync(tmp, line, strlen(line), err);
    if (s != MD_OK) return s;
    if (rename(tmp, cur) != 0) {
        unlink(tmp);
        return md_error_set(err, MD_ERR_IO, "snapshot: cannot update %s: %s", cur, strerror(errno));
    }
    fsync_path(w->index_dir);
    if (out) *out = w->m;
    return MD_OK;
}

void md_snapshot_writer_free(md_snapshot_writer *w) {
    if (!w) return;
    if (!w->committed) {
        DIR *d = opendir(w->staging);
        if (d) {
            struct dirent *e;
            char path[PATH_BYTES];
            while ((e = readdir(d)) != NULL) {
                if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
                pfmt(path, sizeof path, "%s/%s", w->staging, e->d_name);
                unlink(path);
            }
            closedir(d);
        }
        rmdir(w->staging);
    }
    md_free(w);
}

md_status md_snapshot_current(const char *data_dir, char version[64], md_error *err) {
    char path[PATH_BYTES];
    pfmt(path, sizeof path, "%s/index/current", data_dir);
    char *text = NULL;
    size_t n = 0;
    md_error e2 = {0};
    md_status s = md_read_file(path, 256, &text, &n, &e2);
    if (s != MD_OK) return md_error_set(err, MD_ERR_NOT_FOUND, "no index snapshot in %s (run 'medify index build')", data_dir);
    while (n > 0 && (text[n - 1] == '\n' || text[n - 1] == '\r' || text[n - 1] == ' ')) text[--n] = '\0';
    if (!plain_name(text)) {
        md_free(text);
        return md_error_set(err, MD_ERR_PARSE, "snapshot: %s does not name a version", path);
    }
    snprintf(version, 64, "%s", text);
    md_free(text);
    return MD_OK;
}

bool md_snapshot_file_path(const char *data_dir, const char *version, const char *name, char *buf,
                           size_t n_buf_bytes) {
    if (!plain_name(version) || !plain_name(name)) return false;
    return pfmt(buf, n_buf_bytes, "%s/index/%s/%s", data_dir, version, name);
}

static bool copy_str(json_t *o, const char *key, char *dst, size_t cap) {
    json_t *x = json_object_get(o, key);
    if (!json_is_string(x) || strlen(json_string_value(x)) >= cap) return false;
    snprintf(dst, cap, "%s", json_string_value(x));
    return true;
}

static bool get_u64(json_t *o, const char *key, uint64_t *v) {
    json_t *x = json_object_get(o, key);
    if (!json_is_integer(x) || json_integer_value(x) < 0) return false;
    *v = (uint64_t)json_integer_value(x);
    return true;
}

md_status md_snapshot_manifest_read(const char *data_dir, const char *version, md_snapshot_manifest *out,
                                    md_error *err) {
    memset(out, 0, sizeof *out);
    char ver[64];
    if (!version || !*version) {
        md_status s = md_snapshot_current(data_dir, ver, err);
        if (s != MD_OK) return s;
        version = ver;
    }
    char path[PATH_BYTES];
    if (!md_snapshot_file_path(data_dir, version, MD_SNAPSHOT_MANIFEST, path, sizeof path))
        return md_error_set(err, MD_ERR_INVALID_ARG, "snapshot: bad version '%s'", version);
    char *text = NULL;
    size_t n = 0;
    md_status s = md_read_file(path, MANIFEST_MAX_BYTES, &text, &n, err);
    if (s != MD_OK) return s;
    json_error_t je;
    json_t *root = json_loadb(text, n, 0, &je);
    md_free(text);
    s = MD_OK;
    json_t *files = root ? json_object_get(root, "files") : NULL;
    if (!json_is_object(root) || !copy_str(root, "version", out->version, sizeof out->version) ||
        !copy_str(root, "dataset_version", out->dataset_version, sizeof out->dataset_version) ||
        !copy_str(root, "created_at", out->created_at, sizeof out->created_at) || !get_u64(root, "n_cases", &out->n_cases) ||
        !json_is_array(files) || json_array_size(files) > MD_SNAPSHOT_MAX_FILES || strcmp(out->version, version) != 0) {
        s = md_error_set(err, MD_ERR_PARSE, "snapshot: %s is not a valid manifest", path);
    }
    for (size_t i = 0; s == MD_OK && i < json_array_size(files); i++) {
        json_t *f = json_array_get(files, i);
        md_snapshot_file *d = &out->files[i];
        if (!json_is_object(f) || !copy_str(f, "name", d->name, sizeof d->name) || !plain_name(d->name) ||
            !copy_str(f, "kind", d->kind, sizeof d->kind) || !copy_str(f, "checksum", d->checksum, sizeof d->checksum) ||
            strlen(d->checksum) != 16 || !get_u64(f, "bytes", &d->n_bytes) || !get_u64(f, "items", &d->n_items))
            s = md_error_set(err, MD_ERR_PARSE, "snapshot: %s: file entry %zu is invalid", path, i);
        else out->n_files = i + 1;
    }
    /* optional: the encoder of the dense vectors */
    json_t *emb = s == MD_OK ? json_object_get(root, "embedding") : NULL;
    uint64_t dim = 0;
    if (emb && (!json_is_object(emb) || !copy_str(emb, "model", out->embed_model, sizeof out->embed_model) ||
                !copy_str(emb, "path", out->embed_model_path, sizeof out->embed_model_path) ||
                !get_u64(emb, "dim", &dim) || dim == 0 || dim > UINT32_MAX || !out->embed_model[0]))
        s = md_error_set(err, MD_ERR_PARSE, "snapshot: %s: the embedding entry is invalid", path);
    out->embed_dim = s == MD_OK ? (uint32_t)dim : 0;
    json_decref(root);
    return s;
}

md_status md_snapshot_verify(const char *data_dir, const char *version, md_snapshot_manifest *out,
                             md_error *err) {
    md_snapshot_manifest m;
    md_status s = md_snapshot_manifest_read(data_dir, version, &m, err);
    if (s != MD_OK) return s;
    for (size_t i = 0; i < m.n_files; i++) {
        char path[PATH_BYTES], hex[17];
        uint64_t n = 0;
        if (!md_snapshot_file_path(data_dir, m.version, m.files[i].name, path, sizeof path))
            return md_error_set(err, MD_ERR_PARSE, "snapshot: bad file name");
        s = md_snapshot_file_checksum(path, hex, &n, err);
        if (s != MD_OK) return s;
        if (n != m.files[i].n_bytes)
            return md_error_set(err, MD_ERR_PARSE, "snapshot %s: %s has %llu bytes, the manifest says %llu", m.version,
                                m.files[i].name, (unsigned long long)n, (unsigned long long)m.files[i].n_bytes);
        if (strcmp(hex, m.files[i].checksum) != 0)
            return md_error_set(err, MD_ERR_PARSE, "snapshot %s: %s checksum %s, the manifest says %s", m.version,
                                m.files[i].name, hex, m.files[i].checksum);
    }
    if (out) *out = m;
    return MD_OK;
}
