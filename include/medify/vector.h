/* medify vector indexes (search module): exact (flat) and HNSW approximate nearest
 * neighbour search over fixed-dimension vectors.
 *
 *   metric     cosine (vectors normalised on insert), inner product, squared L2
 *   storage    float32, or 8-bit scalar-quantised (per-vector scale and offset)
 *   ids        caller-chosen 64-bit ids (the case id), unique; deleting leaves a
 *              tombstone that searches skip; md_vindex_compact repairs the graph
 *   filters    a predicate over the id (demographics live with the caller) applied
 *              during the search, not after, so a filtered search still returns k
 *   files      one versioned, checksummed file per index, mmap-able: load maps it
 *              read-only and is O(1) in the number of vectors apart from validation
 *
 * HNSW follows Malkov & Yashunin 2018 (arXiv:1603.09320): layered small-world graphs,
 * M neighbours per node (2M on layer 0), greedy descent then beam search of width
 * ef, neighbour selection by the heuristic of section 4 (algorithm 4).
 *
 * Thread safety: searches may run concurrently with each other; inserts, deletes,
 * compaction and md_vindex_set_ef_search change the index and need exclusive access
 * (the caller's lock). A caller wanting a different ef per query keeps one index per
 * setting or serialises the change with its searches.
 */
#ifndef MEDIFY_VECTOR_H
#define MEDIFY_VECTOR_H

#include "medify/base.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MD_HNSW_DEFAULT_M 16                /* Malkov & Yashunin 2018, sec. 4: M in 5..48 */
#define MD_HNSW_DEFAULT_EF_CONSTRUCTION 200 /* hnswlib's default */
#define MD_HNSW_DEFAULT_EF_SEARCH 64

typedef enum md_metric {
    MD_METRIC_COSINE = 0,
    MD_METRIC_INNER_PRODUCT = 1,
    MD_METRIC_L2 = 2,
} md_metric;

typedef enum md_vstorage {
    MD_VSTORAGE_F32 = 0,
    MD_VSTORAGE_Q8 = 1,
} md_vstorage;

typedef enum md_vindex_kind {
    MD_VINDEX_FLAT = 0,
    MD_VINDEX_HNSW = 1,
} md_vindex_kind;

typedef struct md_vindex_params {
    md_vindex_kind kind;
    uint32_t dim;
    md_metric metric;
    md_vstorage storage;
    uint32_t m;               /* HNSW */
    uint32_t ef_construction; /* HNSW */
    uint32_t ef_search;       /* HNSW, changeable later */
    uint64_t seed;            /* level generator */
} md_vindex_params;

md_vindex_params md_vindex_default_params(uint32_t dim);

typedef struct md_vindex md_vindex;

/* A search hit: smaller distance is nearer. For cosine the distance is 1 - cos, for
 * inner product it is -dot, for L2 it is the squared distance. */
typedef struct md_vhit {
    uint64_t id;
    float distance;
} md_vhit;

/* Returns true to keep a candidate. */
typedef bool (*md_vfilter)(uint64_t id, void *ctx);

md_status md_vindex_new(md_vindex_params params, md_vindex **out, md_error *err);
void md_vindex_free(md_vindex *v);
/* Adds one vector (copied). MD_ERR_CONFLICT if the id exists (deleted ids may be
 * re-added). */
md_status md_vindex_add(md_vindex *v, uint64_t id, const float *vec, md_error *err);
/* Tombstones an id; MD_ERR_NOT_FOUND if absent. */
md_status md_vindex_delete(md_vindex *v, uint64_t id, md_error *err);
/* Rebuilds links around deleted nodes and drops them. */
md_status md_vindex_compact(md_vindex *v, md_error *err);
void md_vindex_set_ef_search(md_vindex *v, uint32_t ef);
/* k nearest live vectors passing the filter (may be NULL); *n_out <= k. */
md_status md_vindex_search(const md_vindex *v, const float *query, size_t k, md_vfilter filter, void *filter_ctx,
                           md_vhit *out, size_t *n_out, md_error *err);
size_t md_vindex_size(const md_vindex *v); /* live vectors */
md_vindex_params md_vindex_get_params(const md_vindex *v);
size_t md_vindex_memory_bytes(const md_vindex *v);

/* Persistence: atomic save (temporary file + rename); load validates magic, version,
 * sizes against the file length and the checksum, then maps the file. A loaded
 * index accepts inserts (copy-on-write into memory). */
md_status md_vindex_save(const md_vindex *v, const char *path, md_error *err);
md_status md_vindex_load(const char *path, md_vindex **out, md_error *err);
/* Re-reads the file and checks the checksum and graph invariants. */
md_status md_vindex_verify_file(const char *path, md_error *err);

/* Distance kernels, chosen once at start-up by CPUID (scalar, AVX2, AVX-512). */
const char *md_vector_kernel_name(void);
float md_vector_dot_f32(const float *a, const float *b, size_t n);
float md_vector_l2sq_f32(const float *a, const float *b, size_t n);

#ifdef __cplusplus
}
#endif

#endif /* MEDIFY_VECTOR_H */
