/* The vector index object: parameters, node storage, the id map, the scratch pool
 * and the public entry points that are the same for the flat and the HNSW kinds
 * (new, free, add, delete, search dispatch, statistics).
 *
 * Invariants (checked by md_vindex_verify_file for files):
 *   - n_deleted == number of i with deleted[i] != 0, and the id map holds exactly the
 *     ids of the other nodes;
 *   - every link is a node number < n_nodes, and a node links only to nodes whose
 *     level is at least the layer of the link;
 *   - entry is MDV_NONE iff n_nodes == 0, and levels[entry] == max_level.
 */
#include "search/vec_index.h"

#include <math.h>
#include <string.h>
#include <sys/mman.h>

md_vindex_params md_vindex_default_params(uint32_t dim) {
    md_vindex_params p = {
        .kind = MD_VINDEX_HNSW,
        .dim = dim,
        .metric = MD_METRIC_COSINE,
        .storage = MD_VSTORAGE_F32,
        .m = MD_HNSW_DEFAULT_M,
        .ef_construction = MD_HNSW_DEFAULT_EF_CONSTRUCTION,
        .ef_search = MD_HNSW_DEFAULT_EF_SEARCH,
        .seed = 0x6d656469667931ull, /* any fixed value: builds are reproducible */
    };
    return p;
}

md_status mdv_validate_params(const md_vindex_params *p, md_error *err) {
    if (p->kind != MD_VINDEX_FLAT && p->kind != MD_VINDEX_HNSW) {
        return md_error_set(err, MD_ERR_INVALID_ARG, "vector index: unknown kind %d", (int)p->kind);
    }
    if (p->dim == 0 || p->dim > MDV_MAX_DIM) {
        return md_error_set(err, MD_ERR_INVALID_ARG, "vector index: dim %u not in 1..%u", p->dim, MDV_MAX_DIM);
    }
    if (p->metric != MD_METRIC_COSINE && p->metric != MD_METRIC_INNER_PRODUCT && p->metric != MD_METRIC_L2) {
        return md_error_set(err, MD_ERR_INVALID_ARG, "vector index: unknown metric %d", (int)p->metric);
    }
    if (p->storage != MD_VSTORAGE_F32 && p->storage != MD_VSTORAGE_Q8) {
        return md_error_set(err, MD_ERR_INVALID_ARG, "vector index: unknown storage %d", (int)p->storage);
    }
    if (p->kind == MD_VINDEX_HNSW) {
        if (p->m < 2 || p->m > MDV_MAX_M) {
            return md_error_set(err, MD_ERR_INVALID_ARG, "vector index: M %u not in 2..%u", p->m, MDV_MAX_M);
        }
        if (p->ef_construction == 0 || p->ef_search == 0) {
            return md_error_set(err, MD_ERR_INVALID_ARG, "vector index: ef must be positive");
        }
    }
    return MD_OK;
}

size_t mdv_record_bytes(const md_vindex_params *p, uint32_t max_links0, size_t *links_offset) {
    size_t vec = p->storage == MD_VSTORAGE_Q8 ? MDV_Q8_HEADER_BYTES + p->dim : (size_t)p->dim * sizeof(float);
    size_t links = (1u + (size_t)max_links0) * sizeof(uint32_t);
    *links_offset = (vec + 3u) & ~(size_t)3u;
    size_t n = *links_offset + links;
    /* Whole cache lines: every vector starts on a line, so no SIMD load splits one. */
    return (n + 63u) & ~(size_t)63u;
}

md_status mdv_index_alloc(md_vindex_params params, md_vindex **out, md_error *err) {
    *out = NULL;
    md_status st = mdv_validate_params(&params, err);
    if (st != MD_OK) {
        return st;
    }
    md_vindex *v = md_calloc(1, sizeof(*v));
    if (!v) {
        return md_error_set(err, MD_ERR_NOMEM, "vector index: out of memory");
    }
    if (pthread_mutex_init(&v->pool_lock, NULL) != 0) {
        md_free(v);
        return md_error_set(err, MD_ERR_INTERNAL, "vector index: mutex init failed");
    }
    v->params = params;
    v->k = mdv_kernels_get();
    if (params.kind == MD_VINDEX_HNSW) {
        v->max_links = params.m;
        v->max_links0 = 2u * params.m; /* sec. 4: Mmax0 = 2M */
        v->level_mult = 1.0 / log((double)params.m);
    }
    v->record_bytes = mdv_record_bytes(&params, v->max_links0, &v->links_offset);
    v->rng = params.seed ^ 0x9e3779b97f4a7c15ull;
    v->entry = MDV_NONE;
    *out = v;
    return MD_OK;
}

md_status md_vindex_new(md_vindex_params params, md_vindex **out, md_error *err) {
    if (!out) {
        return md_error_set(err, MD_ERR_INVALID_ARG, "vector index: out is NULL");
    }
    return mdv_index_alloc(params, out, err);
}

void mdv_scratch_free(mdv_scratch *s) {
    if (!s) {
        return;
    }
    md_free(s->visited);
    md_free(s->cand);
    md_free(s->res);
    md_free(s->tmp_vec);
    md_free(s->tmp_vec2);
    md_free(s->tmp_pairs);
    md_free(s);
}

static void free_arrays(md_vindex *v) {
    if (v->file_map) {
        munmap(v->file_map, v->file_map_bytes);
        v->file_map = NULL;
    } else {
        md_free(v->records);
        md_free(v->ids);
        md_free(v->levels);
        md_free(v->deleted);
        md_free(v->upper_off);
        md_free(v->upper);
    }
    v->records = NULL;
    v->ids = NULL;
    v->levels = NULL;
    v->deleted = NULL;
    v->upper_off = NULL;
    v->upper = NULL;
}

void md_vindex_free(md_vindex *v) {
    if (!v) {
        return;
    }
    free_arrays(v);
    md_free(v->map_keys);
    md_free(v->map_nodes);
    while (v->pool) {
        mdv_scratch *next = v->pool->next;
        mdv_scratch_free(v->pool);
        v->pool = next;
    }
    mdv_scratch_free(v->build);
    pthread_mutex_destroy(&v->pool_lock);
    md_free(v);
}

/* ------------------------------------------------------------ storage ---- */

static bool grow(void **p, size_t item_bytes, size_t n_old, size_t n_new) {
    if (n_new > SIZE_MAX / item_bytes) {
        return false;
    }
    void *q = md_realloc(*p, n_new * item_bytes);
    if (!q) {
        return false;
    }
    memset((char *)q + n_old * item_bytes, 0, (n_new - n_old) * item_bytes);
    *p = q;
    return true;
}

md_status mdv_reserve_nodes(md_vindex *v, size_t n_total) {
    if (n_total <= v->cap_nodes) {
        return MD_OK;
    }
    if (n_total > MDV_MAX_NODES) {
        return MD_ERR_LIMIT;
    }
    size_t cap = v->cap_nodes ? v->cap_nodes : 64;
    while (cap < n_total) {
        cap = cap > MDV_MAX_NODES / 2 ? MDV_MAX_NODES : cap * 2;
    }
    size_t old = v->cap_nodes;
    /* Each array grows on its own; a failure leaves the earlier ones bigger, which is
     * harmless because cap_nodes only moves once all have grown. */
    if (!grow((void **)&v->records, v->record_bytes, old, cap) || !grow((void **)&v->ids, sizeof(uint64_t), old, cap) ||
        !grow((void **)&v->levels, 1, old, cap) || !grow((void **)&v->deleted, 1, old, cap) ||
        !grow((void **)&v->upper_off, sizeof(uint64_t), old, cap)) {
        return MD_ERR_NOMEM;
    }
    v->cap_nodes = cap;
    return MD_OK;
}

md_status mdv_reserve_upper(md_vindex *v, size_t n_total_words) {
    if (n_total_words <= v->cap_upper) {
        return MD_OK;
    }
    size_t cap = v->cap_upper ? v->cap_upper : 1024;
    while (cap < n_total_words) {
        if (cap > SIZE_MAX / 2) {
            return MD_ERR_NOMEM;
        }
        cap *= 2;
    }
    if (!grow((void **)&v->upper, sizeof(uint32_t), v->cap_upper, cap)) {
        return MD_ERR_NOMEM;
    }
    v->cap_upper = cap;
    return MD_OK;
}

static void *copy_out(const void *src, size_t n_bytes, size_t cap_bytes) {
    void *p = md_malloc(cap_bytes ? cap_bytes : 1);
    if (p && n_bytes) {
        memcpy(p, src, n_bytes);
    }
    return p;
}

md_status mdv_make_writable(md_vindex *v, md_error *err) {
    if (!v->file_map) {
        return MD_OK;
    }
    size_t n = v->n_nodes, cap = n ? n : 1;
    uint8_t *records = copy_out(v->records, n * v->record_bytes, cap * v->record_bytes);
    uint64_t *ids = copy_out(v->ids, n * sizeof(uint64_t), cap * sizeof(uint64_t));
    uint8_t *levels = copy_out(v->levels, n, cap);
    uint8_t *deleted = copy_out(v->deleted, n, cap);
    uint64_t *upper_off = copy_out(v->upper_off, n * sizeof(uint64_t), cap * sizeof(uint64_t));
    uint32_t *upper =
        copy_out(v->upper, v->n_upper * sizeof(uint32_t), (v->n_upper ? v->n_upper : 1) * sizeof(uint32_t));
    if (!records || !ids || !levels || !deleted || !upper_off || !upper) {
        md_free(records);
        md_free(ids);
        md_free(levels);
        md_free(deleted);
        md_free(upper_off);
        md_free(upper);
        return md_error_set(err, MD_ERR_NOMEM, "vector index: out of memory copying a loaded index");
    }
    munmap(v->file_map, v->file_map_bytes);
    v->file_map = NULL;
    v->file_map_bytes = 0;
    v->records = records;
    v->ids = ids;
    v->levels = levels;
    v->deleted = deleted;
    v->upper_off = upper_off;
    v->upper = upper;
    v->cap_nodes = cap;
    v->cap_upper = v->n_upper ? v->n_upper : 1;
    return MD_OK;
}

/* --------------------------------------------------------------- id map ---- */

static size_t map_slot(uint64_t id, size_t cap) {
    uint64_t h = id * 0x9e3779b97f4a7c15ull; /* Fibonacci hashing */
    return (size_t)(h ^ (h >> 29)) & (cap - 1);
}

uint32_t mdv_map_find(const md_vindex *v, uint64_t id) {
    if (v->map_cap == 0) {
        return MDV_NONE;
    }
    for (size_t i = map_slot(id, v->map_cap);; i = (i + 1) & (v->map_cap - 1)) {
        if (v->map_nodes[i] == MDV_NONE) {
            return MDV_NONE;
        }
        if (v->map_keys[i] == id) {
            return v->map_nodes[i];
        }
    }
}

static void map_insert_raw(uint64_t *keys, uint32_t *nodes, size_t cap, uint64_t id, uint32_t node) {
    size_t i = map_slot(id, cap);
    while (nodes[i] != MDV_NONE && keys[i] != id) {
        i = (i + 1) & (cap - 1);
    }
    keys[i] = id;
    nodes[i] = node;
}

static md_status map_resize(md_vindex *v, size_t cap) {
    uint64_t *keys = md_calloc(cap, sizeof(uint64_t));
    uint32_t *nodes = md_malloc(cap * sizeof(uint32_t));
    if (!keys || !nodes) {
        md_free(keys);
        md_free(nodes);
        return MD_ERR_NOMEM;
    }
    memset(nodes, 0xff, cap * sizeof(uint32_t));
    for (size_t i = 0; i < v->map_cap; i++) {
        if (v->map_nodes[i] != MDV_NONE) {
            map_insert_raw(keys, nodes, cap, v->map_keys[i], v->map_nodes[i]);
        }
    }
    md_free(v->map_keys);
    md_free(v->map_nodes);
    v->map_keys = keys;
    v->map_nodes = nodes;
    v->map_cap = cap;
    return MD_OK;
}

md_status mdv_map_put(md_vindex *v, uint64_t id, uint32_t node) {
    if ((v->map_n + 1) * 10 > v->map_cap * 7) { /* load factor <= 0.7 */
        size_t cap = v->map_cap ? v->map_cap * 2 : 64;
        md_status st = map_resize(v, cap);
        if (st != MD_OK) {
            return st;
        }
    }
    if (mdv_map_find(v, id) == MDV_NONE) {
        v->map_n++;
    }
    map_insert_raw(v->map_keys, v->map_nodes, v->map_cap, id, node);
    return MD_OK;
}

/* Linear-probing deletion by backward shift (Knuth, TAOCP vol. 3, 6.4 algorithm R):
 * no tombstones, so lookups stay short after many deletes. */
void mdv_map_remove(md_vindex *v, uint64_t id) {
    if (v->map_cap == 0) {
        return;
    }
    size_t mask = v->map_cap - 1, i = map_slot(id, v->map_cap);
    while (v->map_nodes[i] != MDV_NONE && v->map_keys[i] != id) {
        i = (i + 1) & mask;
    }
    if (v->map_nodes[i] == MDV_NONE) {
        return;
    }
    v->map_n--;
    size_t j = i;
    for (;;) {
        v->map_nodes[i] = MDV_NONE;
        for (;;) {
            j = (j + 1) & mask;
            if (v->map_nodes[j] == MDV_NONE) {
                return;
            }
            size_t home = map_slot(v->map_keys[j], v->map_cap);
            /* Move j back to i unless its home lies cyclically in (i, j]. */
            bool stays = i <= j ? (i < home && home <= j) : (i < home || home <= j);
            if (!stays) {
                break;
            }
        }
        v->map_keys[i] = v->map_keys[j];
        v->map_nodes[i] = v->map_nodes[j];
        i = j;
    }
}

md_status mdv_map_rebuild(md_vindex *v, md_error *err) {
    md_free(v->map_keys);
    md_free(v->map_nodes);
    v->map_keys = NULL;
    v->map_nodes = NULL;
    v->map_cap = 0;
    v->map_n = 0;
    size_t n_live = v->n_nodes - v->n_deleted, cap = 64;
    while (cap * 7 < (n_live + 1) * 10) {
        cap *= 2;
    }
    if (map_resize(v, cap) != MD_OK) {
        return md_error_set(err, MD_ERR_NOMEM, "vector index: out of memory");
    }
    for (size_t i = 0; i < v->n_nodes; i++) {
        if (v->deleted[i]) {
            continue;
        }
        if (mdv_map_find(v, v->ids[i]) != MDV_NONE) {
            return md_error_set(err, MD_ERR_PARSE, "vector index: id %llu appears twice",
                                (unsigned long long)v->ids[i]);
        }
        md_status st = mdv_map_put(v, v->ids[i], (uint32_t)i);
        if (st != MD_OK) {
            return md_error_set(err, st, "vector index: out of memory");
        }
    }
    return MD_OK;
}

/* -------------------------------------------------------------- scratch ---- */

mdv_scratch *mdv_scratch_acquire(const md_vindex *v) {
    pthread_mutex_t *lock = (pthread_mutex_t *)&v->pool_lock; /* the pool is not index state */
    pthread_mutex_lock(lock);
    mdv_scratch *s = v->pool;
    if (s) {
        ((md_vindex *)v)->pool = s->next;
    }
    pthread_mutex_unlock(lock);
    if (!s) {
        s = md_calloc(1, sizeof(*s));
    }
    return s;
}

void mdv_scratch_release(const md_vindex *v, mdv_scratch *s) {
    if (!s) {
        return;
    }
    pthread_mutex_t *lock = (pthread_mutex_t *)&v->pool_lock;
    pthread_mutex_lock(lock);
    s->next = v->pool;
    ((md_vindex *)v)->pool = s;
    pthread_mutex_unlock(lock);
}

static bool fit_pairs(mdv_pair **p, size_t *cap, size_t n) {
    if (*cap >= n) {
        return true;
    }
    mdv_pair *q = md_realloc(*p, n * sizeof(mdv_pair));
    if (!q) {
        return false;
    }
    *p = q;
    *cap = n;
    return true;
}

md_status mdv_scratch_fit(mdv_scratch *s, const md_vindex *v, size_t n_heap) {
    if (s->n_visited < v->n_nodes) {
        size_t n = v->cap_nodes > v->n_nodes ? v->cap_nodes : v->n_nodes;
        uint32_t *vis = md_calloc(n, sizeof(uint32_t));
        if (!vis) {
            return MD_ERR_NOMEM;
        }
        md_free(s->visited);
        s->visited = vis;
        s->n_visited = n;
        s->epoch = 0;
    }
    if (!s->tmp_vec) {
        s->tmp_vec = md_malloc((size_t)v->params.dim * 2 * sizeof(float));
        s->tmp_vec2 = md_malloc((size_t)v->params.dim * sizeof(float));
        if (!s->tmp_vec || !s->tmp_vec2) {
            return MD_ERR_NOMEM;
        }
    }
    size_t need = n_heap + (size_t)v->max_links0 + 2;
    if (!fit_pairs(&s->cand, &s->cap_cand, need) || !fit_pairs(&s->res, &s->cap_res, need) ||
        !fit_pairs(&s->tmp_pairs, &s->cap_tmp_pairs, need)) {
        return MD_ERR_NOMEM;
    }
    return MD_OK;
}

void mdv_visited_begin(mdv_scratch *s) {
    s->epoch++;
    if (s->epoch == 0) { /* wrapped: stamps from 2^32 queries ago would look fresh */
        memset(s->visited, 0, s->n_visited * sizeof(uint32_t));
        s->epoch = 1;
    }
}

/* ---------------------------------------------------------------- heaps ---- */

void mdv_minheap_push(mdv_pair *h, size_t *n, mdv_pair p) {
    size_t i = (*n)++;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (h[parent].dist <= p.dist) {
            break;
        }
        h[i] = h[parent];
        i = parent;
    }
    h[i] = p;
}

mdv_pair mdv_minheap_pop(mdv_pair *h, size_t *n) {
    mdv_pair top = h[0], last = h[--(*n)];
    size_t i = 0, m = *n;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= m) {
            break;
        }
        if (c + 1 < m && h[c + 1].dist < h[c].dist) {
            c++;
        }
        if (last.dist <= h[c].dist) {
            break;
        }
        h[i] = h[c];
        i = c;
    }
    if (m > 0) {
        h[i] = last;
    }
    return top;
}

void mdv_maxheap_push(mdv_pair *h, size_t *n, mdv_pair p) {
    size_t i = (*n)++;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (h[parent].dist >= p.dist) {
            break;
        }
        h[i] = h[parent];
        i = parent;
    }
    h[i] = p;
}

mdv_pair mdv_maxheap_pop(mdv_pair *h, size_t *n) {
    mdv_pair top = h[0], last = h[--(*n)];
    size_t i = 0, m = *n;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= m) {
            break;
        }
        if (c + 1 < m && h[c + 1].dist > h[c].dist) {
            c++;
        }
        if (last.dist >= h[c].dist) {
            break;
        }
        h[i] = h[c];
        i = c;
    }
    if (m > 0) {
        h[i] = last;
    }
    return top;
}

/* ------------------------------------------------------------ add, etc. ---- */

static uint64_t splitmix64(uint64_t *state) {
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Level of a new node: floor(-ln(U) * mL) with mL = 1/ln(M) (sec. 4, eq. for mL). */
static uint32_t random_level(md_vindex *v) {
    double u = ((double)(splitmix64(&v->rng) >> 11) + 1.0) * (1.0 / 9007199254740993.0); /* (0, 1] */
    double level = -log(u) * v->level_mult;
    return level >= (double)MDV_MAX_LEVEL ? MDV_MAX_LEVEL : (uint32_t)level;
}

static bool all_finite(const float *vec, size_t n) {
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(vec[i])) {
            return false;
        }
    }
    return true;
}

/* Cosine: unit length so that 1 - dot is 1 - cos. Returns false for a zero vector. */
static bool normalise(const float *in, float *out, size_t n) {
    double s = 0.0;
    for (size_t i = 0; i < n; i++) {
        s += (double)in[i] * in[i];
    }
    if (!(s > 0.0) || !isfinite(s)) {
        return false;
    }
    float inv = (float)(1.0 / sqrt(s));
    for (size_t i = 0; i < n; i++) {
        out[i] = in[i] * inv;
    }
    return true;
}

md_status md_vindex_add(md_vindex *v, uint64_t id, const float *vec, md_error *err) {
    if (!v || !vec) {
        return md_error_set(err, MD_ERR_INVALID_ARG, "vector index: NULL argument");
    }
    size_t dim = v->params.dim;
    if (!all_finite(vec, dim)) {
        return md_error_set(err, MD_ERR_INVALID_ARG, "vector index: vector for id %llu has NaN or infinity",
                            (unsigned long long)id);
    }
    md_status st = mdv_make_writable(v, err);
    if (st != MD_OK) {
        return st;
    }
    if (mdv_map_find(v, id) != MDV_NONE) {
        return md_error_set(err, MD_ERR_CONFLICT, "vector index: id %llu already present", (unsigned long long)id);
    }
    if (!v->build) {
        v->build = md_calloc(1, sizeof(mdv_scratch));
        if (!v->build) {
            return md_error_set(err, MD_ERR_NOMEM, "vector index: out of memory");
        }
    }
    if (mdv_reserve_nodes(v, v->n_nodes + 1) != MD_OK) {
        return md_error_set(err, v->n_nodes >= MDV_MAX_NODES ? MD_ERR_LIMIT : MD_ERR_NOMEM,
                            "vector index: cannot grow to %zu vectors", v->n_nodes + 1);
    }
    size_t n_heap = v->params.kind == MD_VINDEX_HNSW ? v->params.ef_construction : 1;
    if (mdv_scratch_fit(v->build, v, n_heap) != MD_OK) {
        return md_error_set(err, MD_ERR_NOMEM, "vector index: out of memory");
    }
    const float *x = vec;
    if (v->params.metric == MD_METRIC_COSINE) {
        if (!normalise(vec, v->build->tmp_vec2, dim)) {
            return md_error_set(err, MD_ERR_INVALID_ARG, "vector index: zero vector for id %llu under cosine",
                                (unsigned long long)id);
        }
        x = v->build->tmp_vec2;
    }
    uint32_t level = v->params.kind == MD_VINDEX_HNSW ? random_level(v) : 0;
    size_t upper_words = (size_t)level * (1u + v->max_links);
    if (mdv_reserve_upper(v, v->n_upper + upper_words) != MD_OK) {
        return md_error_set(err, MD_ERR_NOMEM, "vector index: out of memory");
    }
    uint32_t node = (uint32_t)v->n_nodes;
    if (mdv_map_put(v, id, node) != MD_OK) {
        return md_error_set(err, MD_ERR_NOMEM, "vector index: out of memory");
    }
    uint8_t *rec = mdv_record(v, node);
    memset(rec, 0, v->record_bytes);
    if (v->params.storage == MD_VSTORAGE_Q8) {
        mdv_q8_encode(x, dim, rec);
    } else {
        memcpy(rec, x, dim * sizeof(float));
    }
    v->ids[node] = id;
    v->levels[node] = (uint8_t)level;
    v->deleted[node] = 0;
    v->upper_off[node] = v->n_upper;
    if (upper_words > 0) {
        memset(v->upper + v->n_upper, 0, upper_words * sizeof(uint32_t));
    }
    v->n_upper += upper_words;
    v->n_nodes++;
    if (v->params.kind == MD_VINDEX_HNSW) {
        st = mdv_hnsw_insert(v, node, x);
        if (st != MD_OK) { /* nothing links to the node yet: drop it */
            v->n_nodes--;
            v->n_upper -= upper_words;
            mdv_map_remove(v, id);
            return md_error_set(err, st, "vector index: insert failed (%s)", md_status_message(st));
        }
    } else if (v->entry == MDV_NONE) {
        v->entry = node;
    }
    return MD_OK;
}

md_status md_vindex_delete(md_vindex *v, uint64_t id, md_error *err) {
    if (!v) {
        return md_error_set(err, MD_ERR_INVALID_ARG, "vector index: NULL index");
    }
    uint32_t node = mdv_map_find(v, id);
    if (node == MDV_NONE) {
        return md_error_set(err, MD_ERR_NOT_FOUND, "vector index: id %llu not present", (unsigned long long)id);
    }
    md_status st = mdv_make_writable(v, err);
    if (st != MD_OK) {
        return st;
    }
    v->deleted[node] = 1;
    v->n_deleted++;
    mdv_map_remove(v, id);
    return MD_OK;
}

void md_vindex_set_ef_search(md_vindex *v, uint32_t ef) {
    if (v && ef > 0) {
        v->params.ef_search = ef;
    }
}

void mdv_query_prepare(const md_vindex *v, const float *vec, mdv_query *q) {
    q->vec = vec;
    q->sum = 0.0f;
    q->sq_norm = 0.0f;
    if (v->params.storage == MD_VSTORAGE_Q8) {
        float s = 0.0f;
        for (size_t i = 0; i < v->params.dim; i++) {
            s += vec[i];
        }
        q->sum = s;
        q->sq_norm = v->k->dot_f32(vec, vec, v->params.dim);
    }
}

md_status md_vindex_search(const md_vindex *v, const float *query, size_t k, md_vfilter filter, void *filter_ctx,
                           md_vhit *out, size_t *n_out, md_error *err) {
    if (!v || !query || !n_out || (k > 0 && !out)) {
        return md_error_set(err, MD_ERR_INVALID_ARG, "vector index: NULL argument");
    }
    *n_out = 0;
    size_t dim = v->params.dim;
    if (!all_finite(query, dim)) {
        return md_error_set(err, MD_ERR_INVALID_ARG, "vector index: query has NaN or infinity");
    }
    if (k == 0 || v->n_nodes == v->n_deleted) {
        return MD_OK;
    }
    if (k > v->n_nodes) {
        k = v->n_nodes;
    }
    mdv_scratch *s = mdv_scratch_acquire(v);
    size_t ef = v->params.kind == MD_VINDEX_HNSW && v->params.ef_search > k ? v->params.ef_search : k;
    if (!s || mdv_scratch_fit(s, v, ef) != MD_OK) {
        mdv_scratch_release(v, s); /* a half-fitted scratch is still valid: keep it pooled */
        return md_error_set(err, MD_ERR_NOMEM, "vector index: out of memory");
    }
    const float *x = query;
    if (v->params.metric == MD_METRIC_COSINE) {
        if (!normalise(query, s->tmp_vec2, dim)) {
            memset(s->tmp_vec2, 0, dim * sizeof(float)); /* a zero query: every distance is 1 */
        }
        x = s->tmp_vec2;
    }
    mdv_query q;
    mdv_query_prepare(v, x, &q);
    md_status st = v->params.kind == MD_VINDEX_HNSW ? mdv_hnsw_search(v, &q, k, filter, filter_ctx, s, out, n_out)
                                                    : mdv_flat_search(v, &q, k, filter, filter_ctx, s, out, n_out);
    mdv_scratch_release(v, s);
    if (st != MD_OK) {
        return md_error_set(err, st, "vector index: search failed (%s)", md_status_message(st));
    }
    return MD_OK;
}

size_t md_vindex_size(const md_vindex *v) { return v ? v->n_nodes - v->n_deleted : 0; }

md_vindex_params md_vindex_get_params(const md_vindex *v) { return v->params; }

size_t md_vindex_memory_bytes(const md_vindex *v) {
    if (!v) {
        return 0;
    }
    size_t n = sizeof(*v) + v->map_cap * (sizeof(uint64_t) + sizeof(uint32_t));
    if (v->file_map) {
        return n + v->file_map_bytes;
    }
    return n + v->cap_nodes * (v->record_bytes + sizeof(uint64_t) * 2 + 2) + v->cap_upper * sizeof(uint32_t);
}
