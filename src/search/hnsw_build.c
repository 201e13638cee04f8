/* HNSW insertion (Malkov & Yashunin 2018, algorithm 1) and neighbour selection by the
 * heuristic of algorithm 4.
 *
 * A new node gets a level l = floor(-ln(U) / ln(M)) (vec_index.c). From the entry
 * point a greedy descent reaches layer l + 1; on each layer from min(l, top) down to
 * 0 a beam search of width ef_construction finds candidates, the heuristic keeps up
 * to M of them (diverse directions rather than the M nearest, which keeps clusters
 * connected), and each kept neighbour links back; a neighbour whose list is full
 * (M above layer 0, 2M on layer 0) re-selects its list with the same heuristic.
 * The nearest candidate of a layer is the entry point for the next one down.
 *
 * Tombstoned nodes take part in the build like live ones: they stay in the graph
 * until md_vindex_compact repairs around them (hnsw_delete.c).
 */
#include "search/vec_index.h"

#include <stdlib.h>

static int pair_cmp(const void *a, const void *b) {
    const mdv_pair *x = a, *y = b;
    if (x->dist < y->dist) {
        return -1;
    }
    if (x->dist > y->dist) {
        return 1;
    }
    return x->node < y->node ? -1 : (x->node > y->node);
}

void mdv_pairs_sort(mdv_pair *p, size_t n) {
    if (n > 1) {
        qsort(p, n, sizeof(*p), pair_cmp);
    }
}

size_t mdv_hnsw_select(const md_vindex *v, mdv_scratch *s, const mdv_pair *pairs, size_t n, uint32_t m, uint32_t *out) {
    if (n <= m) {
        for (size_t i = 0; i < n; i++) {
            out[i] = pairs[i].node;
        }
        return n;
    }
    size_t n_out = 0;
    for (size_t i = 0; i < n && n_out < m; i++) {
        mdv_query qe;
        mdv_query_prepare(v, mdv_vector_f32(v, pairs[i].node, s->tmp_vec), &qe);
        bool keep = true;
        for (size_t j = 0; j < n_out; j++) {
            if (mdv_distance(v, &qe, out[j]) < pairs[i].dist) {
                keep = false;
                break;
            }
        }
        if (keep) {
            out[n_out++] = pairs[i].node;
        }
    }
    return n_out;
}

/* Adds a link node -> to on layer; re-selects node's list when it is full. */
static void link_back(md_vindex *v, mdv_scratch *s, uint32_t node, uint32_t to, float dist, uint32_t layer) {
    uint32_t *links = mdv_links(v, node, layer);
    uint32_t cap = layer == 0 ? v->max_links0 : v->max_links;
    uint32_t n = links[0];
    for (uint32_t j = 0; j < n; j++) {
        if (links[1 + j] == to) {
            return;
        }
    }
    if (n < cap) {
        links[1 + n] = to;
        links[0] = n + 1;
        return;
    }
    /* Full: score the n + 1 candidates against node and keep the heuristic's choice.
     * s->cand is free between layer searches and holds at least 2M + 2 pairs. */
    mdv_query qn;
    mdv_query_prepare(v, mdv_vector_f32(v, node, s->tmp_vec + v->params.dim), &qn);
    mdv_pair *pairs = s->cand;
    for (uint32_t j = 0; j < n; j++) {
        pairs[j] = (mdv_pair){mdv_distance(v, &qn, links[1 + j]), links[1 + j]};
    }
    pairs[n] = (mdv_pair){dist, to};
    mdv_pairs_sort(pairs, n + 1);
    uint32_t kept[2 * MDV_MAX_M];
    size_t n_kept = mdv_hnsw_select(v, s, pairs, n + 1, cap, kept);
    for (size_t j = 0; j < n_kept; j++) {
        links[1 + j] = kept[j];
    }
    links[0] = (uint32_t)n_kept;
}

/* Undoes the links of layers from..to of a node whose insertion failed below them:
 * removes it from its neighbours' lists (a pruned list stays pruned, which is still
 * a valid graph) and empties its own, so the caller can drop the node. */
static void unlink_layers(md_vindex *v, uint32_t node, uint32_t from, uint32_t to) {
    for (uint32_t layer = from; layer <= to; layer++) {
        uint32_t *own = mdv_links(v, node, layer);
        for (uint32_t j = 0; j < own[0]; j++) {
            uint32_t *links = mdv_links(v, own[1 + j], layer);
            uint32_t n = 0;
            for (uint32_t i = 0; i < links[0]; i++) {
                if (links[1 + i] != node) {
                    links[1 + n++] = links[1 + i];
                }
            }
            links[0] = n;
        }
        own[0] = 0;
    }
}

md_status mdv_hnsw_insert(md_vindex *v, uint32_t node, const float *vec) {
    uint32_t level = v->levels[node];
    if (v->entry == MDV_NONE) {
        v->entry = node;
        v->max_level = level;
        return MD_OK;
    }
    mdv_scratch *s = v->build;
    mdv_query q;
    mdv_query_prepare(v, vec, &q);
    uint32_t ep = v->entry;
    float ep_dist = mdv_distance(v, &q, ep);
    if (level < v->max_level) {
        ep = mdv_hnsw_greedy(v, &q, ep, v->max_level, level + 1, &ep_dist);
    }
    uint32_t top = level < v->max_level ? level : v->max_level;
    uint32_t chosen[2 * MDV_MAX_M];
    for (uint32_t layer = top + 1; layer-- > 0;) {
        md_status st = mdv_hnsw_search_layer(v, &q, layer, v->params.ef_construction, ep, ep_dist, true, NULL, NULL, s);
        if (st != MD_OK) {
            unlink_layers(v, node, layer + 1, top);
            return st;
        }
        /* Results nearest first into tmp_pairs. */
        size_t n = s->n_res;
        mdv_pair *w = s->tmp_pairs;
        while (s->n_res > 0) {
            size_t i = s->n_res - 1;
            w[i] = mdv_maxheap_pop(s->res, &s->n_res);
        }
        ep = w[0].node;
        ep_dist = w[0].dist;
        size_t n_chosen = mdv_hnsw_select(v, s, w, n, v->max_links, chosen);
        uint32_t *links = mdv_links(v, node, layer);
        for (size_t j = 0; j < n_chosen; j++) {
            links[1 + j] = chosen[j];
        }
        links[0] = (uint32_t)n_chosen;
        for (size_t j = 0; j < n_chosen; j++) {
            /* distance node <-> chosen[j] is in w[] */
            float d = 0.0f;
            for (size_t i = 0; i < n; i++) {
                if (w[i].node == chosen[j]) {
                    d = w[i].dist;
                    break;
                }
            }
            link_back(v, s, chosen[j], node, d, layer);
        }
    }
    if (level > v->max_level) {
        v->max_level = level;
        v->entry = node;
    }
    return MD_OK;
}
