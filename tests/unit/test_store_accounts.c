/* Accounts and records in the store (accounts.h, records.h; SQLite backend):
 * Argon2id hashing (encoded form with the parameters, random salt, verify, wrong and
 * malformed inputs), tokens (shape, uniqueness, SHA-256 hash, CSRF derivation),
 * constant-time comparison, account creation and sign-in (case-insensitive e-mail,
 * one message for unknown e-mail and wrong password, disabled accounts), sessions
 * (resolve, expiry, revoke, ended by disabling), API keys (resolve, revoke, stored
 * only as hashes), interviews (optimistic versions), reports with history in the
 * same write, notes, and the audit log's order and paging. */
#include "check.h"
#include "medify/accounts.h"
#include "medify/records.h"
#include "store/sha256.h"

#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static char g_dir[256];

static md_password_params cheap(void) { return (md_password_params){.memory_kib = 64, .iterations = 1, .parallelism = 1}; }

static void test_passwords(void) {
    md_error err = {0};
    char a[MD_PASSWORD_ENCODED_BYTES], b[MD_PASSWORD_ENCODED_BYTES];
    /* The defaults are the OWASP parameters, and they land in the encoded string. */
    CHECK_EQ_INT(md_password_hash("correct horse", md_password_default_params(), a, &err), MD_OK);
    CHECK(strncmp(a, "$argon2id$v=19$m=19456,t=2,p=1$", 31) == 0);
    CHECK_EQ_INT(md_password_verify("correct horse", a, &err), MD_OK);
    CHECK_EQ_INT(md_password_verify("correct horsf", a, &err), MD_ERR_UNAUTHORIZED);
    /* Fresh salt: the same password hashes differently, and both verify. */
    CHECK_EQ_INT(md_password_hash("correct horse", cheap(), b, &err), MD_OK);
    CHECK(strncmp(b, "$argon2id$v=19$m=64,t=1,p=1$", 28) == 0);
    char c[MD_PASSWORD_ENCODED_BYTES];
    CHECK_EQ_INT(md_password_hash("correct horse", cheap(), c, &err), MD_OK);
    CHECK(strcmp(b, c) != 0);
    CHECK_EQ_INT(md_password_verify("correct horse", c, &err), MD_OK);
    /* Bounds and malformed hashes. */
    CHECK_EQ_INT(md_password_hash("short", cheap(), c, &err), MD_ERR_INVALID_ARG);
    char longpw[MD_PASSWORD_MAX_BYTES + 2];
    memset(longpw, 'x', sizeof longpw - 1);
    longpw[sizeof longpw - 1] = '\0';
    CHECK_EQ_INT(md_password_hash(longpw, cheap(), c, &err), MD_ERR_INVALID_ARG);
    CHECK_EQ_INT(md_password_hash("bad \xff utf8 pw", cheap(), c, &err), MD_ERR_UTF8);
    CHECK_EQ_INT(md_password_verify("correct horse", "$argon2i$v=19$m=64,t=1,p=1$abc$def", &err), MD_ERR_PARSE);
    CHECK_EQ_INT(md_password_verify("correct horse", "$argon2id$garbage", &err), MD_ERR_PARSE);
    CHECK_EQ_INT(md_password_hash("correct horse", (md_password_params){.memory_kib = 1, .iterations = 1, .parallelism = 1}, c, &err),
                 MD_ERR_CONFIG);
}

static bool is_hex(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) return false;
    return s[n] == '\0';
}

static void test_tokens(void) {
    md_error err = {0};
    char t1[MD_TOKEN_BYTES], t2[MD_TOKEN_BYTES];
    CHECK_EQ_INT(md_token_generate(MD_SESSION_PREFIX, t1, &err), MD_OK);
    CHECK_EQ_INT(md_token_generate(MD_SESSION_PREFIX, t2, &err), MD_OK);
    CHECK(strncmp(t1, "mds_", 4) == 0 && is_hex(t1 + 4, 64));
    CHECK(strcmp(t1, t2) != 0);
    CHECK_EQ_INT(md_token_generate("toolong_", t1, &err), MD_ERR_INVALID_ARG);
    /* The stored form is SHA-256 hex of the whole token. */
    char h[MD_TOKEN_HASH_BYTES], want[MD_SHA256_HEX_BYTES];
    md_token_hash("mds_abc", h);
    md_sha256_hex("mds_abc", 7, want);
    CHECK_EQ_STR(h, want);
    md_token_hash("abc", h);
    CHECK_EQ_STR(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"); /* FIPS 180-2 B.1 */
    /* CSRF: deterministic per token, different across tokens, not the token's hash. */
    char c1[MD_TOKEN_HASH_BYTES], c1b[MD_TOKEN_HASH_BYTES], c2[MD_TOKEN_HASH_BYTES];
    md_csrf_token(t2, c1);
    md_csrf_token(t2, c1b);
    md_token_hash(t2, h);
    CHECK_EQ_STR(c1, c1b);
    CHECK(strcmp(c1, h) != 0);
    CHECK_EQ_INT(md_token_generate(MD_SESSION_PREFIX, t1, &err), MD_OK);
    md_csrf_token(t1, c2);
    CHECK(strcmp(c1, c2) != 0);
    CHECK(md_consttime_streq("abc", "abc"));
    CHECK(!md_consttime_streq("abc", "abd"));
    CHECK(!md_consttime_streq("abc", "abcd"));
    CHECK(!md_consttime_streq("", "a"));
    CHECK(md_consttime_streq("", ""));
}

static int64_t db_count(const char *sql) {
    char path[300];
    snprintf(path, sizeof path, "%s/medify.db", g_dir);
    sqlite3 *db = NULL;
    int64_t v = -1;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK) {
        sqlite3_stmt *q = NULL;
        if (sqlite3_prepare_v2(db, sql, -1, &q, NULL) == SQLITE_OK && sqlite3_step(q) == SQLITE_ROW)
            v = sqlite3_column_int64(q, 0);
        sqlite3_finalize(q);
    }
    sqlite3_close(db);
    return v;
}

static void test_accounts(md_store *s) {
    md_error err = {0};
    md_arena a;
    md_arena_init(&a, 0);
    int64_t pid = 0, cid = 0, id = 0;
    CHECK_EQ_INT(md_account_create(s, "Pat@Example.ORG", "patient-pass", "Pat", MD_ROLE_PATIENT, &pid, &err), MD_OK);
    CHECK_EQ_INT(md_account_create(s, "pat@example.org", "other-pass1", "Pat 2", MD_ROLE_PATIENT, &id, &err),
                 MD_ERR_CONFLICT);
    CHECK_EQ_INT(md_account_create(s, "doc@example.org", "doctor-pass", "Doc", MD_ROLE_CLINICIAN, &cid, &err), MD_OK);
    CHECK_EQ_INT(md_account_create(s, "no-at-sign", "doctor-pass", "X", MD_ROLE_PATIENT, &id, &err), MD_ERR_INVALID_ARG);
    CHECK_EQ_INT(md_account_create(s, "a b@example.org", "doctor-pass", "X", MD_ROLE_PATIENT, &id, &err), MD_ERR_INVALID_ARG);
    CHECK_EQ_INT(md_account_create(s, "x@example.org", "doctor-pass", "", MD_ROLE_PATIENT, &id, &err), MD_ERR_INVALID_ARG);
    CHECK_EQ_INT(md_account_create(s, "x@example.org", "doctor-pass", "X", MD_ROLE_COUNT, &id, &err), MD_ERR_INVALID_ARG);
    /* Only the Argon2id hash is stored. */
    CHECK_EQ_INT(db_count("SELECT count(*) FROM users WHERE password_hash LIKE '$argon2id$v=19$m=64,t=1,p=1$%'"), 2);
    CHECK_EQ_INT(db_count("SELECT count(*) FROM users WHERE password_hash LIKE '%patient-pass%'"), 0);

    md_user_record u;
    CHECK_EQ_INT(md_account_authenticate(s, "PAT@example.org", "patient-pass", &a, &u, &err), MD_OK);
    CHECK_EQ_INT(u.id, pid);
    CHECK_EQ_STR(u.email, "pat@example.org");
    CHECK_EQ_INT(u.role, MD_ROLE_PATIENT);
    md_error e1 = {0}, e2 = {0};
    CHECK_EQ_INT(md_account_authenticate(s, "pat@example.org", "wrong-pass", &a, &u, &e1), MD_ERR_UNAUTHORIZED);
    CHECK_EQ_INT(md_account_authenticate(s, "nobody@example.org", "wrong-pass", &a, &u, &e2), MD_ERR_UNAUTHORIZED);
    CHECK_EQ_STR(e1.message, e2.message);

    /* Assigning a clinician: only a clinician may be assigned. */
    md_user_update up = {.set_clinician_id = true, .clinician_id = pid};
    CHECK_EQ_INT(md_account_update(s, pid, &up, &err), MD_ERR_INVALID_ARG);
    up.clinician_id = cid;
    CHECK_EQ_INT(md_account_update(s, pid, &up, &err), MD_OK);
    CHECK_EQ_INT(md_account_get(s, pid, &a, &u, &err), MD_OK);
    CHECK_EQ_INT(u.clinician_id, cid);
    CHECK_EQ_INT(md_account_update(s, 999, &(md_user_update){.set_name = true, .name = "Z"}, &err), MD_ERR_NOT_FOUND);

    /* Sessions: resolve, revoke, expiry; only hashes stored. */
    char tok[MD_TOKEN_BYTES], tok2[MD_TOKEN_BYTES], tok3[MD_TOKEN_BYTES];
    CHECK_EQ_INT(md_session_create(s, pid, 60000, tok, &err), MD_OK);
    CHECK_EQ_INT(md_session_resolve(s, tok, &a, &u, &err), MD_OK);
    CHECK_EQ_INT(u.id, pid);
    char sql[300], h[MD_TOKEN_HASH_BYTES];
    md_token_hash(tok, h);
    snprintf(sql, sizeof sql, "SELECT count(*) FROM sessions WHERE token_hash = '%s'", h);
    CHECK_EQ_INT(db_count(sql), 1);
    snprintf(sql, sizeof sql, "SELECT count(*) FROM sessions WHERE token_hash = '%s'", tok);
    CHECK_EQ_INT(db_count(sql), 0);
    CHECK_EQ_INT(md_session_resolve(s, "mds_nothex", &a, &u, &err), MD_ERR_UNAUTHORIZED);
    CHECK_EQ_INT(md_session_revoke(s, tok, &err), MD_OK);
    CHECK_EQ_INT(md_session_resolve(s, tok, &a, &u, &err), MD_ERR_UNAUTHORIZED);
    CHECK_EQ_INT(md_session_create(s, pid, 1, tok2, &err), MD_OK);
    struct timespec ts = {0, 20 * 1000000};
    nanosleep(&ts, NULL);
    CHECK_EQ_INT(md_session_resolve(s, tok2, &a, &u, &err), MD_ERR_UNAUTHORIZED); /* expired */
    CHECK_EQ_INT(md_session_create(s, pid, 60000, tok3, &err), MD_OK);
    CHECK_EQ_INT(md_account_update(s, pid, &(md_user_update){.set_disabled = true, .disabled = true}, &err), MD_OK);
    CHECK_EQ_INT(md_session_resolve(s, tok3, &a, &u, &err), MD_ERR_UNAUTHORIZED);
    CHECK_EQ_INT(md_account_authenticate(s, "pat@example.org", "patient-pass", &a, &u, &err), MD_ERR_UNAUTHORIZED);
    CHECK_EQ_INT(md_account_update(s, pid, &(md_user_update){.set_disabled = true, .disabled = false}, &err), MD_OK);

    /* API keys. */
    char key[MD_TOKEN_BYTES];
    int64_t kid = 0;
    CHECK_EQ_INT(md_api_key_create(s, "ci", MD_ROLE_CLINICIAN, cid, key, &kid, &err), MD_OK);
    CHECK(strncmp(key, "mdk_", 4) == 0 && is_hex(key + 4, 64));
    md_api_key_record k;
    CHECK_EQ_INT(md_api_key_resolve(s, key, &a, &k, &err), MD_OK);
    CHECK_EQ_INT(k.id, kid);
    CHECK_EQ_INT(k.role, MD_ROLE_CLINICIAN);
    CHECK_EQ_INT(k.created_by, cid);
    CHECK_EQ_INT(md_api_key_resolve(s, tok3, &a, &k, &err), MD_ERR_UNAUTHORIZED); /* a session token is no key */
    CHECK_EQ_INT(md_api_key_revoke(s, kid, &err), MD_OK);
    CHECK_EQ_INT(md_api_key_resolve(s, key, &a, &k, &err), MD_ERR_UNAUTHORIZED);
    CHECK_EQ_INT(md_api_key_revoke(s, kid, &err), MD_ERR_NOT_FOUND);
    snprintf(sql, sizeof sql, "SELECT count(*) FROM api_keys WHERE key_hash LIKE '%%%s%%'", key + 4);
    CHECK_EQ_INT(db_count(sql), 0);
    md_arena_free(&a);
}

static bool count_history(const md_history_record *h, void *ctx) {
    (void)h;
    (*(int *)ctx)++;
    return true;
}

static bool collect_audit(const md_audit_record *r, void *ctx) {
    int64_t *ids = ctx;
    for (int i = 0; i < 8; i++)
        if (!ids[i]) {
            ids[i] = r->id;
            break;
        }
    return true;
}

static void test_records(md_store *s) {
    md_error err = {0};
    md_arena a;
    md_arena_init(&a, 0);
    int64_t iid = 0;
    CHECK_EQ_INT(md_records_interview_create(s, 1, 40, "female", &iid, &err), MD_OK);
    CHECK_EQ_INT(md_records_interview_create(s, 1, 40, "other", &iid, &err), MD_ERR_INVALID_ARG);
    md_interview_record r, stale;
    CHECK_EQ_INT(md_records_interview_get(s, iid, &a, &r, &err), MD_OK);
    CHECK_EQ_STR(r.status, "open");
    CHECK_EQ_STR(r.events_json, "[]");
    CHECK_NEAR(r.age_years, 40, 0);
    stale = r;
    r.events_json = "[{\"k\":\"text\",\"text\":\"cough\"}]";
    CHECK_EQ_INT(md_records_interview_update(s, &r, &err), MD_OK);
    /* A writer holding the old version loses: nothing is overwritten. */
    stale.events_json = "[]";
    CHECK_EQ_INT(md_records_interview_update(s, &stale, &err), MD_ERR_CONFLICT);
    CHECK_EQ_INT(md_records_interview_get(s, iid, &a, &r, &err), MD_OK);
    CHECK_EQ_STR(r.events_json, "[{\"k\":\"text\",\"text\":\"cough\"}]");
    CHECK_EQ_INT(r.version, 2);
    r.status = "closed";
    CHECK_EQ_INT(md_records_interview_update(s, &r, &err), MD_ERR_INVALID_ARG);
    CHECK_EQ_INT(md_records_interview_get(s, 4242, &a, &r, &err), MD_ERR_NOT_FOUND);

    md_report_record rep = {.interview_id = iid, .patient_id = 1, .status = "pending_review",
                            .generator = "deterministic", .sections_json = "[{\"key\":\"a\",\"title\":\"A\",\"text\":\"x\"}]"};
    int64_t rid = 0, rid2 = 0;
    CHECK_EQ_INT(md_records_report_create(s, &rep, &rid, &err), MD_OK);
    CHECK_EQ_INT(md_records_report_create(s, &rep, &rid2, &err), MD_ERR_CONFLICT); /* one report per interview */
    md_report_record got;
    CHECK_EQ_INT(md_records_report_for_interview(s, iid, &a, &got, &err), MD_OK);
    CHECK_EQ_INT(got.id, rid);
    got.status = "signed";
    got.signed_by = 2;
    got.signed_at_ms = 1000;
    CHECK_EQ_INT(md_records_report_update(s, &got, 2, "signed", "{\"k\":1}", &err), MD_OK);
    /* A failing update writes no history either. */
    got.sections_json = "not json";
    CHECK(md_records_report_update(s, &got, 2, "edited", NULL, &err) != MD_OK);
    int n_hist = 0;
    CHECK_EQ_INT(md_records_history_each(s, rid, count_history, &n_hist, &err), MD_OK);
    CHECK_EQ_INT(n_hist, 2); /* created, signed */
    CHECK_EQ_INT(md_records_report_get(s, rid, &a, &got, &err), MD_OK);
    CHECK_EQ_STR(got.status, "signed");
    CHECK_EQ_INT(got.signed_by, 2);
    int64_t nid = 0;
    CHECK_EQ_INT(md_records_note_add(s, rid, 2, "prescription", "rest", &nid, &err), MD_OK);
    CHECK_EQ_INT(md_records_note_add(s, rid, 2, "memo", "rest", &nid, &err), MD_ERR_INVALID_ARG);

    for (int i = 0; i < 6; i++) {
        md_audit_record ar = {.user_id = 1, .action = "GET /v1/reports/{id}", .record_type = "report",
                              .record_id = rid, .outcome = "ok", .http_status = 200, .request_id = "r"};
        CHECK_EQ_INT(md_records_audit_append(s, &ar, &err), MD_OK);
    }
    int64_t ids[8] = {0};
    CHECK_EQ_INT(md_records_audit_each(s, 0, 3, collect_audit, ids, &err), MD_OK);
    CHECK(ids[0] > ids[1] && ids[1] > ids[2] && ids[3] == 0); /* newest first, limited */
    int64_t more[8] = {0};
    CHECK_EQ_INT(md_records_audit_each(s, ids[2], 10, collect_audit, more, &err), MD_OK);
    CHECK(more[0] == ids[2] - 1 && more[2] != 0 && more[3] == 0);
    md_arena_free(&a);
}

int main(void) {
    snprintf(g_dir, sizeof g_dir, "/tmp/medify-test-accounts-%d", (int)getpid());
    test_passwords();
    test_tokens();
    md_store *s = NULL;
    md_error err = {0};
    CHECK_EQ_INT(md_store_open(g_dir, &s, &err), MD_OK);
    if (s) {
        md_account_set_password_params(s, cheap());
        test_accounts(s);
        test_records(s);
        md_store_close(s);
    }
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    CHECK(system(cmd) == 0);
    return check_report("test_store_accounts");
}
