/* sqlite_product.c: the SQLite queries behind accounts.h and records.h.
 *
 * These statements run rarely compared with case lookups (a few per HTTP request), so
 * each is prepared per call: that keeps them out of the hot statement table and lets
 * the *_each callbacks use the store themselves. Writes of several rows (a report
 * update and its history entry, disabling a user and ending their sessions) run under
 * a savepoint, so they are atomic alone and nest inside a caller's transaction.
 *
 * Interview updates are optimistic: UPDATE ... WHERE version = ?; no row changed means
 * another writer came first (MD_ERR_CONFLICT), and the caller reloads and retries.
 */
#include <string.h>
#include <time.h>

#include "store/sqlite_internal.h"

static int64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static md_status fail(sqlite3 *db, md_error *err, const char *what) {
    int rc = sqlite3_errcode(db);
    md_status st = MD_ERR_IO;
    if (rc == SQLITE_NOMEM) st = MD_ERR_NOMEM;
    else if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED) st = MD_ERR_TIMEOUT;
    else if (rc == SQLITE_CONSTRAINT) st = MD_ERR_CONFLICT;
    else if (rc == SQLITE_FULL) st = MD_ERR_LIMIT;
    return md_error_set(err, st, "store: %s: %s", what, sqlite3_errmsg(db));
}

static md_status prepare(md_store *s, const char *sql, sqlite3_stmt **q, md_error *err, const char *what) {
    sqlite3 *db = md_sqlite_store_db(s);
    if (sqlite3_prepare_v2(db, sql, -1, q, NULL) != SQLITE_OK) return fail(db, err, what);
    return MD_OK;
}

/* Steps a write statement to completion and finalizes it. */
static md_status run(md_store *s, sqlite3_stmt *q, md_error *err, const char *what) {
    int rc = sqlite3_step(q);
    md_status st = rc == SQLITE_DONE || rc == SQLITE_ROW ? MD_OK : fail(md_sqlite_store_db(s), err, what);
    sqlite3_finalize(q);
    return st;
}

static md_status exec(md_store *s, const char *sql, md_error *err) {
    sqlite3 *db = md_sqlite_store_db(s);
    if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK) return fail(db, err, sql);
    return MD_OK;
}

static md_status sp_begin(md_store *s, md_error *err) { return exec(s, "SAVEPOINT product", err); }
static md_status sp_end(md_store *s, md_status st, md_error *err) {
    if (st == MD_OK) return exec(s, "RELEASE product", err);
    sqlite3_exec(md_sqlite_store_db(s), "ROLLBACK TO product; RELEASE product", NULL, NULL, NULL);
    return st;
}

static void bind_text(sqlite3_stmt *q, int i, const char *t) {
    if (t) sqlite3_bind_text(q, i, t, -1, SQLITE_TRANSIENT);
    else sqlite3_bind_null(q, i);
}

/* Column text copied into a (or borrowed when a is NULL). */
static const char *col(sqlite3_stmt *q, int i, md_arena *a, bool *oom) {
    const unsigned char *t = sqlite3_column_text(q, i);
    if (!t) return NULL;
    if (!a) return (const char *)t;
    char *c = md_arena_strndup(a, (const char *)t, (size_t)sqlite3_column_bytes(q, i));
    if (!c) *oom = true;
    return c;
}

static md_role role_of(const char *name) {
    md_role r = MD_ROLE_PATIENT;
    if (name) (void)md_role_parse(name, &r);
    return r;
}

/* Steps a one-row query; fills via fn on SQLITE_ROW; MD_ERR_NOT_FOUND on none. */
typedef bool (*row_fn)(sqlite3_stmt *q, md_arena *a, void *out);
static md_status one_row(md_store *s, sqlite3_stmt *q, row_fn fn, md_arena *a, void *out, md_error *err,
                         const char *what) {
    int rc = sqlite3_step(q);
    md_status st = MD_OK;
    if (rc == SQLITE_ROW) {
        if (!fn(q, a, out)) st = md_error_set(err, MD_ERR_NOMEM, "out of memory");
    } else if (rc == SQLITE_DONE) {
        st = md_error_set(err, MD_ERR_NOT_FOUND, "%s not found", what);
    } else {
        st = fail(md_sqlite_store_db(s), err, what);
    }
    sqlite3_finalize(q);
    return st;
}

/* ------------------------------------------------------------------ users ---- */

#define USER_COLUMNS "id, email, name, role, coalesce(clinician_id, 0), disabled, created_at_ms"

static bool row_user(sqlite3_stmt *q, md_arena *a, void *out) {
    md_user_record *u = out;
    bool oom = false;
    memset(u, 0, sizeof *u);
    u->id = sqlite3_column_int64(q, 0);
    u->email = col(q, 1, a, &oom);
    u->name = col(q, 2, a, &oom);
    u->role = role_of((const char *)sqlite3_column_text(q, 3));
    u->clinician_id = sqlite3_column_int64(q, 4);
    u->disabled = sqlite3_column_int(q, 5) != 0;
    u->created_at_ms = sqlite3_column_int64(q, 6);
    return !oom;
}

static md_status user_insert(md_store *s, const char *email, const char *name, md_role role, const char *hash,
                             int64_t *id_out, md_error *err) {
    sqlite3_stmt *q = NULL;
    md_status st = prepare(s,
                           "INSERT INTO users (email, name, role, password_hash, created_at_ms, updated_at_ms) "
                           "VALUES (?1, ?2, ?3, ?4, ?5, ?5) ON CONFLICT(email) DO NOTHING",
                           &q, err, "inserting a user");
    if (st) return st;
    bind_text(q, 1, email);
    bind_text(q, 2, name);
    bind_text(q, 3, md_role_name(role));
    bind_text(q, 4, hash);
    sqlite3_bind_int64(q, 5, now_ms());
    if ((st = run(s, q, err, "inserting a user"))) return st;
    sqlite3 *db = md_sqlite_store_db(s);
    if (sqlite3_changes(db) != 1) return md_error_set(err, MD_ERR_CONFLICT, "an account with this e-mail exists");
    *id_out = sqlite3_last_insert_rowid(db);
    return MD_OK;
}

static md_status user_get(md_store *s, int64_t id, md_arena *a, md_user_record *out, md_error *err) {
    sqlite3_stmt *q = NULL;
    md_status st = prepare(s, "SELECT " USER_COLUMNS " FROM users WHERE id = ?1", &q, err, "reading a user");
    if (st) return st;
    sqlite3_bind_int64(q, 1, id);
    return one_row(s, q, row_user, a, out, err, "user");
}

typedef struct user_hash {
    md_user_record *u;
    const char **hash;
} user_hash;

static bool row_user_hash(sqlite3_stmt *q, md_arena *a, void *out) {
    user_hash *uh = out;
    bool oom = false;
    *uh->hash = col(q, 7, a, &oom);
    return row_user(q, a, uh->u) && !oom;
}

static md_status user_by_email(md_store *s, const char *email, md_arena *a, md_user_record *out,
                               const char **password_hash, md_error *err) {
    sqlite3_stmt *q = NULL;
    md_status st = prepare(s, "SELECT " USER_COLUMNS ", password_hash FROM users WHERE email = ?1", &q, err,
                           "reading a user");
    if (st) return st;
    bind_text(q, 1, email);
    user_hash uh = {out, password_hash};
    return one_row(s, q, row_user_hash, a, &uh, err, "user");
}

static md_status user_each(md_store *s, int64_t after_id, size_t limit, md_user_fn fn, void *ctx, md_error *err) {
    sqlite3_stmt *q = NULL;
    md_status st = prepare(s, "SELECT " USER_COLUMNS " FROM users WHERE id > ?1 ORDER BY id LIMIT ?2", &q, err,
                           "listing users");
    if (st) return st;
    sqlite3_bind_int64(q, 1, after_id);
    sqlite3_bind_int64(q, 2, limit ? (int64_t)limit : -1);
    int rc;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        md_user_record u;
        row_user(q, NULL, &u);
        if (!fn(&u, ctx)) break;
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) st = fail(md_sqlite_store_db(s), err, "listing users");
    sqlite3_finalize(q);
    return st;
}

static md_status user_update(md_store *s, int64_t id, const md_user_update *u, md_error *err) {
    md_status st = sp_begin(s, err);
    if (st) return st;
    sqlite3_stmt *q = NULL;
    st = prepare(s,
                 "UPDATE users SET name = CASE WHEN ?2 THEN ?3 ELSE name END, "
                 "role = CASE WHEN ?4 THEN ?5 ELSE role END, "
                 "disabled = CASE WHEN ?6 THEN ?7 ELSE disabled END, "
                 "clinician_id = CASE WHEN ?8 THEN nullif(?9, 0) ELSE clinician_id END, "
                 "updated_at_ms = ?10 WHERE id = ?1",
                 &q, err, "updating a user");
    if (st == MD_OK) {
        sqlite3_bind_int64(q, 1, id);
        sqlite3_bind_int(q, 2, u->set_name);
        bind_text(q, 3, u->set_name ? u->name : NULL);
        sqlite3_bind_int(q, 4, u->set_role);
        bind_text(q, 5, md_role_name(u->role));
        sqlite3_bind_int(q, 6, u->set_disabled);
        sqlite3_bind_int(q, 7, u->disabled);
        sqlite3_bind_int(q, 8, u->set_clinician_id);
        sqlite3_bind_int64(q, 9, u->clinician_id);
        sqlite3_bind_int64(q, 10, now_ms());
        st = run(s, q, err, "updating a user");
    }
    if (st == MD_OK && sqlite3_changes(md_sqlite_store_db(s)) != 1)
        st = md_error_set(err, MD_ERR_NOT_FOUND, "no user with id %lld", (long long)id);
    if (st == MD_OK && ((u->set_disabled && u->disabled) || u->set_role)) {
        /* A disabled account, or one whose role changed, signs in again. */
        if ((st = prepare(s, "DELETE FROM sessions WHERE user_id = ?1", &q, err, "ending sessions")) == MD_OK) {
            sqlite3_bind_int64(q, 1, id);
            st = run(s, q, err, "ending sessions");
        }
    }
    return sp_end(s, st, err);
}

/* --------------------------------------------------------------- sessions ---- */

static md_status session_put(md_store *s, const char *token_hash, int64_t user_id, int64_t expires_at_ms,
                             md_error *err) {
    sqlite3_stmt *q = NULL;
    md_status st = prepare(s,
                           "INSERT INTO sessions (token_hash, user_id, created_at_ms, expires_at_ms) "
                           "VALUES (?1, ?2, ?3, ?4)",
                           &q, err, "creating a session");
    if (st) return st;
    bind_text(q, 1, token_hash);
    sqlite3_bind_int64(q, 2, user_id);
    sqlite3_bind_int64(q, 3, now_ms());
    sqlite3_bind_int64(q, 4, expires_at_ms);
    return run(s, q, err, "creating a session");
}

typedef struct session_row {
    int64_t user_id, expires_at_ms;
} session_row;

static bool row_session(sqlite3_stmt *q, md_arena *a, void *out) {
    (void)a;
    session_row *r = out;
    r->user_id = sqlite3_column_int64(q, 0);
    r->expires_at_ms = sqlite3_column_int64(q, 1);
    return true;
}

static md_status session_get(md_store *s, const char *token_hash, int64_t *user_id, int64_t *expires_at_ms,
                             md_error *err) {
    sqlite3_stmt *q = NULL;
    md_status st = prepare(s, "SELECT user_id, expires_at_ms FROM sessions WHERE token_hash = ?1", &q, err,
                           "reading a session");
    if (st) return st;
    bind_text(q, 1, token_hash);
    session_row r = {0};
    st = one_row(s, q, row_session, NULL, &r, err, "session");
    *user_id = r.user_id;
    *expires_at_ms = r.expires_at_ms;
    return st;
}

static md_status session_delete(md_store *s, const char *token_hash, md_error *err) {
    sqlite3_stmt *q = NULL;
    /* Expired sessions of anyone go too: the table stays the size of live sessions. */
    md_status st = prepare(s, "DELETE FROM sessions WHERE token_hash = ?1 OR expires_at_ms < ?2", &q, err,
                           "ending a session");
    if (st) return st;
    bind_text(q, 1, token_hash);
    sqlite3_bind_int64(q, 2, now_ms());
    return run(s, q, err, "ending a session");
}

/* --------------------------------------------------------------- API keys ---- */

#define KEY_COLUMNS "id, name, role, created_by, created_at_ms, last_used_at_ms, revoked"

static bool row_key(sqlite3_stmt *q, md_arena *a, void *out) {
    md_api_key_record *k = out;
    bool oom = false;
    memset(k, 0, sizeof *k);
    k->id = sqlite3_column_int64(q, 0);
    k->name = col(q, 1, a, &oom);
    k->role = role_of((const char *)sqlite3_column_text(q, 2));
    k->created_by = sqlite3_column_int64(q, 3);
    k->created_at_ms = sqlite3_column_int64(q, 4);
    k->last_used_at_ms = sqlite3_column_int64(q, 5);
    k->revoked = sqlite3_column_int(q, 6) != 0;
    return !oom;
}

static md_status api_key_put(md_store *s, const char *name, md_role role, const char *key_hash, int64_t created_by,
                             int64_t *id_out, md_error *err) {
    sqlite3_stmt *q = NULL;
    md_status st = prepare(s,
                           "INSERT INTO api_keys (name, role, key_hash, created_by, created_at_ms) "
                           "VALUES (?1, ?2, ?3, ?4, ?5)",
                           &q, err, "creating an API key");
    if (st) return st;
    bind_text(q, 1, name);
    bind_text(q, 2, md_role_name(role));
    bind_text(q, 3, key_hash);
    sqlite3_bind_int64(q, 4, created_by);
    sqlite3_bind_int64(q, 5, now_ms());
    if ((st = run(s, q, err, "creating an API key"))) return st;
    *id_out = sqlite3_last_insert_rowid(md_sqlite_store_db(s));
    return MD_OK;
}

static md_status api_key_get(md_store *s, const char *key_hash, md_arena *a, md_api_key_record *out, md_error *err) {
    sqlite3_stmt *q = NULL;
    md_status st = prepare(s, "SELECT " KEY_COLUMNS " FROM api_keys WHERE key_hash = ?1", &q, err, "reading a key");
    if (st) return st;
    bind_text(q, 1, key_hash);
    if ((st = one_row(s, q, row_key, a, out, err, "API key"))) return st;
    if ((st = prepare(s, "UPDATE api_keys SET last_used_at_ms = ?2 WHERE id = ?1", &q, err, "using a key"))) return st;
    sqlite3_bind_int64(q, 1, out->id);
    sqlite3_bind_int64(q, 2, now_ms());
    return run(s, q, err, "using a key");
}

static md_status api_key_each(md_store *s, md_api_key_fn fn, void *ctx, md_error *err) {
    sqlite3_stmt *q = NULL;
    md_status st = prepare(s, "SELECT " KEY_COLUMNS " FROM api_keys ORDER BY id", &q, err, "listing keys");
    if (st) return st;
    int rc;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        md_api_key_record k;
        row_key(q, NULL, &k);
        if (!fn(&k, ctx)) break;
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) st = fail(md_sqlite_store_db(s), err, "listing keys");
    sqlite3_finalize(q);
    return st;
}

static md_status api_key_revoke(md_store *s, int64_t id, md_error *err) {
    sqlite3_stmt *q = NULL;
    md_status st = prepare(s, "UPDATE api_keys SET revoked = 1 WHERE id = ?1 AND revoked = 0", &q, err,
                           "revoking a key");
    if (st) return st;
    sqlite3_bind_int64(q, 1, id);
    if ((st = run(s, q, err, "revoking a key"))) return st;
    if (sqlite3_changes(md_sqlite_store_db(s)) != 1)
        return md_error_set(err, MD_ERR_NOT_FOUND, "no active API key with id %lld", (long long)id);
    return MD_OK;
}

/* ------------------------------------------------------------- interviews ---- */

#define INTERVIEW_COLUMNS \
    "id, patient_id, status, age_years, sex, events, messages, state, version, created_at_ms, updated_at_ms"

static bool row_interview(sqlite3_stmt *q, md_arena *a, void *out) {
    md_interview_record *r = out;
    bool oom = false;
    memset(r, 0, sizeof *r);
    r->id = sqlite3_column_int64(q, 0);
    r->patient_id = sqlite3_column_int64(q, 1);
    r->status = col(q, 2, a, &oom);
    r->age_years = sqlite3_column_type(q, 3) == SQLITE_NULL ? -1 : sqlite3_column_double(q, 3);
    r->sex = col(q, 4, a, &oom);
    r->events_json = col(q, 5, a, &oom);
    r->messages_json = col(q, 6, a, &oom);
    r->state_json = col(q, 7, a, &oom);
    r->version = sqlite3_column_int64(q, 8);
    r->created_at_ms = sqlite3_column_int64(q, 9);
    r->updated_at_ms = sqlite3_column_int64(q, 10);
    return !oom;
}

static md_status interview_create(md_store *s, int64_t patient_id, double age_years, const char *sex,
                                  int64_t *id_out, md_error *err) {
    sqlite3_stmt *q = NULL;
    md_status st = prepare(s,
                           "INSERT INTO interviews (patient_id, status, age_years, sex, events, messages, state, "
                           "version, created_at_ms, updated_at_ms) VALUES (?1, 'open', ?2, ?3, '[]', '[]', '{}', 1, "
                           "?4, ?4)",
                           &q, err, "creating an interview");
    if (st) return st;
    sqlite3_bind_int64(q, 1, patient_id);
    if (age_years >= 0) sqlite3_bind_double(q, 2, age_years);
    else sqlite3_bind_null(q, 2);
    bind_text(q, 3, sex);
    sqlite3_bind_int64(q, 4, now_ms());
    if ((st = run(s, q, err, "creating an interview"))) return st;
    *id_out = sqlite3_last_insert_rowid(md_sqlite_store_db(s));
    return MD_OK;
}

static md_status interview_get(md_store *s, int64_t id, md_arena *a, md_interview_record *out, md_error *err) {
    sqlite3_stmt *q = NULL;
    md_status st = prepare(s, "SELECT " INTERVIEW_COLUMNS " FROM interviews WHERE id = ?1", &q, err,
                           "reading an interview");
    if (st) return st;
    sqlite3_bind_int64(q, 1, id);
    return one_row(s, q, row_interview, a, out, err, "interview");
}

static md_status interview_update(md_store *s, const md_interview_record *rec, md_error *err) {
    sqlite3_stmt *q = NULL;
    md_status st = prepare(s,
                           "UPDATE interviews SET status = ?2, events = ?3, messages = ?4, state = ?5, "
                           "version = version + 1, updated_at_ms = ?6 WHERE id = ?1 AND version = ?7",
                           &q, err, "updating an interview");
    if (st) return st;
    sqlite3_bind_int64(q, 1, rec->id);
    bind_text(q, 2, rec->status);
    bind_text(q, 3, rec->events_json);
    bind_text(q, 4, rec->messages_json);
    bind_text(q, 5, rec->state_json);
    sqlite3_bind_int64(q, 6, now_ms());
    sqlite3_bind_int64(q, 7, rec->version);
    if ((st = run(s, q, err, "updating an interview"))) return st;
    if (sqlite3_changes(md_sqlite_store_db(s)) != 1)
        return md_error_set(err, MD_ERR_CONFLICT, "the interview changed meanwhile; retry");
    return MD_OK;
}

static md_status interview_each(md_store *s, int64_t patient_id, size_t limit, md_interview_fn fn, void *ctx,
                                md_error *err) {
    sqlite3_stmt *q = NULL;
    md_status st = prepare(s,
                           "SELECT " INTERVIEW_COLUMNS " FROM interviews WHERE (?1 = 0 OR patient_id = ?1) "
                           "ORDER BY id DESC LIMIT ?2",
                           &q, err, "listing interviews");
    if (st) return st;
    sqlite3_bind_int64(q, 1, patient_id);
    sqlite3_bind_int64(q, 2, limit ? (int64_t)limit : -1);
    int rc;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        md_interview_record r;
        row_interview(q, NULL, &r);
        if (!fn(&r, ctx)) break;
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) st = fail(md_sqlite_store_db(s), err, "listing interviews");
    sqlite3_finalize(q);
    return st;
}

/* ---------------------------------------------------------------- reports ---- */

#define REPORT_COLUMNS                                                                                         \
    "id, interview_id, patient_id, status, generator, sections, similar_cases, usage, body, annotations, "     \
    "coalesce(reviewer_id, 0), coalesce(signed_by, 0), coalesce(signed_at_ms, 0), created_at_ms, updated_at_ms"

static bool row_report(sqlite3_stmt *q, md_arena *a, void *out) {
    md_report_record *r = out;
    bool oom = false;
    memset(r, 0, sizeof *r);
    r->id = sqlite3_column_int64(q, 0);
    r->interview_id = sqlite3_column_int64(q, 1);
    r->patient_id = sqlite3_column_int64(q, 2);
    r->status = col(q, 3, a, &oom);
    r->generator = col(q, 4, a, &oom);
    r->sections_json = col(q, 5, a, &oom);
    r->similar_json = col(q, 6, a, &oom);
    r->usage_json = col(q, 7, a, &oom);
    r->body_json = col(q, 8, a, &oom);
    r->annotations_json = col(q, 9, a, &oom);
    r->reviewer_id = sqlite3_column_int64(q, 10);
    r->signed_by = sqlite3_column_int64(q, 11);
    r->signed_at_ms = sqlite3_column_int64(q, 12);
    r->created_at_ms = sqlite3_column_int64(q, 13);
    r->updated_at_ms = sqlite3_column_int64(q, 14);
    return !oom;
}

static md_status history_add(md_store *s, int64_t report_id, int64_t user_id, const char *action,
                             const char *diff_json, md_error *err) {
    sqlite3_stmt *q = NULL;
    md_status st = prepare(s, "INSERT INTO report_history (report_id, user_id, action, diff, at_ms) "
                              "VALUES (?1, nullif(?2, 0), ?3, ?4, ?5)",
                           &q, err, "writing report history");
    if (st) return st;
    sqlite3_bind_int64(q, 1, report_id);
    sqlite3_bind_int64(q, 2, user_id);
    bind_text(q, 3, action);
    bind_text(q, 4, diff_json);
    sqlite3_bind_int64(q, 5, now_ms());
    return run(s, q, err, "writing report history");
}

static md_status report_create(md_store *s, const md_report_record *rec, int64_t *id_out, md_error *err) {
    md_status st = sp_begin(s, err);
    if (st) return st;
    sqlite3_stmt *q = NULL;
    st = prepare(s,
                 "INSERT INTO reports (interview_id, patient_id, status, generator, sections, similar_cases, usage, "
                 "body, created_at_ms, updated_at_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9)",
                 &q, err, "creating a report");
    if (st == MD_OK) {
        sqlite3_bind_int64(q, 1, rec->interview_id);
        sqlite3_bind_int64(q, 2, rec->patient_id);
        bind_text(q, 3, rec->status);
        bind_text(q, 4, rec->generator);
        bind_text(q, 5, rec->sections_json ? rec->sections_json : "[]");
        bind_text(q, 6, rec->similar_json ? rec->similar_json : "[]");
        bind_text(q, 7, rec->usage_json ? rec->usage_json : "{}");
        bind_text(q, 8, rec->body_json);
        sqlite3_bind_int64(q, 9, now_ms());
        st = run(s, q, err, "creating a report");
    }
    if (st == MD_OK) {
        *id_out = sqlite3_last_insert_rowid(md_sqlite_store_db(s));
        st = history_add(s, *id_out, 0, "created", NULL, err);
    }
    return sp_end(s, st, err);
}

static md_status report_get(md_store *s, int64_t id, int64_t interview_id, md_arena *a, md_report_record *out,
                            md_error *err) {
    sqlite3_stmt *q = NULL;
    md_status st = prepare(s,
                           id ? "SELECT " REPORT_COLUMNS " FROM reports WHERE id = ?1"
                              : "SELECT " REPORT_COLUMNS " FROM reports WHERE interview_id = ?1",
                           &q, err, "reading a report");
    if (st) return st;
    sqlite3_bind_int64(q, 1, id ? id : interview_id);
    return one_row(s, q, row_report, a, out, err, "report");
}

static md_status report_update(md_store *s, const md_report_record *rec, int64_t user_id, const char *action,
                               const char *diff_json, md_error *err) {
    md_status st = sp_begin(s, err);
    if (st) return st;
    sqlite3_stmt *q = NULL;
    st = prepare(s,
                 "UPDATE reports SET status = ?2, generator = ?3, sections = ?4, similar_cases = ?5, usage = ?6, "
                 "body = ?7, annotations = ?8, reviewer_id = nullif(?9, 0), signed_by = nullif(?10, 0), "
                 "signed_at_ms = nullif(?11, 0), updated_at_ms = ?12 WHERE id = ?1",
                 &q, err, "updating a report");
    if (st == MD_OK) {
        sqlite3_bind_int64(q, 1, rec->id);
        bind_text(q, 2, rec->status);
        bind_text(q, 3, rec->generator);
        bind_text(q, 4, rec->sections_json ? rec->sections_json : "[]");
        bind_text(q, 5, rec->similar_json ? rec->similar_json : "[]");
        bind_text(q, 6, rec->usage_json ? rec->usage_json : "{}");
        bind_text(q, 7, rec->body_json);
        bind_text(q, 8, rec->annotations_json);
        sqlite3_bind_int64(q, 9, rec->reviewer_id);
        sqlite3_bind_int64(q, 10, rec->signed_by);
        sqlite3_bind_int64(q, 11, rec->signed_at_ms);
        sqlite3_bind_int64(q, 12, now_ms());
        st = run(s, q, err, "updating a report");
    }
    if (st == MD_OK && sqlite3_changes(md_sqlite_store_db(s)) != 1)
        st = md_error_set(err, MD_ERR_NOT_FOUND, "no report with id %lld", (long long)rec->id);
    if (st == MD_OK && action) st = history_add(s, rec->id, user_id, action, diff_json, err);
    return sp_end(s, st, err);
}

static md_status report_each(md_store *s, int64_t patient_id, const char *status, size_t limit, md_report_fn fn,
                             void *ctx, md_error *err) {
    sqlite3_stmt *q = NULL;
    md_status st = prepare(s,
                           "SELECT " REPORT_COLUMNS " FROM reports WHERE (?1 = 0 OR patient_id = ?1) AND "
                           "(?2 IS NULL OR status = ?2) ORDER BY id DESC LIMIT ?3",
                           &q, err, "listing reports");
    if (st) return st;
    sqlite3_bind_int64(q, 1, patient_id);
    bind_text(q, 2, status);
    sqlite3_bind_int64(q, 3, limit ? (int64_t)limit : -1);
    int rc;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        md_report_record r;
        row_report(q, NULL, &r);
        if (!fn(&r, ctx)) break;
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) st = fail(md_sqlite_store_db(s), err, "listing reports");
    sqlite3_finalize(q);
    return st;
}

/* ------------------------------------------------------ notes and history ---- */

static md_status note_add(md_store *s, int64_t report_id, int64_t author_id, const char *kind, const char *text,
                          int64_t *id_out, md_error *err) {
    md_status st = sp_begin(s, err);
    if (st) return st;
    sqlite3_stmt *q = NULL;
    st = prepare(s, "INSERT INTO report_notes (report_id, author_id, kind, text, created_at_ms) "
                    "VALUES (?1, ?2, ?3, ?4, ?5)",
                 &q, err, "adding a note");
    if (st == MD_OK) {
        sqlite3_bind_int64(q, 1, report_id);
        sqlite3_bind_int64(q, 2, author_id);
        bind_text(q, 3, kind);
        bind_text(q, 4, text);
        sqlite3_bind_int64(q, 5, now_ms());
        st = run(s, q, err, "adding a note");
    }
    if (st == MD_OK) {
        *id_out = sqlite3_last_insert_rowid(md_sqlite_store_db(s));
        char diff[96];
        snprintf(diff, sizeof diff, "{\"note_id\":%lld,\"kind\":\"%s\"}", (long long)*id_out,
                 strcmp(kind, "prescription") == 0 ? "prescription" : "note");
        st = history_add(s, report_id, author_id, "note_added", diff, err);
    }
    return sp_end(s, st, err);
}

static md_status note_each(md_store *s, int64_t report_id, md_note_fn fn, void *ctx, md_error *err) {
    sqlite3_stmt *q = NULL;
    md_status st = prepare(s,
                           "SELECT id, report_id, author_id, kind, text, created_at_ms FROM report_notes "
                           "WHERE report_id = ?1 ORDER BY id",
                           &q, err, "listing notes");
    if (st) return st;
    sqlite3_bind_int64(q, 1, report_id);
    int rc;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        bool oom = false;
        md_note_record n = {
            .id = sqlite3_column_int64(q, 0),
            .report_id = sqlite3_column_int64(q, 1),
            .author_id = sqlite3_column_int64(q, 2),
            .kind = col(q, 3, NULL, &oom),
            .text = col(q, 4, NULL, &oom),
            .created_at_ms = sqlite3_column_int64(q, 5),
        };
        if (!fn(&n, ctx)) break;
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) st = fail(md_sqlite_store_db(s), err, "listing notes");
    sqlite3_finalize(q);
    return st;
}

static md_status history_each(md_store *s, int64_t report_id, md_history_fn fn, void *ctx, md_error *err) {
    sqlite3_stmt *q = NULL;
    md_status st = prepare(s,
                           "SELECT id, report_id, coalesce(user_id, 0), action, diff, at_ms FROM report_history "
                           "WHERE report_id = ?1 ORDER BY id",
                           &q, err, "listing history");
    if (st) return st;
    sqlite3_bind_int64(q, 1, report_id);
    int rc;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        bool oom = false;
        md_history_record h = {
            .id = sqlite3_column_int64(q, 0),
            .report_id = sqlite3_column_int64(q, 1),
            .user_id = sqlite3_column_int64(q, 2),
            .action = col(q, 3, NULL, &oom),
            .diff_json = col(q, 4, NULL, &oom),
            .at_ms = sqlite3_column_int64(q, 5),
        };
        if (!fn(&h, ctx)) break;
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) st = fail(md_sqlite_store_db(s), err, "listing history");
    sqlite3_finalize(q);
    return st;
}

static md_status question_add(md_store *s, int64_t report_id, int64_t user_id, const char *question,
                              const char *answer, bool on_topic, md_error *err) {
    sqlite3_stmt *q = NULL;
    md_status st = prepare(s,
                           "INSERT INTO report_questions (report_id, user_id, question, answer, on_topic, at_ms) "
                           "VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                           &q, err, "recording a question");
    if (st) return st;
    sqlite3_bind_int64(q, 1, report_id);
    sqlite3_bind_int64(q, 2, user_id);
    bind_text(q, 3, question);
    bind_text(q, 4, answer);
    sqlite3_bind_int(q, 5, on_topic);
    sqlite3_bind_int64(q, 6, now_ms());
    return run(s, q, err, "recording a question");
}

/* ------------------------------------------------------------------ audit ---- */

static md_status audit_append(md_store *s, const md_audit_record *rec, md_error *err) {
    sqlite3_stmt *q = NULL;
    md_status st = prepare(s,
                           "INSERT INTO audit_log (at_ms, user_id, api_key_id, action, record_type, record_id, "
                           "outcome, http_status, request_id) VALUES (?1, nullif(?2, 0), nullif(?3, 0), ?4, ?5, "
                           "nullif(?6, 0), ?7, ?8, ?9)",
                           &q, err, "writing the audit log");
    if (st) return st;
    sqlite3_bind_int64(q, 1, rec->at_ms ? rec->at_ms : now_ms());
    sqlite3_bind_int64(q, 2, rec->user_id);
    sqlite3_bind_int64(q, 3, rec->api_key_id);
    bind_text(q, 4, rec->action);
    bind_text(q, 5, rec->record_type);
    sqlite3_bind_int64(q, 6, rec->record_id);
    bind_text(q, 7, rec->outcome);
    sqlite3_bind_int(q, 8, rec->http_status);
    bind_text(q, 9, rec->request_id);
    return run(s, q, err, "writing the audit log");
}

static md_status audit_each(md_store *s, int64_t before, size_t limit, md_audit_fn fn, void *ctx, md_error *err) {
    sqlite3_stmt *q = NULL;
    md_status st = prepare(s,
                           "SELECT id, at_ms, coalesce(user_id, 0), coalesce(api_key_id, 0), action, record_type, "
                           "coalesce(record_id, 0), outcome, http_status, request_id FROM audit_log "
                           "WHERE (?1 = 0 OR id < ?1) ORDER BY id DESC LIMIT ?2",
                           &q, err, "reading the audit log");
    if (st) return st;
    sqlite3_bind_int64(q, 1, before);
    sqlite3_bind_int64(q, 2, limit ? (int64_t)limit : -1);
    int rc;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        bool oom = false;
        md_audit_record r = {
            .id = sqlite3_column_int64(q, 0),
            .at_ms = sqlite3_column_int64(q, 1),
            .user_id = sqlite3_column_int64(q, 2),
            .api_key_id = sqlite3_column_int64(q, 3),
            .action = col(q, 4, NULL, &oom),
            .record_type = col(q, 5, NULL, &oom),
            .record_id = sqlite3_column_int64(q, 6),
            .outcome = col(q, 7, NULL, &oom),
            .http_status = sqlite3_column_int(q, 8),
            .request_id = col(q, 9, NULL, &oom),
        };
        if (!fn(&r, ctx)) break;
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) st = fail(md_sqlite_store_db(s), err, "reading the audit log");
    sqlite3_finalize(q);
    return st;
}

const md_store_product_ops md_sqlite_product_ops = {
    .user_insert = user_insert,
    .user_get = user_get,
    .user_by_email = user_by_email,
    .user_each = user_each,
    .user_update = user_update,
    .session_put = session_put,
    .session_get = session_get,
    .session_delete = session_delete,
    .api_key_put = api_key_put,
    .api_key_get = api_key_get,
    .api_key_each = api_key_each,
    .api_key_revoke = api_key_revoke,
    .interview_create = interview_create,
    .interview_get = interview_get,
    .interview_update = interview_update,
    .interview_each = interview_each,
    .report_create = report_create,
    .report_get = report_get,
    .report_update = report_update,
    .report_each = report_each,
    .note_add = note_add,
    .note_each = note_each,
    .history_each = history_each,
    .question_add = question_add,
    .audit_append = audit_append,
    .audit_each = audit_each,
};
