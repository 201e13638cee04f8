/* cli_dense.c: case chunks → BERT embeddings → HNSW, and the dense ranker over it
 * (see cli_dense.h). */
#ifndef MEDIFY_NO_ENGINE /* without the engine (MEDIFY_ENGINE=OFF) there is no encoder */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli_dense.h"
#include "medify/bert.h"
#include "medify/vector.h"
#include "store/store_ops.h" /* md_store_chunk_len: the store's own chunk boundaries */

/* ---- building ------------------------------------------------------------------------------ */

struct cli_dense_builder {
    md_bert_model *model;
    md_bert_ctx *ctx;
    md_vindex *vx;
    char model_path[PATH_MAX];
    uint32_t dim;
    char *chunk_bytes;  /* (CLI_DENSE_MAX_CHUNKS, MD_STORE_CHUNK_MAX_BYTES + 1) NUL-terminated texts */
    const char *chunks[CLI_DENSE_MAX_CHUNKS];
    float *vecs;        /* (CLI_DENSE_MAX_CHUNKS, dim) */
    uint64_t n_vectors;
};

md_status cli_dense_builder_new(const char *model_path, cli_dense_builder **out, md_error *err) {
    *out = NULL;
    cli_dense_builder *b = md_calloc(1, sizeof *b);
    if (!b) return md_error_set(err, MD_ERR_NOMEM, "out of memory");
    /* the manifest records an absolute path, so a later search finds the model from
     * any working directory */
    if (!realpath(model_path, b->model_path)) snprintf(b->model_path, sizeof b->model_path, "%s", model_path);
    md_status st = md_bert_load(model_path, md_bert_model_default_params(), &b->model, err);
    if (st == MD_OK) {
        md_bert_ctx_params p = md_bert_ctx_default_params();
        p.normalize = true;
        p.n_threads = 0; /* building embeds every case: use every CPU */
        if (md_bert_model_hparams(b->model)->pooling == MD_BERT_POOLING_NONE) p.pooling = MD_BERT_POOLING_MEAN;
        st = md_bert_ctx_new(b->model, p, &b->ctx, err);
    }
    if (st == MD_OK) {
        b->dim = md_bert_ctx_n_embd(b->ctx);
        st = md_vindex_new(md_vindex_default_params(b->dim), &b->vx, err);
    }
    if (st == MD_OK) {
        b->chunk_bytes = md_malloc((size_t)CLI_DENSE_MAX_CHUNKS * (MD_STORE_CHUNK_MAX_BYTES + 1));
        b->vecs = md_calloc((size_t)CLI_DENSE_MAX_CHUNKS * b->dim, sizeof(float));
        if (!b->chunk_bytes || !b->vecs) st = md_error_set(err, MD_ERR_NOMEM, "out of memory");
    }
    if (st != MD_OK) {
        cli_dense_builder_free(b);
        return st;
    }
    *out = b;
    return MD_OK;
}

static bool is_space(char c) { return c == ' ' || c == '\n' || c == '\t' || c == '\r'; }

md_status cli_dense_builder_add_case(cli_dense_builder *b, uint64_t case_id, const char *text, md_error *err) {
    if (case_id >> (64 - CLI_DENSE_CHUNK_BITS))
        return md_error_set(err, MD_ERR_LIMIT, "case id %llu is too large for the dense index",
                            (unsigned long long)case_id);
    const size_t n = text ? strlen(text) : 0;
    size_t pos = 0, n_chunks = 0;
    while (pos < n && n_chunks < CLI_DENSE_MAX_CHUNKS) {
        size_t len = md_store_chunk_len(text + pos, n - pos), trimmed = len;
        if (len == 0) break;
        while (trimmed > 0 && is_space(text[pos + trimmed - 1]))
            trimmed--;
        size_t lead = 0;
        while (lead < trimmed && is_space(text[pos + lead]))
            lead++;
        if (trimmed > lead) {
            /* md_store_chunk_len never exceeds MD_STORE_CHUNK_MAX_BYTES */
            size_t cl = trimmed - lead > MD_STORE_CHUNK_MAX_BYTES ? MD_STORE_CHUNK_MAX_BYTES : trimmed - lead;
            char *dst = b->chunk_bytes + n_chunks * (MD_STORE_CHUNK_MAX_BYTES + 1);
            memcpy(dst, text + pos + lead, cl);
            dst[cl] = '\0';
            b->chunks[n_chunks++] = dst;
        }
        pos += len;
    }
    if (n_chunks == 0) return MD_OK;
    md_status st = md_bert_embed_texts(b->ctx, b->chunks, n_chunks, b->vecs, err);
    for (size_t i = 0; st == MD_OK && i < n_chunks; i++) {
        st = md_vindex_add(b->vx, case_id << CLI_DENSE_CHUNK_BITS | i, b->vecs + i * b->dim, err);
        if (st == MD_OK) b->n_vectors++;
    }
    return st;
}

md_status cli_dense_builder_commit(cli_dense_builder *b, md_snapshot_writer *w, md_error *err) {
    const char *path = md_snapshot_writer_path(w, MD_SNAPSHOT_HNSW_FILE);
    if (!path) return md_error_set(err, MD_ERR_INVALID_ARG, "snapshot: no path for %s", MD_SNAPSHOT_HNSW_FILE);
    md_status st = md_vindex_save(b->vx, path, err);
    if (st == MD_OK) st = md_snapshot_writer_add(w, MD_SNAPSHOT_HNSW_FILE, "hnsw", b->n_vectors, err);
    if (st == MD_OK) st = md_snapshot_writer_set_embedding(w, md_bert_model_name(b->model), b->model_path, b->dim, err);
    return st;
}

uint64_t cli_dense_builder_n_vectors(const cli_dense_builder *b) { return b->n_vectors; }
const char *cli_dense_builder_model_name(const cli_dense_builder *b) { return md_bert_model_name(b->model); }
uint32_t cli_dense_builder_dim(const cli_dense_builder *b) { return b->dim; }

void cli_dense_builder_free(cli_dense_builder *b) {
    if (!b) return;
    md_free(b->chunk_bytes);
    md_free(b->vecs);
    md_vindex_free(b->vx);
    md_bert_ctx_free(b->ctx);
    md_bert_free(b->model);
    md_free(b);
}

/* ---- searching ----------------------------------------------------------------------------- */

struct cli_dense_search {
    md_bert_model *model;
    md_bert_ctx *ctx;
    md_vindex *vx;
    md_embedder embedder;
    md_dense_ranker ranker;
};

typedef struct chunk_filter {
    md_search_id_filter filter;
    void *ctx;
} chunk_filter;

static bool chunk_filter_fn(uint64_t vid, void *ctx) {
    const chunk_filter *f = ctx;
    return f->filter(vid >> CLI_DENSE_CHUNK_BITS, f->ctx);
}

/* The k best cases: chunk hits collapsed to each case's best chunk, in order. */
static md_status ranker_search(void *ctx, const float *query, size_t k, md_search_id_filter filter, void *filter_ctx,
                               md_dense_hit *out, size_t *n_out, md_error *err) {
    cli_dense_search *s = ctx;
    *n_out = 0;
    size_t k_vec = k * CLI_DENSE_OVERSAMPLE;
    if (k_vec < k) k_vec = k; /* overflow: the size check below bounds it anyway */
    if (k_vec > md_vindex_size(s->vx)) k_vec = md_vindex_size(s->vx);
    if (k_vec == 0) return MD_OK;
    md_vhit *hits = md_calloc(k_vec, sizeof *hits);
    if (!hits) return md_error_set(err, MD_ERR_NOMEM, "out of memory");
    md_vindex_set_ef_search(s->vx, k_vec > MD_HNSW_DEFAULT_EF_SEARCH ? (uint32_t)k_vec : MD_HNSW_DEFAULT_EF_SEARCH);
    chunk_filter cf = {filter, filter_ctx};
    size_t n_hits = 0;
    md_status st = md_vindex_search(s->vx, query, k_vec, filter ? chunk_filter_fn : NULL, &cf, hits, &n_hits, err);
    for (size_t i = 0; st == MD_OK && i < n_hits && *n_out < k; i++) {
        const uint64_t case_id = hits[i].id >> CLI_DENSE_CHUNK_BITS;
        bool seen = false;
        for (size_t j = 0; j < *n_out && !seen; j++)
            seen = out[j].id == case_id;
        if (!seen) out[(*n_out)++] = (md_dense_hit){case_id, 1.0 - (double)hits[i].distance};
    }
    md_free(hits);
    return st;
}

md_status cli_dense_search_open(const char *data_dir, const md_snapshot_manifest *m, const char *model_path,
                                cli_dense_search **out, md_error *err) {
    *out = NULL;
    const md_snapshot_file *f = NULL;
    for (size_t i = 0; i < m->n_files && !f; i++)
        if (strcmp(m->files[i].kind, "hnsw") == 0) f = &m->files[i];
    if (!f || m->embed_dim == 0) {
        if (model_path)
            return md_error_set(err, MD_ERR_NOT_FOUND,
                                "index snapshot %s has no dense vectors (rebuild it with 'medify index build "
                                "--embed-model')",
                                m->version);
        return MD_OK;
    }
    if (!model_path) {
        if (access(m->embed_model_path, R_OK) != 0) return MD_OK; /* the caller says BM25 only */
        model_path = m->embed_model_path;
    }
    cli_dense_search *s = md_calloc(1, sizeof *s);
    if (!s) return md_error_set(err, MD_ERR_NOMEM, "out of memory");
    char path[4096];
    md_status st = md_bert_load(model_path, md_bert_model_default_params(), &s->model, err);
    if (st == MD_OK) {
        md_bert_ctx_params p = md_bert_ctx_default_params();
        if (md_bert_model_hparams(s->model)->pooling == MD_BERT_POOLING_NONE) p.pooling = MD_BERT_POOLING_MEAN;
        st = md_bert_ctx_new(s->model, p, &s->ctx, err);
    }
    if (st == MD_OK && (strcmp(md_bert_model_name(s->model), m->embed_model) != 0 ||
                        md_bert_ctx_n_embd(s->ctx) != m->embed_dim))
        st = md_error_set(err, MD_ERR_CONFLICT,
                          "the index was built with embedding model '%s' (dim %u), not '%s' (dim %u)", m->embed_model,
                          m->embed_dim, md_bert_model_name(s->model), md_bert_ctx_n_embd(s->ctx));
    if (st == MD_OK && !md_snapshot_file_path(data_dir, m->version, f->name, path, sizeof path))
        st = md_error_set(err, MD_ERR_INVALID_ARG, "data directory path too long");
    if (st == MD_OK) st = md_vindex_load(path, &s->vx, err);
    if (st == MD_OK && md_vindex_get_params(s->vx).dim != m->embed_dim)
        st = md_error_set(err, MD_ERR_PARSE, "%s holds vectors of dim %u, the manifest says %u", f->name,
                          md_vindex_get_params(s->vx).dim, m->embed_dim);
    if (st != MD_OK) {
        cli_dense_search_free(s);
        return st;
    }
    s->embedder = md_bert_embedder(s->ctx);
    s->ranker = (md_dense_ranker){.ctx = s, .search = ranker_search};
    *out = s;
    return MD_OK;
}

const md_embedder *cli_dense_search_embedder(cli_dense_search *s) { return s ? &s->embedder : NULL; }
const md_dense_ranker *cli_dense_search_ranker(cli_dense_search *s) { return s ? &s->ranker : NULL; }

void cli_dense_search_free(cli_dense_search *s) {
    if (!s) return;
    md_vindex_free(s->vx);
    md_bert_ctx_free(s->ctx);
    md_bert_free(s->model);
    md_free(s);
}

#else
typedef int md_cli_dense_unavailable; /* ISO C forbids an empty translation unit */
#endif
