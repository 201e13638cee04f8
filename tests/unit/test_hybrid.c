/* Hybrid search: RRF arithmetic, per-ranker scores, filters in both rankers, minimum
 * score, dense path through a test embedder and ranker. */
#include "check.h"
#include "medify/search.h"

static md_status fake_embed(void *ctx, const char *const *texts, size_t n, float *out, md_error *err) {
    (void)ctx;
    (void)texts;
    (void)err;
    for (size_t i = 0; i < n; i++) out[i] = 1.0f;
    return MD_OK;
}

/* Returns ids 104, 103, 102, 101, 100 (similarity .9, .8, ...) that pass the filter. */
static md_status fake_dense(void *ctx, const float *q, size_t k, md_search_id_filter filter, void *fctx,
                            md_dense_hit *out, size_t *n_out, md_error *err) {
    (void)ctx;
    (void)q;
    (void)err;
    size_t n = 0;
    for (int i = 4; i >= 0 && n < k; i--) {
        uint64_t id = 100 + (uint64_t)i;
        if (filter && !filter(id, fctx)) continue;
        out[n++] = (md_dense_hit){id, 0.5 + 0.1 * i};
    }
    *n_out = n;
    return MD_OK;
}

int main(void) {
    /* RRF arithmetic: a at ranks 1 and 3, b at 2 and 1, c only dense rank 2 */
    uint64_t bi[] = {1, 2}, di[] = {2, 3, 1};
    double bs[] = {9.5, 7.0}, ds[] = {0.9, 0.8, 0.7};
    md_rank_list lb = {bi, bs, 2}, ld = {di, ds, 3};
    md_hybrid_hit out[4];
    size_t n = 0;
    CHECK(md_rrf_fuse(&lb, &ld, 60, 0, 4, out, &n, NULL) == MD_OK);
    CHECK_EQ_INT(n, 3);
    CHECK_EQ_INT(out[0].id, 2); /* 1/62 + 1/61 */
    CHECK_NEAR(out[0].score, 1.0 / 62 + 1.0 / 61, 1e-15);
    CHECK_EQ_INT(out[1].id, 1); /* 1/61 + 1/63 */
    CHECK_NEAR(out[1].score, 1.0 / 61 + 1.0 / 63, 1e-15);
    CHECK_EQ_INT(out[2].id, 3);
    CHECK_NEAR(out[2].score, 1.0 / 62, 1e-15);
    CHECK(out[0].has_bm25 && out[0].has_dense);
    CHECK_NEAR(out[0].bm25, 7.0, 0);
    CHECK_EQ_INT(out[0].bm25_rank, 2);
    CHECK_NEAR(out[0].dense, 0.9, 0);
    CHECK_EQ_INT(out[0].dense_rank, 1);
    CHECK(!out[2].has_bm25 && out[2].bm25_rank == 0);
    /* min score applied: only hits in both lists reach 1/62 + 1/63 */
    CHECK(md_rrf_fuse(&lb, &ld, 60, 1.0 / 62 + 1.0 / 63 - 1e-12, 4, out, &n, NULL) == MD_OK);
    CHECK_EQ_INT(n, 2);
    CHECK(md_rrf_fuse(&lb, &ld, 60, 1.0, 4, out, &n, NULL) == MD_OK);
    CHECK_EQ_INT(n, 0);
    /* k truncates; one list alone; ties broken by best rank then id */
    CHECK(md_rrf_fuse(&lb, &ld, 60, 0, 1, out, &n, NULL) == MD_OK);
    CHECK_EQ_INT(n, 1);
    CHECK_EQ_INT(out[0].id, 2);
    uint64_t ti[] = {7, 5};
    md_rank_list la = {ti, NULL, 1}, lz = {ti + 1, NULL, 1};
    CHECK(md_rrf_fuse(&la, &lz, 60, 0, 4, out, &n, NULL) == MD_OK);
    CHECK_EQ_INT(n, 2);
    CHECK_EQ_INT(out[0].id, 5);
    CHECK(md_rrf_fuse(&lb, NULL, 0, 0, 4, out, &n, NULL) == MD_OK);
    CHECK_NEAR(out[0].score, 1.0, 1e-15); /* k = 0: 1/rank */

    /* hybrid search over a small BM25 index */
    static const char *const docs[] = {"fever cough", "fever fever rash", "cough headache", "rash", "headache fever"};
    md_bm25 *ix = NULL;
    CHECK(md_bm25_new(md_bm25_default_params(), &ix, NULL) == MD_OK);
    for (size_t i = 0; i < 5; i++) {
        md_search_doc d = {100 + i, "x", 20.0 + 10.0 * (double)i, i % 2 ? MD_SEX_MALE : MD_SEX_FEMALE};
        CHECK(md_bm25_add(ix, &d, docs[i], strlen(docs[i]), NULL) == MD_OK);
    }
    CHECK(md_bm25_finish(ix, NULL) == MD_OK);
    md_hybrid_params p = md_hybrid_default_params();
    p.k = 4;
    md_hybrid_hit hits[4];
    CHECK(md_hybrid_search(ix, NULL, NULL, "fever", 5, p, hits, &n, NULL) == MD_OK);
    CHECK_EQ_INT(n, 3);
    CHECK_EQ_INT(hits[0].id, 101);
    CHECK(hits[0].has_bm25 && !hits[0].has_dense);
    CHECK_NEAR(hits[0].score, 1.0 / 61, 1e-15);
    double s101;
    CHECK(md_bm25_score(ix, "fever", 5, 101, &s101, NULL) == MD_OK);
    CHECK_NEAR(hits[0].bm25, s101, 1e-12);

    md_embedder emb = {4, NULL, fake_embed};
    md_dense_ranker dr = {NULL, fake_dense};
    CHECK(md_hybrid_search(ix, &emb, &dr, "fever", 5, p, hits, &n, NULL) == MD_OK);
    CHECK_EQ_INT(n, 4);
    /* bm25: 101, 100|104 (tie order by score), dense: 104, 103, 102, 101 */
    for (size_t i = 0; i < n; i++) CHECK(hits[i].has_dense);
    for (size_t i = 1; i < n; i++) CHECK(hits[i - 1].score >= hits[i].score);

    /* filters reach both rankers: female only → ids 100, 102, 104 */
    p.filter.sex = MD_SEX_FEMALE;
    CHECK(md_hybrid_search(ix, &emb, &dr, "fever", 5, p, hits, &n, NULL) == MD_OK);
    CHECK_EQ_INT(n, 3);
    for (size_t i = 0; i < n; i++) CHECK(hits[i].id % 2 == 0);
    p.filter = md_search_filter_none();
    p.filter.age_min_years = 35;
    CHECK(md_hybrid_search(ix, &emb, &dr, "fever", 5, p, hits, &n, NULL) == MD_OK);
    for (size_t i = 0; i < n; i++) CHECK(hits[i].id >= 102);
    /* min score is applied in the hybrid path too */
    p.filter = md_search_filter_none();
    p.min_score = 1.0 / 61 + 1.0 / 64 - 1e-12;
    CHECK(md_hybrid_search(ix, &emb, &dr, "fever", 5, p, hits, &n, NULL) == MD_OK);
    for (size_t i = 0; i < n; i++) CHECK(hits[i].score >= p.min_score);
    CHECK(n >= 1 && n < 4);
    md_bm25_free(ix);
    return check_report("test_hybrid");
}
