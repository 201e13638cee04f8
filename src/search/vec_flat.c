/* The flat (exact) index: a scan over every stored vector with a bounded max-heap of
 * the k best, skipping tombstones and nodes the filter rejects. It shares storage,
 * ids, quantisation and files with HNSW (a flat record simply has no links), so it is
 * also the brute-force reference the recall tests compare HNSW against. */
#include "search/vec_index.h"

/* Pops the max-heap into out[] nearest first. */
static void heap_to_hits(const md_vindex *v, mdv_pair *h, size_t n, md_vhit *out, size_t *n_out) {
    *n_out = n;
    while (n > 0) {
        mdv_pair p = mdv_maxheap_pop(h, &n);
        out[n].id = v->ids[p.node];
        out[n].distance = p.dist;
    }
}

md_status mdv_flat_search(const md_vindex *v, const mdv_query *q, size_t k, md_vfilter filter, void *filter_ctx,
                          mdv_scratch *s, md_vhit *out, size_t *n_out) {
    mdv_pair *h = s->res;
    size_t n = 0;
    for (size_t i = 0; i < v->n_nodes; i++) {
        if (i + 2 < v->n_nodes) {
            mdv_prefetch(mdv_vector(v, (uint32_t)(i + 2)));
        }
        if (v->deleted[i] || (filter && !filter(v->ids[i], filter_ctx))) {
            continue;
        }
        float d = mdv_distance(v, q, (uint32_t)i);
        if (n < k) {
            mdv_maxheap_push(h, &n, (mdv_pair){d, (uint32_t)i});
        } else if (d < h[0].dist) {
            mdv_maxheap_pop(h, &n);
            mdv_maxheap_push(h, &n, (mdv_pair){d, (uint32_t)i});
        }
    }
    heap_to_hits(v, h, n, out, n_out);
    return MD_OK;
}
