/* BM25: scores against hand-computed values, top-k order, filters, persistence round
 * trip, and corrupt files (each validation in md_bm25_load_bytes). */
#include <stdlib.h>
#include <unistd.h>

#include "check.h"
#include "medify/search.h"

static const char *const k_docs[] = {
    "fever cough", "fever fever rash", "cough headache", "rash", "headache nausea vomiting fever",
};
/* computed with the formula in bm25.c by an independent Python script:
 * N = 5, avgdl = 2.4, k1 = 1.2, b = 0.75, idf = ln(1 + (N - df + .5) / (df + .5)) */
static const double k_fever[] = {0.5784352691, 0.6924334608, 0, 0, 0.4234972506};
static const double k_fever_rash[] = {0.5784352691, 1.4866731400, 0, 1.1498693864, 0.4234972506};

static md_bm25 *build(void) {
    md_bm25 *ix = NULL;
    CHECK(md_bm25_new(md_bm25_default_params(), &ix, NULL) == MD_OK);
    for (size_t i = 0; i < 5; i++) {
        char ext[16];
        snprintf(ext, sizeof ext, "p-%zu", i + 1);
        md_search_doc d = {100 + i, ext, 20.0 + 10.0 * (double)i, i % 2 ? MD_SEX_MALE : MD_SEX_FEMALE};
        CHECK(md_bm25_add(ix, &d, k_docs[i], strlen(k_docs[i]), NULL) == MD_OK);
    }
    CHECK(md_bm25_finish(ix, NULL) == MD_OK);
    return ix;
}

static void check_scores(const md_bm25 *ix) {
    CHECK_EQ_INT(md_bm25_n_docs(ix), 5);
    CHECK_NEAR(md_bm25_avg_doc_len(ix), 2.4, 1e-12);
    CHECK_EQ_INT(md_bm25_doc_freq(ix, "fever"), 3);
    for (size_t i = 0; i < 5; i++) {
        double s;
        CHECK(md_bm25_score(ix, "fever", 5, 100 + i, &s, NULL) == MD_OK);
        CHECK_NEAR(s, k_fever[i], 1e-9);
        CHECK(md_bm25_score(ix, "Fevers, RASH and fever", 22, 100 + i, &s, NULL) == MD_OK);
        CHECK_NEAR(s, k_fever_rash[i], 1e-9);
    }
    md_bm25_hit hits[5];
    size_t n = 0;
    CHECK(md_bm25_search(ix, "fever rash", 10, 5, NULL, hits, &n, NULL) == MD_OK);
    CHECK_EQ_INT(n, 4); /* documents without a query term are never returned */
    CHECK_EQ_INT(hits[0].id, 101);
    CHECK_EQ_INT(hits[1].id, 103);
    CHECK_EQ_INT(hits[2].id, 100);
    CHECK_EQ_INT(hits[3].id, 104);
    CHECK_NEAR(hits[0].score, 1.4866731400, 1e-9);
    CHECK(md_bm25_search(ix, "fever rash", 10, 2, NULL, hits, &n, NULL) == MD_OK);
    CHECK_EQ_INT(n, 2);
    CHECK_EQ_INT(hits[1].id, 103);
    /* filters: female only (docs 100, 102, 104), then age 25..45 (101: 30, 102: 40) */
    md_search_filter f = md_search_filter_none();
    f.sex = MD_SEX_FEMALE;
    CHECK(md_bm25_search(ix, "fever rash", 10, 5, &f, hits, &n, NULL) == MD_OK);
    CHECK_EQ_INT(n, 2);
    CHECK_EQ_INT(hits[0].id, 100);
    CHECK_EQ_INT(hits[1].id, 104);
    f = md_search_filter_none();
    f.age_min_years = 25;
    f.age_max_years = 45;
    CHECK(md_bm25_search(ix, "fever rash", 10, 5, &f, hits, &n, NULL) == MD_OK);
    CHECK_EQ_INT(n, 1);
    CHECK_EQ_INT(hits[0].id, 101);
    CHECK(md_bm25_search(ix, "unknownword", 11, 5, NULL, hits, &n, NULL) == MD_OK);
    CHECK_EQ_INT(n, 0);
    md_search_doc d;
    CHECK(md_bm25_doc(ix, 103, &d));
    CHECK_EQ_STR(d.external_id, "p-4");
    CHECK_NEAR(d.age_years, 50, 1e-6);
    CHECK(!md_bm25_doc(ix, 999, &d));
}

static md_status load_mutated(const char *bytes, size_t n, size_t off, unsigned char xor_val, bool fix_sum) {
    char *copy = malloc(n);
    memcpy(copy, bytes, n);
    if (off < n) copy[off] ^= (char)xor_val;
    if (fix_sum) {
        uint64_t h = md_hash_bytes(copy, n - 8);
        memcpy(copy + n - 8, &h, 8);
    }
    md_bm25 *ix = NULL;
    md_error err = {0};
    md_status s = md_bm25_load_bytes(copy, n, &ix, &err);
    md_bm25_free(ix);
    free(copy);
    return s;
}

int main(void) {
    md_bm25 *ix = build();
    check_scores(ix);

    /* errors */
    md_search_doc dup = {100, "x", -1, MD_SEX_UNKNOWN};
    CHECK(md_bm25_add(ix, &dup, "a", 1, NULL) == MD_ERR_INVALID_ARG); /* finished */
    md_bm25 *ix2 = NULL;
    CHECK(md_bm25_new(md_bm25_default_params(), &ix2, NULL) == MD_OK);
    CHECK(md_bm25_add(ix2, &dup, "fever", 5, NULL) == MD_OK);
    CHECK(md_bm25_add(ix2, &dup, "rash", 4, NULL) == MD_OK);
    md_bm25_hit h;
    size_t n_h;
    CHECK(md_bm25_search(ix2, "fever", 5, 1, NULL, &h, &n_h, NULL) == MD_ERR_INVALID_ARG); /* unfinished */
    CHECK(md_bm25_finish(ix2, NULL) == MD_ERR_CONFLICT);
    md_bm25_free(ix2);

    /* persistence round trip */
    char dir[] = "/tmp/medify-bm25-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char path[256];
    snprintf(path, sizeof path, "%s/bm25.bin", dir);
    CHECK(md_bm25_save(ix, path, NULL) == MD_OK);
    md_bm25 *loaded = NULL;
    md_error err = {0};
    CHECK(md_bm25_load(path, &loaded, &err) == MD_OK);
    if (loaded) {
        check_scores(loaded);
        CHECK_EQ_INT(md_bm25_n_terms(loaded), md_bm25_n_terms(ix));
        CHECK_EQ_INT(md_bm25_n_postings(loaded), md_bm25_n_postings(ix));
    }
    md_bm25_free(loaded);

    /* corrupt files */
    char *bytes = NULL;
    size_t n = 0;
    CHECK(md_read_file(path, 1 << 20, &bytes, &n, NULL) == MD_OK);
    md_bm25 *bad = NULL;
    CHECK(md_bm25_load_bytes(bytes, 10, &bad, NULL) == MD_ERR_PARSE);      /* truncated */
    CHECK(md_bm25_load_bytes(bytes, n - 1, &bad, NULL) == MD_ERR_PARSE);   /* checksum */
    CHECK(load_mutated(bytes, n, 0, 0x01, true) == MD_ERR_PARSE);          /* magic */
    CHECK(load_mutated(bytes, n, 20, 0x40, false) == MD_ERR_PARSE);        /* any flipped bit: checksum */
    CHECK(load_mutated(bytes, n, 8, 0x02, true) == MD_ERR_PARSE);          /* version */
    CHECK(load_mutated(bytes, n, 32, 0x7f, true) == MD_ERR_PARSE);         /* n_docs (low byte) */
    CHECK(load_mutated(bytes, n, 32 + 7, 0x10, true) == MD_ERR_PARSE);     /* n_docs huge */
    CHECK(load_mutated(bytes, n, 40 + 6, 0x10, true) == MD_ERR_PARSE);     /* n_terms huge */
    CHECK(load_mutated(bytes, n, 48, 0x01, true) == MD_ERR_PARSE);         /* n_postings off by one */
    CHECK(load_mutated(bytes, n, 56, 0x01, true) == MD_ERR_PARSE);         /* total_len off by one */
    CHECK(load_mutated(bytes, n, 64 + 8, 0x01, true) == MD_ERR_PARSE);     /* doc 0 length */
    CHECK(load_mutated(bytes, n, 64 + 16, 0x07, true) == MD_ERR_PARSE);    /* doc 0 sex code */
    CHECK(load_mutated(bytes, n, 64 + 20 + 3, 0x40, true) == MD_ERR_PARSE); /* doc 0 ext length */
    /* every single-byte flip with a recomputed checksum must fail cleanly or load a
     * self-consistent index: never crash (ASan watches) */
    for (size_t off = 8; off + 8 < n; off++) {
        md_status s = load_mutated(bytes, n, off, 0xff, true);
        CHECK(s == MD_OK || s == MD_ERR_PARSE);
    }
    md_free(bytes);
    unlink(path);
    rmdir(dir);

    /* OOM: every allocation failure of build, save and load is an error, not a crash */
    for (uint64_t k = 1; k < 400; k++) {
        md_alloc_fail_after(k, true);
        md_bm25 *o = NULL;
        md_status s = md_bm25_new(md_bm25_default_params(), &o, NULL);
        for (size_t i = 0; s == MD_OK && i < 5; i++) {
            md_search_doc d = {i, "e", 1, MD_SEX_MALE};
            s = md_bm25_add(o, &d, k_docs[i], strlen(k_docs[i]), NULL);
        }
        if (s == MD_OK) s = md_bm25_finish(o, NULL);
        if (s == MD_OK) s = md_bm25_search(o, "fever", 5, 1, NULL, &h, &n_h, NULL);
        bool failed = md_alloc_failed();
        md_alloc_fail_after(0, false);
        md_bm25_free(o);
        CHECK(s == MD_OK || s == MD_ERR_NOMEM);
        if (!failed) break;
    }
    md_bm25_free(ix);
    return check_report("test_bm25");
}
