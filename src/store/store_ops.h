/* The store's backend interface. Private to src/store.
 *
 * md_store_* (store.c) checks arguments and dispatches through the backend's table;
 * a backend defines a struct whose first member is `struct md_store` and fills every
 * entry. Adding a backend (PostgreSQL) means one more table and one more line in
 * store.c's backend list: callers never change. Transactions are the backend's:
 * begin/commit/rollback bracket any number of puts, and import_put must be atomic with
 * the rows of the same transaction.
 */
#ifndef MEDIFY_STORE_OPS_H
#define MEDIFY_STORE_OPS_H

#include "medify/store.h"

typedef struct md_store_ops {
    const char *name; /* "sqlite" */
    /* True when this backend serves the location ("postgres://..." vs a directory). */
    bool (*accepts)(const char *location);
    md_status (*open)(const char *location, md_store **out, md_error *err);
    void (*close)(md_store *s);
    int (*schema_version)(const md_store *s);
    md_status (*begin)(md_store *s, md_error *err);
    md_status (*commit)(md_store *s, md_error *err);
    md_status (*rollback)(md_store *s);
    md_status (*case_put)(md_store *s, const md_case_record *rec, int64_t *id_out, bool *inserted, md_error *err);
    md_status (*case_get)(md_store *s, int64_t id, md_arena *a, md_case_record *out, md_error *err);
    md_status (*case_find_external)(md_store *s, const char *external_id, int64_t *id_out, md_error *err);
    md_status (*case_count)(md_store *s, int64_t *n_out, md_error *err);
    md_status (*case_each)(md_store *s, int64_t after_id, size_t limit, md_case_fn fn, void *ctx, md_error *err);
    md_status (*import_get)(md_store *s, const char *key, md_import_state *out, bool *found, md_error *err);
    md_status (*import_put)(md_store *s, const char *key, const md_import_state *st, md_error *err);
} md_store_ops;

struct md_store {
    const md_store_ops *ops;
    bool in_transaction; /* maintained by store.c */
};

extern const md_store_ops md_sqlite_store_ops;

/* Chunking shared by backends: long texts are cut at sentence ends into pieces of
 * about MD_STORE_CHUNK_TARGET_BYTES; a text no longer than that has no chunks. */
#define MD_STORE_CHUNK_TARGET_BYTES 1000
#define MD_STORE_CHUNK_MAX_BYTES 1500 /* a longer sentence is cut at a space (or anywhere) */

/* Returns the byte length of the chunk starting at text[0] (n_bytes > 0): the end of
 * the last sentence that keeps the chunk within the target, else a cut at whitespace
 * or a UTF-8 boundary before MD_STORE_CHUNK_MAX_BYTES. */
size_t md_store_chunk_len(const char *text, size_t n_bytes);

/* mkdir -p, mode 0755. */
md_status md_store_mkdir_p(const char *path, md_error *err);

#endif
