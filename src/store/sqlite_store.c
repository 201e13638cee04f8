/* sqlite_store.c: the SQLite 3 backend of the store.
 *
 * One database file, DIR/medify.db, in WAL mode (readers never block the writer) with
 * synchronous=NORMAL: in WAL mode a commit survives a killed process, and a power
 * loss can lose only the last commits, never consistency (sqlite.org/wal.html, and
 * the "synchronous" pragma). A busy timeout lets a second process wait for the
 * writer instead of failing at once.
 *
 * Schema changes are migrations: an ordered table of (version, description, SQL);
 * schema_migrations records each one applied, each in its own transaction. Opening a
 * database whose version is newer than this program knows is refused.
 *
 * Every statement on the hot path is prepared once at open and reset after use. A
 * case and its chunks are written under a savepoint, so a put is atomic inside or
 * outside an explicit transaction. Idempotence rests on the UNIQUE content_hash:
 * INSERT ... ON CONFLICT(content_hash) DO NOTHING, then a lookup of the existing id.
 *
 * SQLite allocates through its own allocator, not md_malloc (its configuration is
 * process-wide, and medify keeps no mutable process globals).
 */
#include "store/store_ops.h"
#include "store/sha256.h"
#include "store/sqlite_internal.h"

#include <sqlite3.h>
#include <string.h>
#include <time.h>

#define SQLITE_BUSY_TIMEOUT_MS 5000
#define SQLITE_DB_FILE "medify.db"
/* Page cache per connection: the content-hash index of a million cases (~100 MB) does
 * not fit whatever we choose; 16 MiB keeps its upper levels and a batch hot. */
#define SQLITE_CACHE_KIB_STR "16384"

typedef struct migration {
    int version;
    const char *description;
    const char *sql;
} migration;

static const migration k_migrations[] = {
    {1, "cases, chunks and import state",
     "CREATE TABLE cases ("
     "  id INTEGER PRIMARY KEY,"
     "  source TEXT NOT NULL,"
     "  external_id TEXT,"
     "  pmid TEXT,"
     "  title TEXT,"
     "  text TEXT NOT NULL,"
     "  age_years REAL," /* NULL when unknown */
     "  sex TEXT CHECK (sex IN ('female', 'male')),"
     "  content_hash TEXT NOT NULL UNIQUE,"
     "  dataset_version TEXT,"
     "  relevant_articles TEXT CHECK (relevant_articles IS NULL OR json_valid(relevant_articles)),"
     "  similar_patients TEXT CHECK (similar_patients IS NULL OR json_valid(similar_patients)),"
     "  created_at_ms INTEGER NOT NULL,"
     "  updated_at_ms INTEGER NOT NULL);"
     "CREATE INDEX cases_external_id ON cases(external_id);"
     "CREATE TABLE chunks ("
     "  case_id INTEGER NOT NULL REFERENCES cases(id) ON DELETE CASCADE,"
     "  ith INTEGER NOT NULL,"
     "  byte_start INTEGER NOT NULL,"
     "  text TEXT NOT NULL,"
     "  PRIMARY KEY (case_id, ith)) WITHOUT ROWID;"
     "CREATE TABLE import_state ("
     "  key TEXT PRIMARY KEY,"
     "  byte_offset INTEGER NOT NULL,"
     "  line INTEGER NOT NULL,"
     "  n_imported INTEGER NOT NULL,"
     "  n_duplicates INTEGER NOT NULL,"
     "  n_quarantined INTEGER NOT NULL,"
     "  done INTEGER NOT NULL,"
     "  updated_at_ms INTEGER NOT NULL);"},
    /* Accounts and records (accounts.h, records.h; queries in sqlite_product.c). Tokens
     * and keys are stored only as SHA-256 hex; audit rows hold ids, never content. */
    {2, "users, sessions, api keys, interviews, reports, notes, history, questions, audit",
     "CREATE TABLE users ("
     "  id INTEGER PRIMARY KEY,"
     "  email TEXT NOT NULL UNIQUE,"
     "  name TEXT NOT NULL,"
     "  role TEXT NOT NULL CHECK (role IN ('patient', 'clinician', 'admin')),"
     "  password_hash TEXT NOT NULL,"
     "  clinician_id INTEGER REFERENCES users(id),"
     "  disabled INTEGER NOT NULL DEFAULT 0,"
     "  created_at_ms INTEGER NOT NULL,"
     "  updated_at_ms INTEGER NOT NULL);"
     "CREATE TABLE sessions ("
     "  token_hash TEXT PRIMARY KEY,"
     "  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
     "  created_at_ms INTEGER NOT NULL,"
     "  expires_at_ms INTEGER NOT NULL) WITHOUT ROWID;"
     "CREATE INDEX sessions_user ON sessions(user_id);"
     "CREATE TABLE api_keys ("
     "  id INTEGER PRIMARY KEY,"
     "  name TEXT NOT NULL,"
     "  role TEXT NOT NULL CHECK (role IN ('patient', 'clinician', 'admin')),"
     "  key_hash TEXT NOT NULL UNIQUE,"
     "  created_by INTEGER NOT NULL REFERENCES users(id),"
     "  created_at_ms INTEGER NOT NULL,"
     "  last_used_at_ms INTEGER NOT NULL DEFAULT 0,"
     "  revoked INTEGER NOT NULL DEFAULT 0);"
     "CREATE TABLE interviews ("
     "  id INTEGER PRIMARY KEY,"
     "  patient_id INTEGER NOT NULL REFERENCES users(id),"
     "  status TEXT NOT NULL CHECK (status IN ('open', 'finished')),"
     "  age_years REAL,"
     "  sex TEXT CHECK (sex IN ('female', 'male')),"
     "  events TEXT NOT NULL CHECK (json_valid(events)),"
     "  messages TEXT NOT NULL CHECK (json_valid(messages)),"
     "  state TEXT NOT NULL CHECK (json_valid(state)),"
     "  version INTEGER NOT NULL,"
     "  created_at_ms INTEGER NOT NULL,"
     "  updated_at_ms INTEGER NOT NULL);"
     "CREATE INDEX interviews_patient ON interviews(patient_id, id);"
     "CREATE TABLE reports ("
     "  id INTEGER PRIMARY KEY,"
     "  interview_id INTEGER NOT NULL UNIQUE REFERENCES interviews(id),"
     "  patient_id INTEGER NOT NULL REFERENCES users(id),"
     "  status TEXT NOT NULL CHECK (status IN ('generating', 'pending_review', 'in_review', 'signed')),"
     "  generator TEXT NOT NULL,"
     "  sections TEXT NOT NULL CHECK (json_valid(sections)),"
     "  similar_cases TEXT NOT NULL CHECK (json_valid(similar_cases)),"
     "  usage TEXT NOT NULL CHECK (json_valid(usage)),"
     "  body TEXT CHECK (body IS NULL OR json_valid(body)),"
     "  annotations TEXT CHECK (annotations IS NULL OR json_valid(annotations)),"
     "  reviewer_id INTEGER REFERENCES users(id),"
     "  signed_by INTEGER REFERENCES users(id),"
     "  signed_at_ms INTEGER,"
     "  created_at_ms INTEGER NOT NULL,"
     "  updated_at_ms INTEGER NOT NULL);"
     "CREATE INDEX reports_patient ON reports(patient_id, id);"
     "CREATE INDEX reports_status ON reports(status, id);"
     "CREATE TABLE report_notes ("
     "  id INTEGER PRIMARY KEY,"
     "  report_id INTEGER NOT NULL REFERENCES reports(id),"
     "  author_id INTEGER NOT NULL REFERENCES users(id),"
     "  kind TEXT NOT NULL CHECK (kind IN ('note', 'prescription')),"
     "  text TEXT NOT NULL,"
     "  created_at_ms INTEGER NOT NULL);"
     "CREATE INDEX report_notes_report ON report_notes(report_id, id);"
     "CREATE TABLE report_history ("
     "  id INTEGER PRIMARY KEY,"
     "  report_id INTEGER NOT NULL REFERENCES reports(id),"
     "  user_id INTEGER,"
     "  action TEXT NOT NULL,"
     "  diff TEXT CHECK (diff IS NULL OR json_valid(diff)),"
     "  at_ms INTEGER NOT NULL);"
     "CREATE INDEX report_history_report ON report_history(report_id, id);"
     "CREATE TABLE report_questions ("
     "  id INTEGER PRIMARY KEY,"
     "  report_id INTEGER NOT NULL REFERENCES reports(id),"
     "  user_id INTEGER NOT NULL,"
     "  question TEXT NOT NULL,"
     "  answer TEXT NOT NULL,"
     "  on_topic INTEGER NOT NULL,"
     "  at_ms INTEGER NOT NULL);"
     "CREATE TABLE audit_log ("
     "  id INTEGER PRIMARY KEY,"
     "  at_ms INTEGER NOT NULL,"
     "  user_id INTEGER,"
     "  api_key_id INTEGER,"
     "  action TEXT NOT NULL,"
     "  record_type TEXT,"
     "  record_id INTEGER,"
     "  outcome TEXT NOT NULL,"
     "  http_status INTEGER NOT NULL,"
     "  request_id TEXT);"},
};

#define CASE_COLUMNS                                                                                      \
    "id, source, external_id, pmid, title, text, age_years, sex, content_hash, dataset_version, "         \
    "relevant_articles, similar_patients, created_at_ms, updated_at_ms"

/* Prepared statements, by role. */
typedef enum stmt_id {
    STMT_INSERT_CASE,
    STMT_ID_BY_HASH,
    STMT_INSERT_CHUNK,
    STMT_GET_CASE,
    STMT_FIND_EXTERNAL,
    STMT_COUNT,
    STMT_IMPORT_GET,
    STMT_IMPORT_PUT,
    STMT_COUNT_ALL,
} stmt_id;

static const char *const k_stmt_sql[STMT_COUNT_ALL] = {
    [STMT_INSERT_CASE] = "INSERT INTO cases (source, external_id, pmid, title, text, age_years, sex, content_hash, "
                         "dataset_version, relevant_articles, similar_patients, created_at_ms, updated_at_ms) "
                         "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13) "
                         "ON CONFLICT(content_hash) DO NOTHING",
    [STMT_ID_BY_HASH] = "SELECT id FROM cases WHERE content_hash = ?1",
    [STMT_INSERT_CHUNK] = "INSERT INTO chunks (case_id, ith, byte_start, text) VALUES (?1, ?2, ?3, ?4)",
    [STMT_GET_CASE] = "SELECT " CASE_COLUMNS " FROM cases WHERE id = ?1",
    [STMT_FIND_EXTERNAL] = "SELECT id FROM cases WHERE external_id = ?1 ORDER BY id LIMIT 1",
    [STMT_COUNT] = "SELECT count(*) FROM cases",
    [STMT_IMPORT_GET] = "SELECT byte_offset, line, n_imported, n_duplicates, n_quarantined, done "
                        "FROM import_state WHERE key = ?1",
    [STMT_IMPORT_PUT] = "INSERT INTO import_state (key, byte_offset, line, n_imported, n_duplicates, n_quarantined, "
                        "done, updated_at_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) "
                        "ON CONFLICT(key) DO UPDATE SET byte_offset = excluded.byte_offset, line = excluded.line, "
                        "n_imported = excluded.n_imported, n_duplicates = excluded.n_duplicates, "
                        "n_quarantined = excluded.n_quarantined, done = excluded.done, "
                        "updated_at_ms = excluded.updated_at_ms",
};

typedef struct sqlite_store {
    struct md_store base; /* must be first */
    sqlite3 *db;
    int schema_version;
    sqlite3_stmt *stmt[STMT_COUNT_ALL];
} sqlite_store;

static sqlite_store *as_sqlite(md_store *s) { return (sqlite_store *)s; }

static md_status db_fail(sqlite_store *ss, md_error *err, const char *what) {
    int rc = sqlite3_errcode(ss->db);
    md_status st = MD_ERR_IO;
    if (rc == SQLITE_NOMEM) st = MD_ERR_NOMEM;
    else if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED) st = MD_ERR_TIMEOUT;
    else if (rc == SQLITE_CONSTRAINT) st = MD_ERR_CONFLICT;
    else if (rc == SQLITE_FULL) st = MD_ERR_LIMIT;
    return md_error_set(err, st, "store: %s: %s", what, sqlite3_errmsg(ss->db));
}

static int64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static md_status exec_sql(sqlite_store *ss, const char *sql, md_error *err, const char *what) {
    if (sqlite3_exec(ss->db, sql, NULL, NULL, NULL) != SQLITE_OK) return db_fail(ss, err, what);
    return MD_OK;
}

static bool sqlite_accepts(const char *location) { return strstr(location, "://") == NULL; }

/* Current schema version, 0 for a fresh database. */
static md_status read_version(sqlite_store *ss, int *version, md_error *err) {
    sqlite3_stmt *q = NULL;
    *version = 0;
    if (sqlite3_prepare_v2(ss->db, "SELECT coalesce(max(version), 0) FROM schema_migrations", -1, &q, NULL) !=
        SQLITE_OK)
        return db_fail(ss, err, "reading the schema version");
    md_status st = MD_OK;
    if (sqlite3_step(q) == SQLITE_ROW) *version = sqlite3_column_int(q, 0);
    else st = db_fail(ss, err, "reading the schema version");
    sqlite3_finalize(q);
    return st;
}

static md_status migrate(sqlite_store *ss, md_error *err) {
    md_status st = exec_sql(ss,
                            "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, "
                            "description TEXT NOT NULL, applied_at_ms INTEGER NOT NULL)",
                            err, "creating schema_migrations");
    if (st) return st;
    int version = 0;
    if ((st = read_version(ss, &version, err))) return st;
    int latest = k_migrations[MD_ARRAY_LEN(k_migrations) - 1].version;
    if (version > latest)
        return md_error_set(err, MD_ERR_UNSUPPORTED,
                            "store: database schema version %d is newer than this medify supports (%d)", version,
                            latest);
    for (size_t i = 0; i < MD_ARRAY_LEN(k_migrations); i++) {
        const migration *m = &k_migrations[i];
        if (m->version <= version) continue;
        if ((st = exec_sql(ss, "BEGIN IMMEDIATE", err, "starting a migration"))) return st;
        /* Another process may have migrated while we waited for the lock. */
        int now_version = 0;
        if ((st = read_version(ss, &now_version, err))) goto fail;
        if (now_version >= m->version) {
            exec_sql(ss, "COMMIT", NULL, "");
            continue;
        }
        if ((st = exec_sql(ss, m->sql, err, m->description))) goto fail;
        sqlite3_stmt *q = NULL;
        if (sqlite3_prepare_v2(ss->db, "INSERT INTO schema_migrations (version, description, applied_at_ms) "
                                       "VALUES (?1, ?2, ?3)", -1, &q, NULL) != SQLITE_OK) {
            st = db_fail(ss, err, "recording a migration");
            goto fail;
        }
        sqlite3_bind_int(q, 1, m->version);
        sqlite3_bind_text(q, 2, m->description, -1, SQLITE_STATIC);
        sqlite3_bind_int64(q, 3, now_ms());
        int rc = sqlite3_step(q);
        sqlite3_finalize(q);
        if (rc != SQLITE_DONE) {
            st = db_fail(ss, err, "recording a migration");
            goto fail;
        }
        if ((st = exec_sql(ss, "COMMIT", err, "committing a migration"))) goto fail;
        continue;
    fail:
        sqlite3_exec(ss->db, "ROLLBACK", NULL, NULL, NULL);
        return st;
    }
    return read_version(ss, &ss->schema_version, err);
}

static void sqlite_close(md_store *s) {
    sqlite_store *ss = as_sqlite(s);
    for (size_t i = 0; i < STMT_COUNT_ALL; i++) sqlite3_finalize(ss->stmt[i]);
    sqlite3_close(ss->db);
    md_free(ss);
}

static md_status sqlite_open(const char *dir, md_store **out, md_error *err) {
    md_status st = md_store_mkdir_p(dir, err);
    if (st) return st;
    size_t n = strlen(dir) + sizeof "/" SQLITE_DB_FILE;
    char *path = md_malloc(n);
    if (!path) return md_error_set(err, MD_ERR_NOMEM, "out of memory");
    snprintf(path, n, "%s/%s", dir, SQLITE_DB_FILE);
    sqlite_store *ss = md_calloc(1, sizeof *ss);
    if (!ss) {
        md_free(path);
        return md_error_set(err, MD_ERR_NOMEM, "out of memory");
    }
    ss->base.ops = &md_sqlite_store_ops;
    int rc = sqlite3_open_v2(path, &ss->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        st = md_error_set(err, rc == SQLITE_NOMEM ? MD_ERR_NOMEM : MD_ERR_IO, "store: cannot open %s: %s", path,
                          ss->db ? sqlite3_errmsg(ss->db) : sqlite3_errstr(rc));
        goto fail;
    }
    sqlite3_extended_result_codes(ss->db, 0);
    sqlite3_busy_timeout(ss->db, SQLITE_BUSY_TIMEOUT_MS);
    /* journal_mode returns a row; sqlite3_exec discards it. */
    if ((st = exec_sql(ss, "PRAGMA journal_mode=WAL", err, "enabling WAL"))) goto fail;
    if ((st = exec_sql(ss, "PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON; PRAGMA cache_size=-" SQLITE_CACHE_KIB_STR, err,
                       "setting pragmas")))
        goto fail;
    if ((st = migrate(ss, err))) goto fail;
    for (size_t i = 0; i < STMT_COUNT_ALL; i++) {
        if (sqlite3_prepare_v3(ss->db, k_stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &ss->stmt[i], NULL) != SQLITE_OK) {
            st = db_fail(ss, err, "preparing statements");
            goto fail;
        }
    }
    md_free(path);
    *out = &ss->base;
    return MD_OK;
fail:
    md_free(path);
    sqlite_close(&ss->base);
    return st;
}

static int sqlite_schema_version(const md_store *s) { return ((const sqlite_store *)s)->schema_version; }

static md_status sqlite_begin(md_store *s, md_error *err) {
    return exec_sql(as_sqlite(s), "BEGIN IMMEDIATE", err, "begin");
}

static md_status sqlite_commit(md_store *s, md_error *err) { return exec_sql(as_sqlite(s), "COMMIT", err, "commit"); }

static md_status sqlite_rollback(md_store *s) {
    sqlite_store *ss = as_sqlite(s);
    if (sqlite3_get_autocommit(ss->db)) return MD_OK; /* SQLite already rolled back */
    return exec_sql(ss, "ROLLBACK", NULL, "rollback");
}

static void bind_text_or_null(sqlite3_stmt *q, int i, const char *s) {
    if (s) sqlite3_bind_text(q, i, s, -1, SQLITE_STATIC);
    else sqlite3_bind_null(q, i);
}

static md_status step_done(sqlite_store *ss, sqlite3_stmt *q, md_error *err, const char *what) {
    int rc = sqlite3_step(q);
    md_status st = rc == SQLITE_DONE || rc == SQLITE_ROW ? MD_OK : db_fail(ss, err, what);
    sqlite3_reset(q);
    sqlite3_clear_bindings(q);
    return st;
}

static md_status write_chunks(sqlite_store *ss, int64_t case_id, const char *text, md_error *err) {
    size_t n = strlen(text);
    if (n <= MD_STORE_CHUNK_TARGET_BYTES) return MD_OK;
    sqlite3_stmt *q = ss->stmt[STMT_INSERT_CHUNK];
    size_t pos = 0;
    for (int ith = 0; pos < n; ith++) {
        size_t len = md_store_chunk_len(text + pos, n - pos);
        size_t trimmed = len;
        while (trimmed > 0 && (text[pos + trimmed - 1] == ' ' || text[pos + trimmed - 1] == '\n' ||
                               text[pos + trimmed - 1] == '\t' || text[pos + trimmed - 1] == '\r'))
            trimmed--;
        if (trimmed > 0) {
            sqlite3_bind_int64(q, 1, case_id);
            sqlite3_bind_int(q, 2, ith);
            sqlite3_bind_int64(q, 3, (int64_t)pos);
            sqlite3_bind_text(q, 4, text + pos, (int)trimmed, SQLITE_STATIC);
            md_status st = step_done(ss, q, err, "writing a chunk");
            if (st) return st;
        }
        pos += len;
    }
    return MD_OK;
}

static md_status sqlite_case_put(md_store *s, const md_case_record *rec, int64_t *id_out, bool *inserted,
                                 md_error *err) {
    sqlite_store *ss = as_sqlite(s);
    char hash[MD_SHA256_HEX_BYTES];
    const char *h = rec->content_hash;
    if (!h) {
        md_store_content_hash(rec->text, strlen(rec->text), hash);
        h = hash;
    }
    md_status st = exec_sql(ss, "SAVEPOINT case_put", err, "savepoint");
    if (st) return st;
    int64_t t = now_ms();
    sqlite3_stmt *q = ss->stmt[STMT_INSERT_CASE];
    sqlite3_bind_text(q, 1, rec->source, -1, SQLITE_STATIC);
    bind_text_or_null(q, 2, rec->external_id);
    bind_text_or_null(q, 3, rec->pmid);
    bind_text_or_null(q, 4, rec->title);
    sqlite3_bind_text(q, 5, rec->text, -1, SQLITE_STATIC);
    if (rec->age_years >= 0) sqlite3_bind_double(q, 6, rec->age_years);
    else sqlite3_bind_null(q, 6);
    bind_text_or_null(q, 7, rec->sex);
    sqlite3_bind_text(q, 8, h, -1, SQLITE_STATIC);
    bind_text_or_null(q, 9, rec->dataset_version);
    bind_text_or_null(q, 10, rec->relevant_articles_json);
    bind_text_or_null(q, 11, rec->similar_patients_json);
    sqlite3_bind_int64(q, 12, rec->created_at_ms > 0 ? rec->created_at_ms : t);
    sqlite3_bind_int64(q, 13, rec->updated_at_ms > 0 ? rec->updated_at_ms : t);
    if ((st = step_done(ss, q, err, "inserting a case"))) goto fail;
    if (sqlite3_changes(ss->db) == 1) {
        *id_out = sqlite3_last_insert_rowid(ss->db);
        *inserted = true;
        if ((st = write_chunks(ss, *id_out, rec->text, err))) goto fail;
    } else {
        q = ss->stmt[STMT_ID_BY_HASH];
        sqlite3_bind_text(q, 1, h, -1, SQLITE_STATIC);
        int rc = sqlite3_step(q);
        if (rc == SQLITE_ROW) *id_out = sqlite3_column_int64(q, 0);
        else st = db_fail(ss, err, "finding a duplicate");
        sqlite3_reset(q);
        sqlite3_clear_bindings(q);
        if (st) goto fail;
        *inserted = false;
    }
    return exec_sql(ss, "RELEASE case_put", err, "release");
fail:
    sqlite3_exec(ss->db, "ROLLBACK TO case_put; RELEASE case_put", NULL, NULL, NULL);
    return st;
}

static const char *col_text(sqlite3_stmt *q, int i, md_arena *a, bool *oom) {
    const unsigned char *t = sqlite3_column_text(q, i);
    if (!t) return NULL;
    if (!a) return (const char *)t;
    char *c = md_arena_strndup(a, (const char *)t, (size_t)sqlite3_column_bytes(q, i));
    if (!c) *oom = true;
    return c;
}

/* Fills rec from a row of CASE_COLUMNS; strings copied into a (or borrowed when a is NULL). */
static bool row_to_record(sqlite3_stmt *q, md_arena *a, md_case_record *rec) {
    bool oom = false;
    memset(rec, 0, sizeof *rec);
    rec->id = sqlite3_column_int64(q, 0);
    rec->source = col_text(q, 1, a, &oom);
    rec->external_id = col_text(q, 2, a, &oom);
    rec->pmid = col_text(q, 3, a, &oom);
    rec->title = col_text(q, 4, a, &oom);
    rec->text = col_text(q, 5, a, &oom);
    rec->age_years = sqlite3_column_type(q, 6) == SQLITE_NULL ? -1 : sqlite3_column_double(q, 6);
    rec->sex = col_text(q, 7, a, &oom);
    rec->content_hash = col_text(q, 8, a, &oom);
    rec->dataset_version = col_text(q, 9, a, &oom);
    rec->relevant_articles_json = col_text(q, 10, a, &oom);
    rec->similar_patients_json = col_text(q, 11, a, &oom);
    rec->created_at_ms = sqlite3_column_int64(q, 12);
    rec->updated_at_ms = sqlite3_column_int64(q, 13);
    return !oom;
}

static md_status sqlite_case_get(md_store *s, int64_t id, md_arena *a, md_case_record *out, md_error *err) {
    sqlite_store *ss = as_sqlite(s);
    sqlite3_stmt *q = ss->stmt[STMT_GET_CASE];
    sqlite3_bind_int64(q, 1, id);
    int rc = sqlite3_step(q);
    md_status st = MD_OK;
    if (rc == SQLITE_ROW) {
        if (!row_to_record(q, a, out)) st = md_error_set(err, MD_ERR_NOMEM, "out of memory reading case %lld", (long long)id);
    } else if (rc == SQLITE_DONE) {
        st = md_error_set(err, MD_ERR_NOT_FOUND, "no case with id %lld", (long long)id);
    } else {
        st = db_fail(ss, err, "reading a case");
    }
    sqlite3_reset(q);
    sqlite3_clear_bindings(q);
    return st;
}

static md_status query_id(sqlite_store *ss, stmt_id which, const char *key, int64_t *id_out, md_error *err,
                          const char *what) {
    sqlite3_stmt *q = ss->stmt[which];
    sqlite3_bind_text(q, 1, key, -1, SQLITE_STATIC);
    int rc = sqlite3_step(q);
    md_status st = MD_OK;
    if (rc == SQLITE_ROW) *id_out = sqlite3_column_int64(q, 0);
    else if (rc == SQLITE_DONE) st = md_error_set(err, MD_ERR_NOT_FOUND, "no case with external id '%s'", key);
    else st = db_fail(ss, err, what);
    sqlite3_reset(q);
    sqlite3_clear_bindings(q);
    return st;
}

static md_status sqlite_case_find_external(md_store *s, const char *external_id, int64_t *id_out, md_error *err) {
    return query_id(as_sqlite(s), STMT_FIND_EXTERNAL, external_id, id_out, err, "finding a case");
}

static md_status sqlite_case_count(md_store *s, int64_t *n_out, md_error *err) {
    sqlite_store *ss = as_sqlite(s);
    sqlite3_stmt *q = ss->stmt[STMT_COUNT];
    int rc = sqlite3_step(q);
    md_status st = MD_OK;
    if (rc == SQLITE_ROW) *n_out = sqlite3_column_int64(q, 0);
    else st = db_fail(ss, err, "counting cases");
    sqlite3_reset(q);
    return st;
}

static md_status sqlite_case_each(md_store *s, int64_t after_id, size_t limit, md_case_fn fn, void *ctx,
                                  md_error *err) {
    sqlite_store *ss = as_sqlite(s);
    sqlite3_stmt *q = NULL;
    /* Prepared per call so that fn may itself use the store, even iterate it. */
    if (sqlite3_prepare_v2(ss->db, "SELECT " CASE_COLUMNS " FROM cases WHERE id > ?1 ORDER BY id LIMIT ?2", -1, &q,
                           NULL) != SQLITE_OK)
        return db_fail(ss, err, "iterating cases");
    sqlite3_bind_int64(q, 1, after_id);
    sqlite3_bind_int64(q, 2, limit == 0 || limit > (size_t)INT64_MAX ? -1 : (int64_t)limit);
    md_status st = MD_OK;
    for (;;) {
        int rc = sqlite3_step(q);
        if (rc == SQLITE_DONE) break;
        if (rc != SQLITE_ROW) {
            st = db_fail(ss, err, "iterating cases");
            break;
        }
        md_case_record rec;
        row_to_record(q, NULL, &rec);
        if (!fn(&rec, ctx)) break;
    }
    sqlite3_finalize(q);
    return st;
}

static md_status sqlite_import_get(md_store *s, const char *key, md_import_state *out, bool *found, md_error *err) {
    sqlite_store *ss = as_sqlite(s);
    sqlite3_stmt *q = ss->stmt[STMT_IMPORT_GET];
    sqlite3_bind_text(q, 1, key, -1, SQLITE_STATIC);
    int rc = sqlite3_step(q);
    md_status st = MD_OK;
    if (rc == SQLITE_ROW) {
        *found = true;
        out->byte_offset = (uint64_t)sqlite3_column_int64(q, 0);
        out->line = (uint64_t)sqlite3_column_int64(q, 1);
        out->n_imported = (uint64_t)sqlite3_column_int64(q, 2);
        out->n_duplicates = (uint64_t)sqlite3_column_int64(q, 3);
        out->n_quarantined = (uint64_t)sqlite3_column_int64(q, 4);
        out->done = sqlite3_column_int(q, 5) != 0;
    } else if (rc != SQLITE_DONE) {
        st = db_fail(ss, err, "reading import state");
    }
    sqlite3_reset(q);
    sqlite3_clear_bindings(q);
    return st;
}

static md_status sqlite_import_put(md_store *s, const char *key, const md_import_state *stt, md_error *err) {
    sqlite_store *ss = as_sqlite(s);
    sqlite3_stmt *q = ss->stmt[STMT_IMPORT_PUT];
    sqlite3_bind_text(q, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 2, (int64_t)stt->byte_offset);
    sqlite3_bind_int64(q, 3, (int64_t)stt->line);
    sqlite3_bind_int64(q, 4, (int64_t)stt->n_imported);
    sqlite3_bind_int64(q, 5, (int64_t)stt->n_duplicates);
    sqlite3_bind_int64(q, 6, (int64_t)stt->n_quarantined);
    sqlite3_bind_int(q, 7, stt->done ? 1 : 0);
    sqlite3_bind_int64(q, 8, now_ms());
    return step_done(ss, q, err, "writing import state");
}

const md_store_ops md_sqlite_store_ops = {
    .name = "sqlite",
    .accepts = sqlite_accepts,
    .open = sqlite_open,
    .close = sqlite_close,
    .schema_version = sqlite_schema_version,
    .begin = sqlite_begin,
    .commit = sqlite_commit,
    .rollback = sqlite_rollback,
    .case_put = sqlite_case_put,
    .case_get = sqlite_case_get,
    .case_find_external = sqlite_case_find_external,
    .case_count = sqlite_case_count,
    .case_each = sqlite_case_each,
    .import_get = sqlite_import_get,
    .import_put = sqlite_import_put,
    .product = &md_sqlite_product_ops,
};

sqlite3 *md_sqlite_store_db(md_store *s) { return as_sqlite(s)->db; }
