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

#include "medify/accounts.h"
#include "medify/records.h"
#include "medify/store.h"

/* Users, sessions, API keys, interviews, reports, notes, history and the audit log
 * (accounts.h, records.h). The public functions (src/store/accounts.c, records.c)
 * validate and hash; these operations only read and write rows. Each write that
 * touches several rows is atomic (a savepoint, so it nests in a caller's transaction). */
typedef struct md_store_product_ops {
    md_status (*user_insert)(md_store *s, const char *email, const char *name, md_role role, const char *password_hash,
                             int64_t *id_out, md_error *err); /* MD_ERR_CONFLICT: e-mail taken */
    md_status (*user_get)(md_store *s, int64_t id, md_arena *a, md_user_record *out, md_error *err);
    /* By (lower-case) e-mail; *password_hash in a. */
    md_status (*user_by_email)(md_store *s, const char *email, md_arena *a, md_user_record *out,
                               const char **password_hash, md_error *err);
    md_status (*user_each)(md_store *s, int64_t after_id, size_t limit, md_user_fn fn, void *ctx, md_error *err);
    md_status (*user_update)(md_store *s, int64_t id, const md_user_update *u, md_error *err);
    md_status (*session_put)(md_store *s, const char *token_hash, int64_t user_id, int64_t expires_at_ms,
                             md_error *err);
    /* MD_ERR_NOT_FOUND when absent. */
    md_status (*session_get)(md_store *s, const char *token_hash, int64_t *user_id, int64_t *expires_at_ms,
                             md_error *err);
    md_status (*session_delete)(md_store *s, const char *token_hash, md_error *err);
    md_status (*api_key_put)(md_store *s, const char *name, md_role role, const char *key_hash, int64_t created_by,
                             int64_t *id_out, md_error *err);
    /* Also records the time of use. MD_ERR_NOT_FOUND when absent. */
    md_status (*api_key_get)(md_store *s, const char *key_hash, md_arena *a, md_api_key_record *out, md_error *err);
    md_status (*api_key_each)(md_store *s, md_api_key_fn fn, void *ctx, md_error *err);
    md_status (*api_key_revoke)(md_store *s, int64_t id, md_error *err);
    md_status (*interview_create)(md_store *s, int64_t patient_id, double age_years, const char *sex, int64_t *id_out,
                                  md_error *err);
    md_status (*interview_get)(md_store *s, int64_t id, md_arena *a, md_interview_record *out, md_error *err);
    md_status (*interview_update)(md_store *s, const md_interview_record *rec, md_error *err);
    md_status (*interview_each)(md_store *s, int64_t patient_id, size_t limit, md_interview_fn fn, void *ctx,
                                md_error *err);
    md_status (*report_create)(md_store *s, const md_report_record *rec, int64_t *id_out, md_error *err);
    md_status (*report_get)(md_store *s, int64_t id, int64_t interview_id, md_arena *a, md_report_record *out,
                            md_error *err); /* by id, or by interview when id == 0 */
    md_status (*report_update)(md_store *s, const md_report_record *rec, int64_t user_id, const char *action,
                               const char *diff_json, md_error *err);
    md_status (*report_each)(md_store *s, int64_t patient_id, const char *status, size_t limit, md_report_fn fn,
                             void *ctx, md_error *err);
    md_status (*note_add)(md_store *s, int64_t report_id, int64_t author_id, const char *kind, const char *text,
                          int64_t *id_out, md_error *err);
    md_status (*note_each)(md_store *s, int64_t report_id, md_note_fn fn, void *ctx, md_error *err);
    md_status (*history_each)(md_store *s, int64_t report_id, md_history_fn fn, void *ctx, md_error *err);
    md_status (*question_add)(md_store *s, int64_t report_id, int64_t user_id, const char *question,
                              const char *answer, bool on_topic, md_error *err);
    md_status (*audit_append)(md_store *s, const md_audit_record *rec, md_error *err);
    md_status (*audit_each)(md_store *s, int64_t before, size_t limit, md_audit_fn fn, void *ctx, md_error *err);
} md_store_product_ops;

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
    const md_store_product_ops *product;
} md_store_ops;

struct md_store {
    const md_store_ops *ops;
    bool in_transaction; /* maintained by store.c */
    md_password_params password_params; /* md_account_create's Argon2id cost (accounts.c) */
};

extern const md_store_ops md_sqlite_store_ops;
extern const md_store_product_ops md_sqlite_product_ops;

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
