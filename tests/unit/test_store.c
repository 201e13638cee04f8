/* The store (SQLite backend): open creates the directory and migrates, reopen keeps
 * data and version, a newer schema is refused; put/get round-trips every field;
 * re-putting the same text (even re-wrapped) is idempotent; count, find by external
 * id, iteration with after_id/limit/early stop; rollback discards; import state
 * commits with its transaction; long texts are chunked at sentence ends. */
#include "check.h"
#include "medify/base.h"
#include "medify/store.h"
#include "store/sha256.h"
#include "store/store_ops.h"

#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The number of migrations in src/store/sqlite_store.c (each adds one version). */
#define SCHEMA_LATEST 2

static char g_dir[256];

static void rm_rf(const char *dir) {
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0);
}

static md_case_record sample(const char *uid, const char *text) {
    md_case_record r;
    memset(&r, 0, sizeof r);
    r.source = "pmc-patients";
    r.external_id = uid;
    r.pmid = "123456";
    r.title = "A case of chest pain";
    r.text = text;
    r.age_years = 1.5;
    r.sex = "female";
    r.dataset_version = "pmc-patients-v1";
    r.relevant_articles_json = "{\"1\":1}";
    r.similar_patients_json = "{\"2-1\":2}";
    return r;
}

static int64_t sqlite_int(const char *sql) {
    char path[300];
    snprintf(path, sizeof path, "%s/sub/medify.db", g_dir);
    sqlite3 *db = NULL;
    int64_t v = -1;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) == SQLITE_OK) {
        sqlite3_stmt *q = NULL;
        if (sqlite3_prepare_v2(db, sql, -1, &q, NULL) == SQLITE_OK && sqlite3_step(q) == SQLITE_ROW)
            v = sqlite3_column_int64(q, 0);
        sqlite3_finalize(q);
    }
    sqlite3_close(db);
    return v;
}

static void test_open_migrate_reopen(void) {
    char sub[300];
    snprintf(sub, sizeof sub, "%s/sub", g_dir);
    md_store *s = NULL;
    md_error err = {0};
    CHECK_EQ_INT(md_store_open(sub, &s, &err), MD_OK);
    CHECK_EQ_INT(md_store_schema_version(s), SCHEMA_LATEST);
    int64_t id = 0;
    bool ins = false;
    md_case_record r = sample("1-1", "Short text.");
    CHECK_EQ_INT(md_store_case_put(s, &r, &id, &ins, &err), MD_OK);
    md_store_close(s);
    CHECK_EQ_INT(sqlite_int("SELECT count(*) FROM schema_migrations"), SCHEMA_LATEST);
    s = NULL;
    CHECK_EQ_INT(md_store_open(sub, &s, &err), MD_OK);
    CHECK_EQ_INT(md_store_schema_version(s), SCHEMA_LATEST);
    int64_t n = 0;
    CHECK_EQ_INT(md_store_case_count(s, &n, &err), MD_OK);
    CHECK_EQ_INT(n, 1);
    md_store_close(s);
    CHECK_EQ_INT(sqlite_int("SELECT count(*) FROM schema_migrations"), SCHEMA_LATEST); /* not re-applied */

    /* WAL mode persists in the file. */
    char path[400];
    snprintf(path, sizeof path, "%s/medify.db", sub);
    sqlite3 *db = NULL;
    sqlite3_open(path, &db);
    sqlite3_stmt *q = NULL;
    sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &q, NULL);
    CHECK(sqlite3_step(q) == SQLITE_ROW && strcmp((const char *)sqlite3_column_text(q, 0), "wal") == 0);
    sqlite3_finalize(q);
    /* A newer schema than this program knows is refused. */
    sqlite3_exec(db, "INSERT INTO schema_migrations VALUES (99, 'future', 0)", NULL, NULL, NULL);
    sqlite3_close(db);
    s = NULL;
    CHECK_EQ_INT(md_store_open(sub, &s, &err), MD_ERR_UNSUPPORTED);
    CHECK(s == NULL);
    CHECK(strstr(err.message, "newer") != NULL);
    rm_rf(sub);
}

static void test_put_get(md_store *s) {
    md_error err = {0};
    md_case_record r = sample("7665777-1", "A 45-year-old woman presented with chest pain.");
    int64_t id = 0, id2 = 0;
    bool ins = false;
    CHECK_EQ_INT(md_store_case_put(s, &r, &id, &ins, &err), MD_OK);
    CHECK(ins);
    CHECK(id > 0);
    md_arena a;
    md_arena_init(&a, 0);
    md_case_record g;
    CHECK_EQ_INT(md_store_case_get(s, id, &a, &g, &err), MD_OK);
    CHECK_EQ_INT(g.id, id);
    CHECK_EQ_STR(g.source, "pmc-patients");
    CHECK_EQ_STR(g.external_id, "7665777-1");
    CHECK_EQ_STR(g.pmid, "123456");
    CHECK_EQ_STR(g.title, "A case of chest pain");
    CHECK_EQ_STR(g.text, r.text);
    CHECK_NEAR(g.age_years, 1.5, 0);
    CHECK_EQ_STR(g.sex, "female");
    CHECK_EQ_STR(g.dataset_version, "pmc-patients-v1");
    CHECK_EQ_STR(g.relevant_articles_json, "{\"1\":1}");
    CHECK_EQ_STR(g.similar_patients_json, "{\"2-1\":2}");
    char hash[MD_SHA256_HEX_BYTES];
    md_store_content_hash(r.text, strlen(r.text), hash);
    CHECK_EQ_STR(g.content_hash, hash);
    CHECK(g.created_at_ms > 1600000000000LL && g.updated_at_ms >= g.created_at_ms);

    /* Idempotent: the same text, re-wrapped, under another uid. */
    md_case_record r2 = sample("other", "  A 45-year-old woman\npresented with   chest pain. ");
    CHECK_EQ_INT(md_store_case_put(s, &r2, &id2, &ins, &err), MD_OK);
    CHECK(!ins);
    CHECK_EQ_INT(id2, id);
    int64_t n = 0;
    CHECK_EQ_INT(md_store_case_count(s, &n, &err), MD_OK);
    CHECK_EQ_INT(n, 1);

    /* Unknowns stay unknown. */
    md_case_record r3;
    memset(&r3, 0, sizeof r3);
    r3.source = "csv";
    r3.text = "Minimal.";
    r3.age_years = -1;
    CHECK_EQ_INT(md_store_case_put(s, &r3, &id2, &ins, &err), MD_OK);
    CHECK(ins);
    CHECK_EQ_INT(md_store_case_get(s, id2, &a, &g, &err), MD_OK);
    CHECK(g.external_id == NULL && g.pmid == NULL && g.sex == NULL && g.relevant_articles_json == NULL);
    CHECK(g.age_years < 0);
    CHECK_EQ_INT(md_store_case_get(s, 999999, &a, &g, &err), MD_ERR_NOT_FOUND);

    int64_t found = 0;
    CHECK_EQ_INT(md_store_case_find_external(s, "7665777-1", &found, &err), MD_OK);
    CHECK_EQ_INT(found, id);
    CHECK_EQ_INT(md_store_case_find_external(s, "nope", &found, &err), MD_ERR_NOT_FOUND);

    /* Bad arguments and constraint violations are errors, not crashes. */
    md_case_record bad = sample("x", "Some text.");
    bad.sex = "other";
    CHECK_EQ_INT(md_store_case_put(s, &bad, &id2, &ins, &err), MD_ERR_INVALID_ARG);
    bad = sample("x", "Other text.");
    bad.relevant_articles_json = "{not json";
    CHECK(md_store_case_put(s, &bad, &id2, &ins, &err) != MD_OK);
    CHECK_EQ_INT(md_store_case_count(s, &n, &err), MD_OK);
    CHECK_EQ_INT(n, 2);
    md_arena_free(&a);
}

typedef struct each_ctx {
    int n;
    int64_t last_id;
    int stop_after;
    bool ordered;
} each_ctx;

static bool each_fn(const md_case_record *rec, void *ctx) {
    each_ctx *c = ctx;
    if (rec->id <= c->last_id) c->ordered = false;
    c->last_id = rec->id;
    c->n++;
    return c->stop_after == 0 || c->n < c->stop_after;
}

static void test_each_and_transactions(md_store *s) {
    md_error err = {0};
    int64_t n0 = 0;
    md_store_case_count(s, &n0, &err);
    CHECK_EQ_INT(md_store_begin(s, &err), MD_OK);
    CHECK_EQ_INT(md_store_begin(s, &err), MD_ERR_CONFLICT);
    char text[64];
    for (int i = 0; i < 25; i++) {
        snprintf(text, sizeof text, "Case number %d.", i);
        md_case_record r = sample("t", text);
        int64_t id;
        bool ins;
        CHECK_EQ_INT(md_store_case_put(s, &r, &id, &ins, &err), MD_OK);
    }
    CHECK_EQ_INT(md_store_commit(s, &err), MD_OK);
    CHECK_EQ_INT(md_store_commit(s, &err), MD_ERR_CONFLICT);
    int64_t n = 0;
    md_store_case_count(s, &n, &err);
    CHECK_EQ_INT(n, n0 + 25);

    each_ctx c = {.ordered = true};
    CHECK_EQ_INT(md_store_case_each(s, 0, 0, each_fn, &c, &err), MD_OK);
    CHECK_EQ_INT(c.n, n);
    CHECK(c.ordered);
    each_ctx c2 = {.ordered = true};
    CHECK_EQ_INT(md_store_case_each(s, 0, 5, each_fn, &c2, &err), MD_OK);
    CHECK_EQ_INT(c2.n, 5);
    each_ctx c3 = {.ordered = true};
    CHECK_EQ_INT(md_store_case_each(s, c2.last_id, 0, each_fn, &c3, &err), MD_OK);
    CHECK_EQ_INT(c3.n, n - 5);
    each_ctx c4 = {.ordered = true, .stop_after = 3};
    CHECK_EQ_INT(md_store_case_each(s, 0, 0, each_fn, &c4, &err), MD_OK);
    CHECK_EQ_INT(c4.n, 3);

    /* Rollback discards rows and import state together. */
    CHECK_EQ_INT(md_store_begin(s, &err), MD_OK);
    md_case_record r = sample("rb", "This will be rolled back.");
    int64_t id;
    bool ins;
    CHECK_EQ_INT(md_store_case_put(s, &r, &id, &ins, &err), MD_OK);
    md_import_state st = {.byte_offset = 100, .line = 5, .n_imported = 1};
    CHECK_EQ_INT(md_store_import_put(s, "k", &st, &err), MD_OK);
    CHECK_EQ_INT(md_store_rollback(s), MD_OK);
    int64_t n2 = 0;
    md_store_case_count(s, &n2, &err);
    CHECK_EQ_INT(n2, n);
    md_import_state got;
    bool found = true;
    CHECK_EQ_INT(md_store_import_get(s, "k", &got, &found, &err), MD_OK);
    CHECK(!found);
}

static void test_import_state(const char *dir) {
    md_store *s = NULL;
    md_error err = {0};
    CHECK_EQ_INT(md_store_open(dir, &s, &err), MD_OK);
    md_import_state st = {.byte_offset = 12345, .line = 77, .n_imported = 10, .n_duplicates = 2, .n_quarantined = 3};
    CHECK_EQ_INT(md_store_begin(s, &err), MD_OK);
    CHECK_EQ_INT(md_store_import_put(s, "pmc-csv:abc:1", &st, &err), MD_OK);
    CHECK_EQ_INT(md_store_commit(s, &err), MD_OK);
    st.byte_offset = 99999;
    st.done = true;
    CHECK_EQ_INT(md_store_import_put(s, "pmc-csv:abc:1", &st, &err), MD_OK); /* upsert, autocommit */
    md_store_close(s);
    s = NULL;
    CHECK_EQ_INT(md_store_open(dir, &s, &err), MD_OK);
    md_import_state got;
    bool found = false;
    CHECK_EQ_INT(md_store_import_get(s, "pmc-csv:abc:1", &got, &found, &err), MD_OK);
    CHECK(found);
    CHECK_EQ_INT(got.byte_offset, 99999);
    CHECK_EQ_INT(got.line, 77);
    CHECK_EQ_INT(got.n_imported, 10);
    CHECK_EQ_INT(got.n_duplicates, 2);
    CHECK_EQ_INT(got.n_quarantined, 3);
    CHECK(got.done);
    CHECK_EQ_INT(md_store_import_get(s, "other", &got, &found, &err), MD_OK);
    CHECK(!found);
    md_store_close(s);
}

static void test_chunks(const char *dir) {
    /* Pure boundary function first. */
    const char *shortt = "One sentence. Two sentences.";
    CHECK_EQ_INT(md_store_chunk_len(shortt, strlen(shortt)), strlen(shortt));
    md_buf b;
    md_buf_init(&b);
    for (int i = 0; i < 60; i++) md_buf_appendf(&b, "Sentence number %02d says something about the patient. ", i);
    size_t len = md_store_chunk_len(b.data, b.len);
    CHECK(len <= MD_STORE_CHUNK_TARGET_BYTES && len > MD_STORE_CHUNK_TARGET_BYTES / 2);
    CHECK(b.data[len - 2] == '.' && b.data[len - 1] == ' ' && b.data[len] == 'S');
    /* "e.g. the" does not end a sentence. */
    const char *abbrev = "x e.g. the";
    CHECK_EQ_INT(md_store_chunk_len(abbrev, strlen(abbrev)), strlen(abbrev));
    /* One endless sentence is cut at a space. */
    md_buf w;
    md_buf_init(&w);
    for (int i = 0; i < 400; i++) md_buf_append_str(&w, "word ");
    size_t cut = md_store_chunk_len(w.data, w.len);
    CHECK(cut <= MD_STORE_CHUNK_TARGET_BYTES + 1 && cut > 0 && w.data[cut - 1] == ' ');

    md_store *s = NULL;
    md_error err = {0};
    CHECK_EQ_INT(md_store_open(dir, &s, &err), MD_OK);
    md_case_record r = sample("long", b.data);
    int64_t id;
    bool ins;
    CHECK_EQ_INT(md_store_case_put(s, &r, &id, &ins, &err), MD_OK);
    md_store_close(s);
    char path[400], sql[200];
    snprintf(path, sizeof path, "%s/medify.db", dir);
    sqlite3 *db = NULL;
    sqlite3_open(path, &db);
    sqlite3_stmt *q = NULL;
    snprintf(sql, sizeof sql, "SELECT ith, byte_start, text FROM chunks WHERE case_id = %lld ORDER BY ith", (long long)id);
    sqlite3_prepare_v2(db, sql, -1, &q, NULL);
    int n_chunks = 0;
    md_buf joined;
    md_buf_init(&joined);
    while (sqlite3_step(q) == SQLITE_ROW) {
        CHECK_EQ_INT(sqlite3_column_int(q, 0), n_chunks);
        const char *t = (const char *)sqlite3_column_text(q, 2);
        CHECK(strlen(t) <= MD_STORE_CHUNK_MAX_BYTES);
        CHECK(t[strlen(t) - 1] == '.'); /* ends at a sentence end */
        if (joined.len) md_buf_append_char(&joined, ' ');
        md_buf_append_str(&joined, t);
        n_chunks++;
    }
    sqlite3_finalize(q);
    sqlite3_exec(db, "SELECT 1", NULL, NULL, NULL);
    sqlite3_close(db);
    CHECK(n_chunks >= 3);
    /* The chunks cover the whole text. */
    CHECK(joined.len + 1 == b.len && memcmp(joined.data, b.data, joined.len) == 0);
    md_buf_free(&joined);
    md_buf_free(&b);
    md_buf_free(&w);
}

/* fn may use the store while iterating: read each case back inside the callback. */
typedef struct reenter_ctx {
    md_store *s;
    md_arena a;
    int n_ok;
} reenter_ctx;

static bool reenter_fn(const md_case_record *rec, void *ctx) {
    reenter_ctx *c = ctx;
    md_case_record again;
    md_error err = {0};
    if (md_store_case_get(c->s, rec->id, &c->a, &again, &err) == MD_OK && strcmp(again.text, rec->text) == 0) c->n_ok++;
    return true;
}

static void test_reentrant_each(const char *dir) {
    md_store *s = NULL;
    md_error err = {0};
    CHECK_EQ_INT(md_store_open(dir, &s, &err), MD_OK);
    if (!s) return;
    reenter_ctx c = {.s = s};
    md_arena_init(&c.a, 0);
    int64_t n = 0;
    md_store_case_count(s, &n, &err);
    CHECK_EQ_INT(md_store_case_each(s, 0, 0, reenter_fn, &c, &err), MD_OK);
    CHECK_EQ_INT(c.n_ok, n);
    CHECK(n > 0);
    /* case_get copies into the arena: every allocation may fail. */
    for (uint64_t k = 1; k < 20; k++) {
        md_case_record rec;
        md_alloc_fail_after(k, true);
        md_status st = md_store_case_get(s, 1, &c.a, &rec, &err);
        md_alloc_fail_after(0, false);
        CHECK(st == MD_OK || st == MD_ERR_NOMEM);
        md_arena_reset(&c.a);
    }
    md_arena_free(&c.a);
    md_store_close(s);
}

static void test_oom(const char *dir) {
    /* Every allocation of open may fail without leaks or crashes. */
    for (uint64_t n = 1; n < 8; n++) {
        md_store *s = NULL;
        md_error err = {0};
        md_alloc_fail_after(n, true);
        md_status st = md_store_open(dir, &s, &err);
        md_alloc_fail_after(0, false);
        CHECK(st == MD_OK || st == MD_ERR_NOMEM);
        md_store_close(s);
    }
}

int main(void) {
    snprintf(g_dir, sizeof g_dir, "/tmp/medify_test_store_%d", (int)getpid());
    rm_rf(g_dir);
    test_open_migrate_reopen();
    char dir[300];
    snprintf(dir, sizeof dir, "%s/main", g_dir);
    md_store *s = NULL;
    md_error err = {0};
    CHECK_EQ_INT(md_store_open(dir, &s, &err), MD_OK);
    if (s) {
        test_put_get(s);
        test_each_and_transactions(s);
        md_store_close(s);
    }
    test_import_state(dir);
    test_reentrant_each(dir);
    snprintf(dir, sizeof dir, "%s/chunks", g_dir);
    test_chunks(dir);
    test_oom(dir);
    /* Data dir resolution. */
    CHECK_EQ_STR(md_store_data_dir("x"), "x");
    setenv("MEDIFY_DATA", "/env/dir", 1);
    CHECK_EQ_STR(md_store_data_dir(NULL), "/env/dir");
    CHECK_EQ_STR(md_store_data_dir(""), "/env/dir");
    unsetenv("MEDIFY_DATA");
    CHECK_EQ_STR(md_store_data_dir(NULL), MD_STORE_DEFAULT_DATA_DIR);
    rm_rf(g_dir);
    return check_report("test_store");
}
