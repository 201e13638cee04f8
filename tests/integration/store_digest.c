/* store_digest DATA_DIR: prints "<cases> <chunks> <digest>" for a store, where the
 * digest is SHA-256 over every case (id, external id, content hash, age, sex, PMID,
 * title, annotations, text, in id order) and every chunk (case id, index, offset,
 * text). Two stores print the same line exactly when they hold the same cases with
 * the same ids and chunks; timestamps are left out. Used by test_import_kill.sh. */
#include "medify/store.h"
#include "store/sha256.h"

#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

static void put_str(md_sha256 *c, const char *s) {
    const char *v = s ? s : "\x01(null)";
    md_sha256_update(c, v, strlen(v) + 1); /* with the NUL as separator */
}

static bool digest_case(const md_case_record *r, void *ctx) {
    md_sha256 *c = ctx;
    char num[64];
    snprintf(num, sizeof num, "%lld|%.17g", (long long)r->id, r->age_years);
    put_str(c, num);
    put_str(c, r->external_id);
    put_str(c, r->content_hash);
    put_str(c, r->sex);
    put_str(c, r->pmid);
    put_str(c, r->title);
    put_str(c, r->source);
    put_str(c, r->dataset_version);
    put_str(c, r->relevant_articles_json);
    put_str(c, r->similar_patients_json);
    put_str(c, r->text);
    return true;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: store_digest DATA_DIR\n");
        return 64;
    }
    md_store *s = NULL;
    md_error err = {0};
    if (md_store_open(argv[1], &s, &err) != MD_OK) {
        fprintf(stderr, "store_digest: %s\n", err.message);
        return 1;
    }
    md_sha256 c;
    md_sha256_init(&c);
    int64_t n = 0;
    if (md_store_case_count(s, &n, &err) != MD_OK || md_store_case_each(s, 0, 0, digest_case, &c, &err) != MD_OK) {
        fprintf(stderr, "store_digest: %s\n", err.message);
        md_store_close(s);
        return 1;
    }
    md_store_close(s);
    /* Chunks are not in the public interface: read them with SQLite directly. */
    char path[4096];
    snprintf(path, sizeof path, "%s/medify.db", argv[1]);
    sqlite3 *db = NULL;
    sqlite3_stmt *q = NULL;
    long long n_chunks = 0;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db, "SELECT case_id, ith, byte_start, text FROM chunks ORDER BY case_id, ith", -1, &q,
                           NULL) != SQLITE_OK) {
        fprintf(stderr, "store_digest: %s\n", db ? sqlite3_errmsg(db) : "cannot open");
        sqlite3_close(db);
        return 1;
    }
    while (sqlite3_step(q) == SQLITE_ROW) {
        char num[96];
        snprintf(num, sizeof num, "chunk %lld %d %lld", (long long)sqlite3_column_int64(q, 0), sqlite3_column_int(q, 1),
                 (long long)sqlite3_column_int64(q, 2));
        put_str(&c, num);
        put_str(&c, (const char *)sqlite3_column_text(q, 3));
        n_chunks++;
    }
    sqlite3_finalize(q);
    sqlite3_close(db);
    uint8_t d[MD_SHA256_DIGEST_BYTES];
    char hex[MD_SHA256_HEX_BYTES];
    md_sha256_final(&c, d);
    md_sha256_to_hex(d, hex);
    printf("%lld %lld %s\n", (long long)n, n_chunks, hex);
    return 0;
}
