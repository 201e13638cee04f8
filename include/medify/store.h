/* medify store: the storage interface and its SQLite backend.
 *
 * One md_store per data directory (`--data-dir DIR`, default $MEDIFY_DATA, else
 * ./medify-data; created when needed). The SQLite backend keeps DIR/medify.db in WAL
 * mode with versioned schema migrations (table schema_migrations). Callers see only
 * the functions below; a backend is a table of operations (src/store/store_ops.h), so
 * a PostgreSQL backend can follow without touching callers.
 *
 * Cases are historical patient summaries (PMC-Patients format or synthetic): each has
 * a store id, source, external id (patient_uid), PMID, title, text, age in years,
 * sex, a content hash (SHA-256 of the normalised text, hex) that makes re-imports
 * idempotent, the dataset version, timestamps, and the annotations that serve as
 * retrieval ground truth (relevant_articles, similar_patients, kept as JSON). Long
 * texts are also split into chunks for retrieval.
 *
 * Imports are transactional in batches and resumable: the import state (source file
 * identity, byte offset and line of the last committed batch) is committed in the
 * same transaction as the rows, so a process killed at any moment leaves a consistent
 * store and a rerun continues where the last commit ended, adding nothing twice.
 */
#ifndef MEDIFY_STORE_H
#define MEDIFY_STORE_H

#include "medify/base.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MD_STORE_DEFAULT_DATA_DIR "medify-data"

typedef struct md_store md_store;

typedef struct md_case_record {
    int64_t id;                  /* assigned by the store; 0 before insert */
    const char *source;          /* "pmc-patients", "synthetic", "csv", ... */
    const char *external_id;     /* patient_uid */
    const char *pmid;            /* may be NULL */
    const char *title;           /* may be NULL */
    const char *text;            /* the patient summary */
    double age_years;            /* < 0 unknown */
    const char *sex;             /* "female", "male" or NULL */
    const char *content_hash;    /* hex SHA-256; computed by the store when NULL */
    const char *dataset_version; /* e.g. "pmc-patients-v1" */
    const char *relevant_articles_json; /* JSON object or NULL */
    const char *similar_patients_json;  /* JSON object or NULL */
    int64_t created_at_ms, updated_at_ms;
} md_case_record;

/* Resolves the data directory: dir if non-empty, else $MEDIFY_DATA, else
 * MD_STORE_DEFAULT_DATA_DIR. Returns a pointer to dir, the environment or a constant. */
const char *md_store_data_dir(const char *dir);

/* Opens (creating DIR and the database when needed) and migrates the schema. */
md_status md_store_open(const char *data_dir, md_store **out, md_error *err);
void md_store_close(md_store *s);
int md_store_schema_version(const md_store *s);

md_status md_store_begin(md_store *s, md_error *err);
md_status md_store_commit(md_store *s, md_error *err);
md_status md_store_rollback(md_store *s);

/* Inserts a case unless one with the same content hash exists (then *inserted is
 * false and *id_out is the existing id). Also writes its chunks. */
md_status md_store_case_put(md_store *s, const md_case_record *rec, int64_t *id_out, bool *inserted, md_error *err);
/* Reads one case; strings live in arena `a`. MD_ERR_NOT_FOUND if absent. */
md_status md_store_case_get(md_store *s, int64_t id, md_arena *a, md_case_record *out, md_error *err);
md_status md_store_case_find_external(md_store *s, const char *external_id, int64_t *id_out, md_error *err);
md_status md_store_case_count(md_store *s, int64_t *n_out, md_error *err);
/* Calls fn for each case with id > after_id in id order, at most limit (0 = all);
 * fn returns false to stop. Strings are valid during the call only. */
typedef bool (*md_case_fn)(const md_case_record *rec, void *ctx);
md_status md_store_case_each(md_store *s, int64_t after_id, size_t limit, md_case_fn fn, void *ctx, md_error *err);

/* Import progress, keyed by an import key (e.g. "pmc-csv:<sha256 of the first MiB>"). */
typedef struct md_import_state {
    uint64_t byte_offset; /* where the next batch starts */
    uint64_t line;        /* 1-based line of that offset */
    uint64_t n_imported, n_duplicates, n_quarantined;
    bool done;
} md_import_state;
md_status md_store_import_get(md_store *s, const char *key, md_import_state *out, bool *found, md_error *err);
/* Call inside the batch's transaction. */
md_status md_store_import_put(md_store *s, const char *key, const md_import_state *st, md_error *err);

#ifdef __cplusplus
}
#endif

#endif /* MEDIFY_STORE_H */
