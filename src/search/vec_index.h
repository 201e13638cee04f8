/* The vector index object shared by the flat and HNSW code (private to src/search).
 *
 * Storage: node i (0 <= i < n_nodes) owns one fixed-size record of record_bytes:
 *
 *   [vector]                                 f32: dim floats
 *                                            q8:  f32 scale, f32 offset, f32 sq_norm,
 *                                                 then dim u8 codes (vec_quant.c)
 *   [u32 n_links0][u32 links0[max_links0]]   layer-0 adjacency (max_links0 = 0: flat),
 *                                            at links_offset (4-byte aligned)
 *
 * padded to whole 64-byte lines, so a layer-0 visit touches one contiguous block (the
 * paper leaves the layout open; hnswlib keeps links and vector together too) and every
 * vector starts on a cache line: an AVX-512 load never straddles two.
 * Layers above 0 are rare (a node reaches layer l with probability M^-l) and live in a
 * pool: upper_off[i] is where node i's blocks start, one block per layer 1..level[i],
 * each [u32 n_links][u32 links[m]].
 *
 * ids[i] is the caller's id, deleted[i] != 0 marks a tombstone. The id map holds only
 * live nodes, so a deleted id can be added again as a new node.
 *
 * A loaded index points into a read-only file mapping (vec_io.c); the first change
 * copies every array into memory (mdv_make_writable). Searches never write to the
 * index: their visited sets and heaps come from a small pool guarded by a mutex.
 */
#ifndef MEDIFY_SEARCH_VEC_INDEX_H
#define MEDIFY_SEARCH_VEC_INDEX_H

#include "medify/vector.h"
#include "search/vec_kernels.h"

#include <pthread.h>

#define MDV_MAX_DIM         65536u            /* far above any sentence embedding (384..4096) */
#define MDV_MAX_M           128u              /* Malkov & Yashunin 2018 use M <= 48 */
#define MDV_MAX_LEVEL       16u               /* P(level >= 16) = M^-16: never reached */
#define MDV_MAX_NODES       (UINT32_MAX - 1u) /* node numbers are u32; UINT32_MAX is "none" */
#define MDV_NONE            UINT32_MAX
#define MDV_Q8_HEADER_BYTES 12u /* scale, offset, sq_norm */

typedef struct mdv_pair {
    float dist;
    uint32_t node;
} mdv_pair;

/* Per-search scratch: an epoch-stamped visited set (no clearing between queries) and
 * the two heaps. Reused across queries through the index's pool. */
typedef struct mdv_scratch {
    uint32_t *visited; /* visited[i] == epoch means seen in this query */
    size_t n_visited;
    uint32_t epoch;
    mdv_pair *cand; /* min-heap of nodes to expand */
    size_t n_cand, cap_cand;
    mdv_pair *res; /* max-heap of the best accepted nodes */
    size_t n_res, cap_res;
    float *tmp_vec;      /* 2 * dim floats: dequantised vectors (select, prune) */
    float *tmp_vec2;     /* dim floats: the normalised query (cosine) */
    mdv_pair *tmp_pairs; /* neighbour selection */
    size_t cap_tmp_pairs;
    struct mdv_scratch *next;
} mdv_scratch;

/* A query prepared for one index: normalised for cosine, plus the sums the q8
 * distance needs. */
typedef struct mdv_query {
    const float *vec;
    float sum;     /* sum of vec[i] (q8) */
    float sq_norm; /* |vec|^2 (q8, L2) */
} mdv_query;

struct md_vindex {
    md_vindex_params params;
    const mdv_kernels *k;
    uint32_t max_links0; /* 2M for HNSW, 0 for flat */
    uint32_t max_links;  /* M */
    size_t record_bytes;
    size_t links_offset; /* offset of the layer-0 links inside a record (vector at 0) */
    double level_mult;   /* 1 / ln(M), sec. 4 */
    uint64_t rng;

    uint8_t *records; /* n_nodes * record_bytes */
    uint64_t *ids;
    uint8_t *levels;
    uint8_t *deleted;
    uint64_t *upper_off;
    uint32_t *upper; /* n_upper u32 words */
    size_t n_upper, cap_upper;
    size_t n_nodes, cap_nodes, n_deleted;
    uint32_t entry; /* MDV_NONE when empty */
    uint32_t max_level;

    /* id -> node for live nodes: open addressing, linear probing, power-of-two. */
    uint64_t *map_keys;
    uint32_t *map_nodes; /* MDV_NONE: empty slot */
    size_t map_cap, map_n;

    /* A loaded index: the arrays above point into this read-only mapping. */
    void *file_map;
    size_t file_map_bytes;

    pthread_mutex_t pool_lock;
    mdv_scratch *pool;
    mdv_scratch *build; /* inserts and compaction: single writer */
};

/* ---- vec_index.c ---- */
md_status mdv_index_alloc(md_vindex_params params, md_vindex **out, md_error *err);
md_status mdv_validate_params(const md_vindex_params *p, md_error *err);
size_t mdv_record_bytes(const md_vindex_params *p, uint32_t max_links0, size_t *links_offset);
md_status mdv_make_writable(md_vindex *v, md_error *err);
md_status mdv_reserve_nodes(md_vindex *v, size_t n_total);
md_status mdv_reserve_upper(md_vindex *v, size_t n_total_words);
uint32_t mdv_map_find(const md_vindex *v, uint64_t id);
md_status mdv_map_put(md_vindex *v, uint64_t id, uint32_t node);
void mdv_map_remove(md_vindex *v, uint64_t id);
md_status mdv_map_rebuild(md_vindex *v, md_error *err);
mdv_scratch *mdv_scratch_acquire(const md_vindex *v);
void mdv_scratch_release(const md_vindex *v, mdv_scratch *s);
md_status mdv_scratch_fit(mdv_scratch *s, const md_vindex *v, size_t n_heap);
void mdv_scratch_free(mdv_scratch *s);
/* Starts a new query epoch; visited[] is cleared only when the epoch wraps. */
void mdv_visited_begin(mdv_scratch *s);

/* Heaps over mdv_pair (capacity checked by the caller through mdv_scratch_fit). */
void mdv_minheap_push(mdv_pair *h, size_t *n, mdv_pair p);
mdv_pair mdv_minheap_pop(mdv_pair *h, size_t *n);
void mdv_maxheap_push(mdv_pair *h, size_t *n, mdv_pair p);
mdv_pair mdv_maxheap_pop(mdv_pair *h, size_t *n);

/* ---- vec_quant.c ---- */
/* Quantises vec (dim floats) into a q8 block: scale, offset, sq_norm, codes. */
void mdv_q8_encode(const float *vec, size_t dim, uint8_t *block);
void mdv_q8_decode(const uint8_t *block, size_t dim, float *out);
float mdv_q8_distance(const mdv_kernels *k, md_metric metric, const mdv_query *q, const uint8_t *block, size_t dim);

/* ---- vec_flat.c ---- */
md_status mdv_flat_search(const md_vindex *v, const mdv_query *q, size_t k, md_vfilter filter, void *filter_ctx,
                          mdv_scratch *s, md_vhit *out, size_t *n_out);

/* ---- hnsw_build.c ---- */
/* Links node (already stored; vec is its float vector) into the graph. */
md_status mdv_hnsw_insert(md_vindex *v, uint32_t node, const float *vec);
/* Chooses up to m neighbours from pairs[0..n) (distances to the base node, sorted
 * nearest first) by the heuristic of algorithm 4: a candidate is kept only if it is
 * nearer to the base than to every neighbour already kept. Writes node numbers to
 * out and returns their count. Uses s->tmp_vec. */
size_t mdv_hnsw_select(const md_vindex *v, mdv_scratch *s, const mdv_pair *pairs, size_t n, uint32_t m, uint32_t *out);
void mdv_pairs_sort(mdv_pair *p, size_t n);

/* ---- hnsw_search.c ---- */
/* Beam search of width ef on one layer from ep (algorithm 2). Leaves up to ef
 * accepted nodes in s->res as a max-heap. A node is accepted when accept_all (the
 * build) or when it is live and passes the filter; rejected nodes are still expanded,
 * so a filtered search keeps walking the graph until it has ef accepted nodes. */
md_status mdv_hnsw_search_layer(const md_vindex *v, const mdv_query *q, uint32_t layer, size_t ef, uint32_t ep,
                                float ep_dist, bool accept_all, md_vfilter filter, void *filter_ctx, mdv_scratch *s);
/* Greedy descent (ef = 1) from ep through layers from_layer down to to_layer. */
uint32_t mdv_hnsw_greedy(const md_vindex *v, const mdv_query *q, uint32_t ep, uint32_t from_layer, uint32_t to_layer,
                         float *ep_dist);
md_status mdv_hnsw_search(const md_vindex *v, const mdv_query *q, size_t k, md_vfilter filter, void *filter_ctx,
                          mdv_scratch *s, md_vhit *out, size_t *n_out);

/* ---- hnsw_delete.c ---- */
/* Checks links, levels, entry and counts of a (loaded) index: MD_ERR_PARSE if broken. */
md_status mdv_check_graph(const md_vindex *v, md_error *err);

/* ---- record accessors ---- */
static inline uint8_t *mdv_record(const md_vindex *v, uint32_t node) {
    return v->records + (size_t)node * v->record_bytes;
}

static inline uint32_t *mdv_links(const md_vindex *v, uint32_t node, uint32_t layer) {
    if (layer == 0) {
        return (uint32_t *)(void *)(mdv_record(v, node) + v->links_offset);
    }
    return v->upper + v->upper_off[node] + (size_t)(layer - 1) * (1u + v->max_links);
}

static inline const uint8_t *mdv_vector(const md_vindex *v, uint32_t node) { return mdv_record(v, node); }

static inline float mdv_distance(const md_vindex *v, const mdv_query *q, uint32_t node) {
    const uint8_t *x = mdv_vector(v, node);
    size_t dim = v->params.dim;
    if (v->params.storage == MD_VSTORAGE_Q8) {
        return mdv_q8_distance(v->k, v->params.metric, q, x, dim);
    }
    const float *xf = (const float *)(const void *)x;
    switch (v->params.metric) {
    case MD_METRIC_L2: return v->k->l2sq_f32(q->vec, xf, dim);
    case MD_METRIC_INNER_PRODUCT: return -v->k->dot_f32(q->vec, xf, dim);
    case MD_METRIC_COSINE:
    default: return 1.0f - v->k->dot_f32(q->vec, xf, dim);
    }
}

/* The stored vector of a node as floats: a pointer into the record (f32) or into tmp
 * (q8, dequantised). */
static inline const float *mdv_vector_f32(const md_vindex *v, uint32_t node, float *tmp) {
    if (v->params.storage == MD_VSTORAGE_Q8) {
        mdv_q8_decode(mdv_vector(v, node), v->params.dim, tmp);
        return tmp;
    }
    return (const float *)(const void *)mdv_vector(v, node);
}

void mdv_query_prepare(const md_vindex *v, const float *vec, mdv_query *q);

static inline void mdv_prefetch(const void *p) {
#if defined(__GNUC__) || defined(__clang__)
    __builtin_prefetch(p, 0, 3);
#else
    (void)p;
#endif
}

#endif
