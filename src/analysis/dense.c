/* The dense side of report retrieval: when the index snapshot holds case-chunk vectors
 * ("hnsw" file, manifest key "embedding") and the encoder recorded in the manifest is
 * readable, queries are embedded with it and searched in the HNSW index, and the
 * hybrid search fuses that ranking with BM25.
 *
 * Vector ids follow the layout `medify index build --embed-model` writes: case_id <<
 * ANALYSIS_DENSE_CHUNK_BITS | chunk index (src/cli/cli_dense.h); a case ranks by its
 * best chunk. Threads: HNSW searches run concurrently (ef_search is set once, at open,
 * never per query); the encoder context is used by one thread at a time, under
 * embed_lock.
 */
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include "analysis/internal.h"

#ifndef MEDIFY_NO_ENGINE
#include "medify/bert.h"
#include "medify/vector.h"

#define ANALYSIS_DENSE_CHUNK_BITS 16 /* as cli_dense.h: CLI_DENSE_CHUNK_BITS */
#define ANALYSIS_DENSE_OVERSAMPLE 4  /* chunk vectors fetched per wanted case */

struct analysis_dense {
    md_bert_model *model;
    md_bert_ctx *ctx;
    md_vindex *vx;
    md_embedder bert;           /* the context's embedder, called under embed_lock */
    pthread_mutex_t embed_lock;
    md_embedder embedder;       /* what the hybrid search calls */
    md_dense_ranker ranker;
};

static md_status locked_embed(void *ctx, const char *const *texts, size_t n, float *out, md_error *err) {
    analysis_dense *d = ctx;
    pthread_mutex_lock(&d->embed_lock);
    md_status st = d->bert.embed(d->bert.ctx, texts, n, out, err);
    pthread_mutex_unlock(&d->embed_lock);
    return st;
}

typedef struct chunk_filter {
    md_search_id_filter filter;
    void *ctx;
} chunk_filter;

static bool chunk_filter_fn(uint64_t vid, void *ctx) {
    const chunk_filter *f = ctx;
    return f->filter(vid >> ANALYSIS_DENSE_CHUNK_BITS, f->ctx);
}

static md_status ranker_search(void *ctx, const float *query, size_t k, md_search_id_filter filter, void *filter_ctx,
                               md_dense_hit *out, size_t *n_out, md_error *err) {
    analysis_dense *d = ctx;
    *n_out = 0;
    size_t k_vec = k * ANALYSIS_DENSE_OVERSAMPLE;
    if (k_vec > md_vindex_size(d->vx)) k_vec = md_vindex_size(d->vx);
    if (k_vec == 0) return MD_OK;
    md_vhit *hits = md_calloc(k_vec, sizeof *hits);
    if (!hits) return md_error_set(err, MD_ERR_NOMEM, "out of memory");
    chunk_filter cf = {filter, filter_ctx};
    size_t n_hits = 0;
    md_status st = md_vindex_search(d->vx, query, k_vec, filter ? chunk_filter_fn : NULL, &cf, hits, &n_hits, err);
    for (size_t i = 0; st == MD_OK && i < n_hits && *n_out < k; i++) {
        const uint64_t case_id = hits[i].id >> ANALYSIS_DENSE_CHUNK_BITS;
        bool seen = false;
        for (size_t j = 0; j < *n_out && !seen; j++) seen = out[j].id == case_id;
        if (!seen) out[(*n_out)++] = (md_dense_hit){case_id, 1.0 - (double)hits[i].distance};
    }
    md_free(hits);
    return st;
}

md_status analysis_dense_open(const char *data_dir, const md_snapshot_manifest *m, size_t depth, analysis_dense **out,
                              md_error *err) {
    *out = NULL;
    const md_snapshot_file *f = NULL;
    for (size_t i = 0; i < m->n_files && !f; i++)
        if (strcmp(m->files[i].kind, "hnsw") == 0) f = &m->files[i];
    if (!f || m->embed_dim == 0) return MD_OK;
    if (access(m->embed_model_path, R_OK) != 0) return MD_ERR_NOT_FOUND; /* BM25 only, with a note */
    analysis_dense *d = md_calloc(1, sizeof *d);
    if (!d) return md_error_set(err, MD_ERR_NOMEM, "out of memory");
    if (pthread_mutex_init(&d->embed_lock, NULL) != 0) {
        md_free(d);
        return md_error_set(err, MD_ERR_INTERNAL, "analysis: cannot create a lock");
    }
    char path[4096];
    md_status st = md_bert_load(m->embed_model_path, md_bert_model_default_params(), &d->model, err);
    if (st == MD_OK) {
        md_bert_ctx_params p = md_bert_ctx_default_params();
        if (md_bert_model_hparams(d->model)->pooling == MD_BERT_POOLING_NONE) p.pooling = MD_BERT_POOLING_MEAN;
        st = md_bert_ctx_new(d->model, p, &d->ctx, err);
    }
    if (st == MD_OK && (strcmp(md_bert_model_name(d->model), m->embed_model) != 0 ||
                        md_bert_ctx_n_embd(d->ctx) != m->embed_dim))
        st = md_error_set(err, MD_ERR_CONFLICT, "the index was built with embedding model '%s' (dim %u), not '%s'",
                          m->embed_model, m->embed_dim, md_bert_model_name(d->model));
    if (st == MD_OK && !md_snapshot_file_path(data_dir, m->version, f->name, path, sizeof path))
        st = md_error_set(err, MD_ERR_INVALID_ARG, "data directory path too long");
    if (st == MD_OK) st = md_vindex_load(path, &d->vx, err);
    if (st == MD_OK && md_vindex_get_params(d->vx).dim != m->embed_dim)
        st = md_error_set(err, MD_ERR_PARSE, "%s holds vectors of dim %u, the manifest says %u", f->name,
                          md_vindex_get_params(d->vx).dim, m->embed_dim);
    if (st != MD_OK) {
        analysis_dense_free(d);
        return st;
    }
    /* once, before any search: a per-query change would need exclusive access */
    size_t ef = depth * ANALYSIS_DENSE_OVERSAMPLE;
    md_vindex_set_ef_search(d->vx, ef > MD_HNSW_DEFAULT_EF_SEARCH ? (uint32_t)(ef > 4096 ? 4096 : ef)
                                                                  : MD_HNSW_DEFAULT_EF_SEARCH);
    d->bert = md_bert_embedder(d->ctx);
    d->embedder = (md_embedder){.dim = d->bert.dim, .ctx = d, .embed = locked_embed};
    d->ranker = (md_dense_ranker){.ctx = d, .search = ranker_search};
    *out = d;
    return MD_OK;
}

const md_embedder *analysis_dense_embedder(analysis_dense *d) { return d ? &d->embedder : NULL; }
const md_dense_ranker *analysis_dense_ranker(analysis_dense *d) { return d ? &d->ranker : NULL; }

void analysis_dense_free(analysis_dense *d) {
    if (!d) return;
    md_vindex_free(d->vx);
    md_bert_ctx_free(d->ctx);
    md_bert_free(d->model);
    pthread_mutex_destroy(&d->embed_lock);
    md_free(d);
}

#else /* built without the inference engine: no encoder, BM25 only */

md_status analysis_dense_open(const char *data_dir, const md_snapshot_manifest *m, size_t depth, analysis_dense **out,
                              md_error *err) {
    (void)data_dir, (void)depth, (void)err;
    *out = NULL;
    return m->embed_dim > 0 ? MD_ERR_UNSUPPORTED : MD_OK;
}
const md_embedder *analysis_dense_embedder(analysis_dense *d) {
    (void)d;
    return NULL;
}
const md_dense_ranker *analysis_dense_ranker(analysis_dense *d) {
    (void)d;
    return NULL;
}
void analysis_dense_free(analysis_dense *d) { (void)d; }

#endif
