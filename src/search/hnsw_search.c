/* HNSW search (Malkov & Yashunin 2018, algorithms 2 and 5): greedy descent with
 * ef = 1 from the entry point through the upper layers, then a beam search of width
 * ef = max(ef_search, k) on layer 0.
 *
 * Beam search keeps a min-heap of candidates to expand and a max-heap of the best ef
 * accepted nodes; it stops when the nearest candidate is farther than the worst kept
 * result while ef results are held. Tombstones and nodes the filter rejects are
 * expanded like any other (they keep the graph connected) but never enter the
 * results, so a filtered search walks on until it holds ef nodes that pass: the
 * filter is applied inside the beam, not after it, and a filtered search still
 * returns k hits whenever k reachable nodes pass.
 *
 * The visited set is an array of epoch stamps owned by a pooled scratch: a query
 * bumps the epoch instead of clearing or allocating anything.
 */
#include "search/vec_index.h"

#include <math.h>

static inline bool accepted(const md_vindex *v, uint32_t node, md_vfilter filter, void *filter_ctx) {
    return !v->deleted[node] && (!filter || filter(v->ids[node], filter_ctx));
}

/* The f32 distance with its kernel looked up once per search rather than per node:
 * l2 ? l2sq(q, x) : bias - dot(q, x), bias 1 for cosine and 0 for inner product. */
typedef struct scorer {
    float (*kernel)(const float *a, const float *b, size_t n);
    bool l2;
    float bias;
} scorer;

static inline float score(const md_vindex *v, const mdv_query *q, const scorer *sc, uint32_t node) {
    if (!sc->kernel) {
        return mdv_distance(v, q, node);
    }
    float r = sc->kernel(q->vec, (const float *)(const void *)mdv_vector(v, node), v->params.dim);
    return sc->l2 ? r : sc->bias - r;
}

static bool cand_grow(mdv_scratch *s) {
    size_t cap = s->cap_cand * 2;
    mdv_pair *p = md_realloc(s->cand, cap * sizeof(mdv_pair));
    if (!p) {
        return false;
    }
    s->cand = p;
    s->cap_cand = cap;
    return true;
}

md_status mdv_hnsw_search_layer(const md_vindex *v, const mdv_query *q, uint32_t layer, size_t ef, uint32_t ep,
                                float ep_dist, bool accept_all, md_vfilter filter, void *filter_ctx, mdv_scratch *s) {
    /* Nothing to reject: skip the per-node tombstone and filter look-ups. */
    accept_all = accept_all || (!filter && v->n_deleted == 0);
    mdv_visited_begin(s);
    const uint32_t epoch = s->epoch;
    uint32_t *visited = s->visited;
    s->n_cand = 0;
    s->n_res = 0;
    visited[ep] = epoch;
    mdv_minheap_push(s->cand, &s->n_cand, (mdv_pair){ep_dist, ep});
    if (accept_all || accepted(v, ep, filter, filter_ctx)) {
        mdv_maxheap_push(s->res, &s->n_res, (mdv_pair){ep_dist, ep});
    }
    scorer sc = {NULL, false, 0.0f};
    if (v->params.storage == MD_VSTORAGE_F32) {
        sc.l2 = v->params.metric == MD_METRIC_L2;
        sc.kernel = sc.l2 ? v->k->l2sq_f32 : v->k->dot_f32;
        sc.bias = v->params.metric == MD_METRIC_COSINE ? 1.0f : 0.0f;
    }
    uint32_t fresh[2 * MDV_MAX_M];
    while (s->n_cand > 0) {
        float bound = s->n_res >= ef ? s->res[0].dist : INFINITY;
        if (s->cand[0].dist > bound) {
            break;
        }
        mdv_pair c = mdv_minheap_pop(s->cand, &s->n_cand);
        const uint32_t *links = mdv_links(v, c.node, layer);
        uint32_t n_links = links[0], n_fresh = 0;
        /* First pass: pick the unvisited neighbours and start fetching their vectors,
         * so the distance pass below finds them in cache. */
        for (uint32_t j = 0; j < n_links; j++) {
            uint32_t u = links[1 + j];
            if (visited[u] != epoch) {
                visited[u] = epoch;
                fresh[n_fresh++] = u;
                mdv_prefetch(mdv_vector(v, u));
            }
        }
        for (uint32_t j = 0; j < n_fresh; j++) {
            uint32_t u = fresh[j];
            float d = score(v, q, &sc, u);
            if (s->n_res < ef || d < s->res[0].dist) {
                if (s->n_cand + 1 > s->cap_cand && !cand_grow(s)) {
                    return MD_ERR_NOMEM;
                }
                mdv_minheap_push(s->cand, &s->n_cand, (mdv_pair){d, u});
                if (accept_all || accepted(v, u, filter, filter_ctx)) {
                    mdv_maxheap_push(s->res, &s->n_res, (mdv_pair){d, u});
                    if (s->n_res > ef) {
                        mdv_maxheap_pop(s->res, &s->n_res);
                    }
                }
            }
        }
    }
    return MD_OK;
}

uint32_t mdv_hnsw_greedy(const md_vindex *v, const mdv_query *q, uint32_t ep, uint32_t from_layer, uint32_t to_layer,
                         float *ep_dist) {
    float best = *ep_dist;
    for (uint32_t layer = from_layer; layer >= to_layer && layer > 0; layer--) {
        bool changed = true;
        while (changed) {
            changed = false;
            const uint32_t *links = mdv_links(v, ep, layer);
            for (uint32_t j = 0; j < links[0]; j++) {
                uint32_t u = links[1 + j];
                float d = mdv_distance(v, q, u);
                if (d < best) {
                    best = d;
                    ep = u;
                    changed = true;
                }
            }
        }
    }
    *ep_dist = best;
    return ep;
}

md_status mdv_hnsw_search(const md_vindex *v, const mdv_query *q, size_t k, md_vfilter filter, void *filter_ctx,
                          mdv_scratch *s, md_vhit *out, size_t *n_out) {
    *n_out = 0;
    if (v->entry == MDV_NONE) {
        return MD_OK;
    }
    size_t ef = v->params.ef_search > k ? v->params.ef_search : k;
    uint32_t ep = v->entry;
    float d = mdv_distance(v, q, ep);
    ep = mdv_hnsw_greedy(v, q, ep, v->max_level, 1, &d);
    md_status st = mdv_hnsw_search_layer(v, q, 0, ef, ep, d, false, filter, filter_ctx, s);
    if (st != MD_OK) {
        return st;
    }
    while (s->n_res > k) {
        mdv_maxheap_pop(s->res, &s->n_res);
    }
    size_t n = s->n_res;
    *n_out = n;
    while (n > 0) {
        mdv_pair p = mdv_maxheap_pop(s->res, &n);
        out[n].id = v->ids[p.node];
        out[n].distance = p.dist;
    }
    s->n_res = 0;
    return MD_OK;
}
