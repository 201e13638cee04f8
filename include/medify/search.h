/* medify search: lexical retrieval over historical cases, fusion with dense
 * retrieval, index snapshots and retrieval evaluation.
 *
 *   tokenize   medical-aware tokens: folded to lower-case ASCII; hyphenated terms kept
 *              whole and split ("non-blanching" → non-blanching, non, blanching);
 *              numbers with units kept together ("38.5c", "10mg", "3 days" → 3_day);
 *              abbreviations expanded (sob → shortness breath); British spellings
 *              folded to one form (haem → hem); stop words dropped; Harman's
 *              S-stemmer (Harman 1991, JASIS 42(1)).
 *   bm25       an own inverted index (postings of (doc, tf) per term, in doc order),
 *              Okapi BM25 with k1 = 1.2, b = 0.75 (Robertson & Zaragoza 2009, "The
 *              Probabilistic Relevance Framework: BM25 and Beyond", eq. 3.15) and the
 *              non-negative idf log(1 + (N - df + 0.5) / (df + 0.5)) (Lucene's form,
 *              which never lets a common term subtract from a score). Top-k through a
 *              bounded min-heap. Each document carries its demographics (age, sex) and
 *              external id so filters and evaluation need nothing else. Persisted to
 *              one checksummed file whose every count is validated on load.
 *   embedder   the interface the inference engine plugs into: texts → dim floats each.
 *   hybrid     reciprocal-rank fusion (Cormack, Clarke & Büttcher 2009, SIGIR:
 *              score(d) = Σ_r 1 / (k + rank_r(d)), k = 60) of the BM25 ranking and a
 *              dense ranking; demographic filters applied inside each ranker (so a
 *              filtered search still fills k); a minimum fused score that is really
 *              applied; every hit reports each ranker's own score and rank.
 *   snapshot   DATA_DIR/index/<version>/ holding the index files and manifest.json
 *              (files with byte counts and FNV-1a 64 checksums, item counts, the
 *              dataset version, creation time). A version directory is written under a
 *              temporary name and renamed into place, so it is complete or absent, and
 *              is never modified afterwards; DATA_DIR/index/current names the live
 *              version and is replaced atomically (write + fsync + rename).
 *   eval       MRR, P@10, nDCG@10 and Recall@1000 exactly as trec_eval 9.x computes
 *              recip_rank, P_10, ndcg_cut_10 and recall_1000.
 *
 * Ownership: an md_bm25 is built by one thread; once md_bm25_finish (or load) has run
 * it is read-only and may be searched by many threads at once.
 */
#ifndef MEDIFY_SEARCH_H
#define MEDIFY_SEARCH_H

#include "medify/base.h"
#include "medify/clinical.h"

#ifdef __cplusplus
extern "C" {
#endif

/* -------------------------------------------------------------- tokenize ---- */

#define MD_SEARCH_MAX_TOKEN_BYTES 64 /* longer words are dropped: no medical term is that long */

/* Called once per token; tok is NUL-terminated and valid during the call only. */
typedef md_status (*md_token_fn)(const char *tok, size_t n_bytes, void *ctx);

/* Tokenises UTF-8 text (invalid bytes are word breaks). Stops at and returns the
 * first non-OK status of fn. */
md_status md_search_tokenize(const char *text, size_t n_bytes, md_token_fn fn, void *ctx);

/* Convenience: the tokens as strings in arena `a`. */
md_status md_search_tokenize_arena(const char *text, size_t n_bytes, md_arena *a, char ***tokens,
                                   size_t *n_tokens);

/* ------------------------------------------------------------------- bm25 ---- */

#define MD_BM25_DEFAULT_K1 1.2 /* Robertson & Zaragoza 2009, sec. 3.4.2 */
#define MD_BM25_DEFAULT_B 0.75 /* ibid. */
#define MD_BM25_MAX_FILE_BYTES ((size_t)8 << 30)

typedef struct md_bm25_params {
    double k1;
    double b;
} md_bm25_params;

md_bm25_params md_bm25_default_params(void);

/* What each indexed document carries besides its text. */
typedef struct md_search_doc {
    uint64_t id;             /* the case id; unique within an index */
    const char *external_id; /* patient_uid; may be NULL (stored as "") */
    double age_years;        /* < 0 unknown */
    md_sex sex;
} md_search_doc;

/* Demographic filter: sex UNKNOWN means any; an age bound < 0 means none. A document
 * whose age is unknown fails any age bound; whose sex is unknown fails a sex filter. */
typedef struct md_search_filter {
    md_sex sex;
    double age_min_years;
    double age_max_years;
} md_search_filter;

md_search_filter md_search_filter_none(void);
bool md_search_filter_match(const md_search_filter *f, double age_years, md_sex sex);

typedef struct md_bm25_hit {
    uint64_t id;
    double score;
} md_bm25_hit;

typedef struct md_bm25 md_bm25;

/* Returns a new empty index; free with md_bm25_free. */
md_status md_bm25_new(md_bm25_params params, md_bm25 **out, md_error *err);
void md_bm25_free(md_bm25 *ix);
/* Tokenises and adds one document. MD_ERR_CONFLICT for a duplicate id (checked at
 * finish), MD_ERR_INVALID_ARG after finish. */
md_status md_bm25_add(md_bm25 *ix, const md_search_doc *doc, const char *text, size_t n_bytes, md_error *err);
/* Freezes the index: computes the average length and the id lookup. Searching an
 * unfinished index fails with MD_ERR_INVALID_ARG. */
md_status md_bm25_finish(md_bm25 *ix, md_error *err);

/* The k best documents for the query that pass the filter (may be NULL), by score
 * descending, ties by id ascending. *n_out <= k. Documents sharing no term with the
 * query are never returned. */
md_status md_bm25_search(const md_bm25 *ix, const char *query, size_t n_bytes, size_t k,
                         const md_search_filter *filter, md_bm25_hit *out, size_t *n_out, md_error *err);
/* BM25 score of one document for the query (0 when it shares no term);
 * MD_ERR_NOT_FOUND for an unknown id. */
md_status md_bm25_score(const md_bm25 *ix, const char *query, size_t n_bytes, uint64_t id, double *score,
                        md_error *err);

size_t md_bm25_n_docs(const md_bm25 *ix);
size_t md_bm25_n_terms(const md_bm25 *ix);
uint64_t md_bm25_n_postings(const md_bm25 *ix);
double md_bm25_avg_doc_len(const md_bm25 *ix);
/* Document frequency of an already-tokenised term (0 if absent). */
uint32_t md_bm25_doc_freq(const md_bm25 *ix, const char *term);
/* Stored metadata of a document; the external id lives as long as the index.
 * Returns false for an unknown id. */
bool md_bm25_doc(const md_bm25 *ix, uint64_t id, md_search_doc *out);

/* File: "MDBM25\0\1", version, params, counts, documents, terms with postings, and an
 * FNV-1a 64 checksum of everything before it. Save writes a temporary file, fsyncs
 * and renames. Load checks the checksum, then every count and offset against the
 * bytes left, every doc index, posting order, term uniqueness, and that each
 * document's term frequencies add up to its length: MD_ERR_PARSE on any mismatch. */
md_status md_bm25_save(const md_bm25 *ix, const char *path, md_error *err);
md_status md_bm25_load(const char *path, md_bm25 **out, md_error *err);
/* The same validation over bytes in memory (used by load and by the corrupt tests). */
md_status md_bm25_load_bytes(const void *bytes, size_t n_bytes, md_bm25 **out, md_error *err);

/* --------------------------------------------------------------- embedder ---- */

/* Embeds n texts into out (n * dim floats, row-major). The inference engine provides
 * one; until then none exists and hybrid search runs on BM25 alone. */
typedef struct md_embedder {
    uint32_t dim;
    void *ctx;
    md_status (*embed)(void *ctx, const char *const *texts, size_t n, float *out, md_error *err);
} md_embedder;

/* A dense ranker: k nearest ids to a query vector passing a filter, by similarity
 * descending (larger is nearer). Wraps an md_vindex (vector.h) or a test double, so
 * this module does not depend on a particular index. */
typedef bool (*md_search_id_filter)(uint64_t id, void *ctx);
typedef struct md_dense_hit {
    uint64_t id;
    double similarity;
} md_dense_hit;
typedef struct md_dense_ranker {
    void *ctx;
    md_status (*search)(void *ctx, const float *query, size_t k, md_search_id_filter filter, void *filter_ctx,
                        md_dense_hit *out, size_t *n_out, md_error *err);
} md_dense_ranker;

/* ----------------------------------------------------------------- hybrid ---- */

#define MD_RRF_DEFAULT_K 60.0 /* Cormack, Clarke & Büttcher 2009, sec. 2 */
#define MD_HYBRID_DEFAULT_DEPTH 100 /* candidates taken from each ranker */

typedef struct md_hybrid_params {
    size_t k;                 /* results wanted (default 10) */
    size_t depth;             /* candidates per ranker, >= k (default 100) */
    double rrf_k;             /* default 60 */
    double min_score;         /* fused score below this is dropped (default 0: none) */
    md_search_filter filter;  /* default: none */
} md_hybrid_params;

md_hybrid_params md_hybrid_default_params(void);

typedef struct md_hybrid_hit {
    uint64_t id;
    double score;       /* fused RRF score */
    bool has_bm25;
    double bm25;        /* BM25 score when has_bm25 */
    uint32_t bm25_rank; /* 1-based, 0 when absent */
    bool has_dense;
    double dense;       /* similarity when has_dense */
    uint32_t dense_rank;
} md_hybrid_hit;

/* One ranked list for fusion: ids best first with the ranker's own scores. */
typedef struct md_rank_list {
    const uint64_t *ids;
    const double *scores;
    size_t n;
} md_rank_list;

/* Reciprocal-rank fusion of a BM25 list and a dense list (either may be empty):
 * score = Σ 1 / (rrf_k + rank). Keeps hits with score >= min_score, sorts by score
 * descending (ties: better best rank, then id ascending) and returns at most k in out
 * (capacity k). */
md_status md_rrf_fuse(const md_rank_list *bm25, const md_rank_list *dense, double rrf_k, double min_score,
                      size_t k, md_hybrid_hit *out, size_t *n_out, md_error *err);

/* Hybrid search: BM25 over `bm25` (required) and, when both embedder and dense are
 * non-NULL, the dense ranker over the embedded query; the filter is applied within each
 * ranker. out has capacity params.k. */
md_status md_hybrid_search(const md_bm25 *bm25, const md_embedder *embedder, const md_dense_ranker *dense,
                           const char *query, size_t n_bytes, md_hybrid_params params, md_hybrid_hit *out,
                           size_t *n_out, md_error *err);

/* --------------------------------------------------------------- snapshot ---- */

#define MD_SNAPSHOT_MAX_FILES 16
#define MD_SNAPSHOT_MANIFEST "manifest.json"
#define MD_SNAPSHOT_BM25_FILE "bm25.bin"
#define MD_SNAPSHOT_HNSW_FILE "hnsw.bin" /* dense vectors of the case chunks (vector.h) */

typedef struct md_snapshot_file {
    char name[64];      /* a plain file name inside the version directory */
    uint64_t n_bytes;
    char checksum[17];  /* FNV-1a 64, 16 lower-case hex digits */
    char kind[32];      /* "bm25", "hnsw", ... */
    uint64_t n_items;   /* documents or vectors in the file */
} md_snapshot_file;

typedef struct md_snapshot_manifest {
    char version[64];
    char dataset_version[128];
    char created_at[32];  /* ISO 8601 UTC */
    uint64_t n_cases;
    md_snapshot_file files[MD_SNAPSHOT_MAX_FILES];
    size_t n_files;
    /* The encoder whose vectors the "hnsw" file holds (manifest key "embedding");
     * embed_dim 0 and empty strings when the snapshot has no dense vectors. */
    char embed_model[128];       /* the model's general.name, else its file name */
    char embed_model_path[1024]; /* the file it was loaded from at build time */
    uint32_t embed_dim;
} md_snapshot_manifest;

typedef struct md_snapshot_writer md_snapshot_writer;

/* Starts a new version under DATA_DIR/index/ (created when needed). version NULL or
 * "" → a UTC timestamp ("20261128T175732Z" with a suffix when taken). MD_ERR_CONFLICT
 * when the version exists: snapshots are immutable. Files are written into a staging
 * directory named by md_snapshot_writer_path. Free with md_snapshot_writer_free (which
 * removes an uncommitted staging directory). */
md_status md_snapshot_writer_new(const char *data_dir, const char *version, md_snapshot_writer **out,
                                 md_error *err);
/* Path of `name` inside the staging directory, valid until the writer is freed. */
const char *md_snapshot_writer_path(md_snapshot_writer *w, const char *name);
/* Records a file written to md_snapshot_writer_path(w, name). */
md_status md_snapshot_writer_add(md_snapshot_writer *w, const char *name, const char *kind, uint64_t n_items,
                                 md_error *err);
/* Records the encoder of the snapshot's dense vectors (model name, its file, dim > 0);
 * MD_ERR_INVALID_ARG when a string does not fit the manifest fields. */
md_status md_snapshot_writer_set_embedding(md_snapshot_writer *w, const char *model, const char *model_path,
                                           uint32_t dim, md_error *err);
/* Checksums the files, writes manifest.json, makes files read-only, renames the staging
 * directory to DATA_DIR/index/<version> and points `current` at it. */
md_status md_snapshot_writer_commit(md_snapshot_writer *w, const char *dataset_version, uint64_t n_cases,
                                    md_snapshot_manifest *out, md_error *err);
void md_snapshot_writer_free(md_snapshot_writer *w);

/* The version `current` points at; MD_ERR_NOT_FOUND when there is none. */
md_status md_snapshot_current(const char *data_dir, char version[64], md_error *err);
/* Reads and validates DATA_DIR/index/<version>/manifest.json (version NULL = current). */
md_status md_snapshot_manifest_read(const char *data_dir, const char *version, md_snapshot_manifest *out,
                                    md_error *err);
/* Path of a file in a version directory into buf; false when it does not fit. */
bool md_snapshot_file_path(const char *data_dir, const char *version, const char *name, char *buf,
                           size_t n_buf_bytes);
/* Re-checks sizes and checksums of every file in the manifest (version NULL = current).
 * MD_ERR_PARSE naming the first file that differs. */
md_status md_snapshot_verify(const char *data_dir, const char *version, md_snapshot_manifest *out,
                             md_error *err);
/* Manifest as JSON (the file's content). */
md_status md_snapshot_manifest_to_json(const md_snapshot_manifest *m, md_buf *out);
/* FNV-1a 64 of a file, as 16 hex digits. */
md_status md_snapshot_file_checksum(const char *path, char hex[17], uint64_t *n_bytes, md_error *err);

/* ------------------------------------------------------------------- eval ---- */

#define MD_EVAL_MAX_RESULTS 1000 /* trec_eval -M default */

/* One judgement: query-id 0 doc-id relevance. */
typedef struct md_eval_qrel {
    const char *query_id;
    const char *doc_id;
    int relevance;
} md_eval_qrel;

/* One retrieved document. Ranks are recomputed as trec_eval does: by score
 * descending, ties by doc id descending (strcmp). */
typedef struct md_eval_result {
    const char *query_id;
    const char *doc_id;
    double score;
} md_eval_result;

typedef struct md_eval_metrics {
    double mrr;          /* recip_rank */
    double p_10;         /* P_10 */
    double ndcg_10;      /* ndcg_cut_10: gain = relevance, discount log2(rank + 1) */
    double recall_1000;  /* recall_1000 */
    size_t n_queries;    /* queries both judged and retrieved for (what is averaged) */
} md_eval_metrics;

/* Metrics averaged over the queries present in both qrels and results (trec_eval's
 * default, without -c). A document counts as relevant when relevance >= 1. */
md_status md_eval_compute(const md_eval_qrel *qrels, size_t n_qrels, const md_eval_result *results,
                          size_t n_results, md_eval_metrics *out, md_error *err);

/* Parses TREC qrels text (whitespace-separated "qid iter docid rel" lines) in place;
 * strings point into text. Array in arena a. MD_ERR_PARSE with the line number. */
md_status md_eval_parse_qrels(char *text, md_arena *a, md_eval_qrel **out, size_t *n_out, md_error *err);

/* A query to run. */
typedef struct md_eval_query {
    const char *id;
    const char *text;
} md_eval_query;

/* Parses queries in place: TSV "qid<TAB>text" lines, or JSON Lines / a JSON array of
 * objects with "_id" or "query_id"/"id" and "text"/"patient"/"query" (the forms the
 * PMC-Patients ReCDS benchmark ships). Strings live in text or in arena a. */
md_status md_eval_parse_queries(char *text, md_arena *a, md_eval_query **out, size_t *n_out, md_error *err);

#ifdef __cplusplus
}
#endif

#endif /* MEDIFY_SEARCH_H */
