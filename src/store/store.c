/* store.c: the public store functions. They validate arguments, keep the transaction
 * flag and dispatch through the backend's operations table (store_ops.h). Also the
 * backend-neutral helpers: the data directory, chunk boundaries, mkdir -p.
 */
#include "store/store_ops.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Backends in order of preference; the first that accepts the location opens it. */
static const md_store_ops *const k_backends[] = {
    &md_sqlite_store_ops,
};

const char *md_store_data_dir(const char *dir) {
    if (dir && *dir) return dir;
    const char *env = getenv("MEDIFY_DATA");
    if (env && *env) return env;
    return MD_STORE_DEFAULT_DATA_DIR;
}

md_status md_store_open(const char *data_dir, md_store **out, md_error *err) {
    if (!out) return md_error_set(err, MD_ERR_INVALID_ARG, "md_store_open: no output");
    *out = NULL;
    const char *loc = md_store_data_dir(data_dir);
    for (size_t i = 0; i < MD_ARRAY_LEN(k_backends); i++) {
        if (!k_backends[i]->accepts(loc)) continue;
        md_status st = k_backends[i]->open(loc, out, err);
        if (st == MD_OK) (*out)->password_params = md_password_default_params();
        return st;
    }
    return md_error_set(err, MD_ERR_UNSUPPORTED, "no store backend for '%s'", loc);
}

void md_store_close(md_store *s) {
    if (!s) return;
    if (s->in_transaction) s->ops->rollback(s);
    s->ops->close(s);
}

int md_store_schema_version(const md_store *s) { return s ? s->ops->schema_version(s) : 0; }

md_status md_store_begin(md_store *s, md_error *err) {
    if (!s) return md_error_set(err, MD_ERR_INVALID_ARG, "no store");
    if (s->in_transaction) return md_error_set(err, MD_ERR_CONFLICT, "a transaction is already open");
    md_status st = s->ops->begin(s, err);
    if (st == MD_OK) s->in_transaction = true;
    return st;
}

md_status md_store_commit(md_store *s, md_error *err) {
    if (!s) return md_error_set(err, MD_ERR_INVALID_ARG, "no store");
    if (!s->in_transaction) return md_error_set(err, MD_ERR_CONFLICT, "no open transaction to commit");
    md_status st = s->ops->commit(s, err);
    if (st == MD_OK) s->in_transaction = false;
    return st;
}

md_status md_store_rollback(md_store *s) {
    if (!s || !s->in_transaction) return MD_OK;
    s->in_transaction = false;
    return s->ops->rollback(s);
}

md_status md_store_case_put(md_store *s, const md_case_record *rec, int64_t *id_out, bool *inserted, md_error *err) {
    if (!s || !rec || !rec->text || !rec->source)
        return md_error_set(err, MD_ERR_INVALID_ARG, "md_store_case_put: store, record, text and source are required");
    if (rec->sex && strcmp(rec->sex, "female") != 0 && strcmp(rec->sex, "male") != 0)
        return md_error_set(err, MD_ERR_INVALID_ARG, "sex must be \"female\", \"male\" or NULL");
    int64_t id = 0;
    bool ins = false;
    md_status st = s->ops->case_put(s, rec, &id, &ins, err);
    if (id_out) *id_out = st == MD_OK ? id : 0;
    if (inserted) *inserted = st == MD_OK && ins;
    return st;
}

md_status md_store_case_get(md_store *s, int64_t id, md_arena *a, md_case_record *out, md_error *err) {
    if (!s || !a || !out) return md_error_set(err, MD_ERR_INVALID_ARG, "md_store_case_get: missing argument");
    return s->ops->case_get(s, id, a, out, err);
}

md_status md_store_case_find_external(md_store *s, const char *external_id, int64_t *id_out, md_error *err) {
    if (!s || !external_id || !id_out)
        return md_error_set(err, MD_ERR_INVALID_ARG, "md_store_case_find_external: missing argument");
    return s->ops->case_find_external(s, external_id, id_out, err);
}

md_status md_store_case_count(md_store *s, int64_t *n_out, md_error *err) {
    if (!s || !n_out) return md_error_set(err, MD_ERR_INVALID_ARG, "md_store_case_count: missing argument");
    return s->ops->case_count(s, n_out, err);
}

md_status md_store_case_each(md_store *s, int64_t after_id, size_t limit, md_case_fn fn, void *ctx, md_error *err) {
    if (!s || !fn) return md_error_set(err, MD_ERR_INVALID_ARG, "md_store_case_each: missing argument");
    return s->ops->case_each(s, after_id, limit, fn, ctx, err);
}

md_status md_store_import_get(md_store *s, const char *key, md_import_state *out, bool *found, md_error *err) {
    if (!s || !key || !out || !found) return md_error_set(err, MD_ERR_INVALID_ARG, "md_store_import_get: missing argument");
    memset(out, 0, sizeof *out);
    *found = false;
    return s->ops->import_get(s, key, out, found, err);
}

md_status md_store_import_put(md_store *s, const char *key, const md_import_state *st, md_error *err) {
    if (!s || !key || !st) return md_error_set(err, MD_ERR_INVALID_ARG, "md_store_import_put: missing argument");
    return s->ops->import_put(s, key, st, err);
}

/* ------------------------------------------------------------ helpers ---- */

static bool is_space(char c) { return c == ' ' || c == '\n' || c == '\t' || c == '\r'; }

/* A sentence ends at '.', '!' or '?' (optionally followed by a closing quote or
 * bracket) followed by whitespace, where the next word does not start in lower case
 * (so "e.g. the" and "approx. two" do not end sentences). */
static bool sentence_end_at(const char *t, size_t n, size_t i, size_t *after) {
    if (t[i] != '.' && t[i] != '!' && t[i] != '?') return false;
    size_t j = i + 1;
    while (j < n && (t[j] == '"' || t[j] == '\'' || t[j] == ')' || t[j] == ']')) j++;
    if (j >= n) {
        *after = n;
        return true;
    }
    if (!is_space(t[j])) return false;
    size_t k = j;
    while (k < n && is_space(t[k])) k++;
    if (k < n && t[k] >= 'a' && t[k] <= 'z') return false;
    *after = k;
    return true;
}

size_t md_store_chunk_len(const char *text, size_t n_bytes) {
    if (n_bytes <= MD_STORE_CHUNK_TARGET_BYTES) return n_bytes;
    size_t best = 0;
    size_t limit = n_bytes < MD_STORE_CHUNK_MAX_BYTES ? n_bytes : MD_STORE_CHUNK_MAX_BYTES;
    for (size_t i = 0; i < limit; i++) {
        size_t after;
        if (sentence_end_at(text, n_bytes, i, &after)) {
            if (after <= MD_STORE_CHUNK_TARGET_BYTES || best == 0) {
                if (after > limit) break;
                best = after;
            }
            if (after > MD_STORE_CHUNK_TARGET_BYTES) break;
        }
    }
    if (best > 0) return best;
    /* No sentence end in reach: cut at the last whitespace before the target, else at
     * a UTF-8 boundary. */
    size_t cut = MD_STORE_CHUNK_TARGET_BYTES;
    while (cut > MD_STORE_CHUNK_TARGET_BYTES / 2 && !is_space(text[cut])) cut--;
    if (!is_space(text[cut])) {
        cut = MD_STORE_CHUNK_TARGET_BYTES;
        while (cut > 0 && ((unsigned char)text[cut] & 0xC0) == 0x80) cut--;
    } else {
        while (cut < n_bytes && is_space(text[cut])) cut++;
    }
    return cut > 0 ? cut : n_bytes;
}

md_status md_store_mkdir_p(const char *path, md_error *err) {
    size_t n = strlen(path);
    char *tmp = md_strndup(path, n);
    if (!tmp) return md_error_set(err, MD_ERR_NOMEM, "out of memory");
    md_status st = MD_OK;
    for (size_t i = 1; i <= n; i++) {
        if (i < n && tmp[i] != '/') continue;
        char saved = tmp[i];
        tmp[i] = '\0';
        if (mkdir(tmp, 0755) != 0 && errno != EEXIST) {
            st = md_error_set(err, MD_ERR_IO, "cannot create directory '%s': %s", tmp, strerror(errno));
            break;
        }
        tmp[i] = saved;
    }
    if (st == MD_OK) {
        struct stat sb;
        if (stat(path, &sb) != 0 || !S_ISDIR(sb.st_mode))
            st = md_error_set(err, MD_ERR_IO, "'%s' is not a directory", path);
    }
    md_free(tmp);
    return st;
}
