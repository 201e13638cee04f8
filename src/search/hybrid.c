/* hybrid.c: reciprocal-rank fusion of a BM25 ranking and a dense ranking.
 *
 * RRF (Cormack, Clarke & Büttcher 2009, "Reciprocal Rank Fusion outperforms Condorcet
 * and individual Rank Learning Methods", SIGIR): each ranker contributes
 * 1 / (k + rank) for every document it returns, rank 1-based, k = 60. Scores of
 * different rankers are never compared directly, which is the point: BM25 scores and
 * cosine similarities live on unrelated scales.
 *
 * Filters are applied inside each ranker (BM25 skips non-matching documents before its
 * heap; the dense ranker gets a predicate), so a filtered search still returns up to k
 * hits. The minimum score is applied to the fused score after fusion. Every hit keeps
 * each ranker's own score and rank so callers can show why it was found.
 */
#include <stdlib.h>
#include <string.h>

#include "medify/search.h"

md_hybrid_params md_hybrid_default_params(void) {
    return (md_hybrid_params){
        .k = 10, .depth = MD_HYBRID_DEFAULT_DEPTH, .rrf_k = MD_RRF_DEFAULT_K, .min_score = 0.0,
        .filter = md_search_filter_none()};
}

static uint32_t best_rank(const md_hybrid_hit *h) {
    uint32_t a = h->bm25_rank ? h->bm25_rank : UINT32_MAX, b = h->dense_rank ? h->dense_rank : UINT32_MAX;
    return a < b ? a : b;
}

static int cmp_fused(const void *pa, const void *pb) {
    const md_hybrid_hit *a = pa, *b = pb;
    if (a->score != b->score) return a->score > b->score ? -1 : 1;
    uint32_t ra = best_rank(a), rb = best_rank(b);
    if (ra != rb) return ra < rb ? -1 : 1;
    return (a->id > b->id) - (a->id < b->id);
}

static md_status fuse_list(md_map *seen, md_vec *hits, const md_rank_list *l, double rrf_k, bool dense) {
    if (!l) return MD_OK;
    for (size_t i = 0; i < l->n; i++) {
        const uint64_t id = l->ids[i];
        uint64_t at;
        md_hybrid_hit *h;
        if (md_map_get(seen, (const char *)&id, sizeof id, &at)) {
            h = md_vec_at(hits, (size_t)at);
        } else {
            md_hybrid_hit nh = {.id = id};
            md_status s = md_vec_push(hits, &nh);
            if (s != MD_OK) return s;
            s = md_map_put(seen, (const char *)&id, sizeof id, hits->n - 1);
            if (s != MD_OK) return s;
            h = md_vec_at(hits, hits->n - 1);
        }
        const uint32_t rank = (uint32_t)(i + 1);
        if (dense) {
            if (h->has_dense) continue; /* a ranker listing an id twice counts once */
            h->has_dense = true;
            h->dense = l->scores ? l->scores[i] : 0.0;
            h->dense_rank = rank;
        } else {
            if (h->has_bm25) continue;
            h->has_bm25 = true;
            h->bm25 = l->scores ? l->scores[i] : 0.0;
            h->bm25_rank = rank;
        }
        h->score += 1.0 / (rrf_k + (double)rank);
    }
    return MD_OK;
}

md_status md_rrf_fuse(const md_rank_list *bm25, const md_rank_list *dense, double rrf_k, double min_score,
                      size_t k, md_hybrid_hit *out, size_t *n_out, md_error *err) {
    if (n_out) *n_out = 0;
    if (!n_out || (k && !out) || !(rrf_k >= 0)) return md_error_set(err, MD_ERR_INVALID_ARG, "rrf: bad arguments");
    if ((bm25 && bm25->n && !bm25->ids) || (dense && dense->n && !dense->ids))
        return md_error_set(err, MD_ERR_INVALID_ARG, "rrf: list without ids");
    md_map seen;
    md_vec hits;
    md_map_init(&seen);
    md_vec_init(&hits, sizeof(md_hybrid_hit));
    md_status s = fuse_list(&seen, &hits, bm25, rrf_k, false);
    if (s == MD_OK) s = fuse_list(&seen, &hits, dense, rrf_k, true);
    if (s != MD_OK) {
        md_map_free(&seen);
        md_vec_free(&hits);
        return md_error_set(err, s, "rrf: out of memory");
    }
    md_hybrid_hit *h = hits.data;
    size_t n = 0;
    for (size_t i = 0; i < hits.n; i++)
        if (h[i].score >= min_score) h[n++] = h[i];
    if (n > 1) qsort(h, n, sizeof *h, cmp_fused);
    if (n > k) n = k;
    if (n) memcpy(out, h, n * sizeof *h);
    *n_out = n;
    md_map_free(&seen);
    md_vec_free(&hits);
    return MD_OK;
}

typedef struct dense_filter_ctx {
    const md_bm25 *bm25;
    const md_search_filter *filter;
} dense_filter_ctx;

/* Demographics of the dense candidates come from the BM25 document table, which holds
 * every indexed case. */
static bool dense_filter(uint64_t id, void *ctx) {
    const dense_filter_ctx *c = ctx;
    md_search_doc d;
    if (!md_bm25_doc(c->bm25, id, &d)) return false;
    return md_search_filter_match(c->filter, d.age_years, d.sex);
}

md_status md_hybrid_search(const md_bm25 *bm25, const md_embedder *embedder, const md_dense_ranker *dense,
                           const char *query, size_t n_bytes, md_hybrid_params params, md_hybrid_hit *out,
                           size_t *n_out, md_error *err) {
    if (n_out) *n_out = 0;
    if (!bm25 || !query || !n_out || (params.k && !out))
        return md_error_set(err, MD_ERR_INVALID_ARG, "hybrid: bad arguments");
    if (params.k == 0) return MD_OK;
    size_t depth = params.depth < params.k ? params.k : params.depth;
    bool use_dense = embedder && dense && embedder->embed && dense->search && embedder->dim > 0;

    md_bm25_hit *bh = md_calloc(depth, sizeof *bh);
    uint64_t *ids = md_calloc(2 * depth, sizeof *ids);
    double *scores = md_calloc(2 * depth, sizeof *scores);
    md_dense_hit *dh = use_dense ? md_calloc(depth, sizeof *dh) : NULL;
    float *qvec = use_dense ? md_calloc(embedder->dim, sizeof *qvec) : NULL;
    md_status s = MD_OK;
    if (!bh || !ids || !scores || (use_dense && (!dh || !qvec))) {
        s = md_error_set(err, MD_ERR_NOMEM, "hybrid: out of memory");
        goto done;
    }
    size_t n_bm25 = 0, n_dense = 0;
    s = md_bm25_search(bm25, query, n_bytes, depth, &params.filter, bh, &n_bm25, err);
    if (s != MD_OK) goto done;
    for (size_t i = 0; i < n_bm25; i++) {
        ids[i] = bh[i].id;
        scores[i] = bh[i].score;
    }
    if (use_dense) {
        /* the embedder wants NUL-terminated text */
        char *q = md_strndup(query, n_bytes);
        if (!q) {
            s = md_error_set(err, MD_ERR_NOMEM, "hybrid: out of memory");
            goto done;
        }
        const char *texts[1] = {q};
        s = embedder->embed(embedder->ctx, texts, 1, qvec, err);
        md_free(q);
        if (s != MD_OK) goto done;
        dense_filter_ctx fc = {bm25, &params.filter};
        s = dense->search(dense->ctx, qvec, depth, dense_filter, &fc, dh, &n_dense, err);
        if (s != MD_OK) goto done;
        if (n_dense > depth) n_dense = depth;
        for (size_t i = 0; i < n_dense; i++) {
            ids[depth + i] = dh[i].id;
            scores[depth + i] = dh[i].similarity;
        }
    }
    md_rank_list lb = {ids, scores, n_bm25}, ld = {ids + depth, scores + depth, n_dense};
    s = md_rrf_fuse(&lb, use_dense ? &ld : NULL, params.rrf_k, params.min_score, params.k, out, n_out, err);
done:
    md_free(bh);
    md_free(ids);
    md_free(scores);
    md_free(dh);
    md_free(qvec);
    return s;
}
