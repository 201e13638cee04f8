/* Dense retrieval for the CLI: the chunks of every case embedded by a BERT-family
 * encoder (bert.h) into an HNSW index (vector.h), and a dense ranker over that index
 * for hybrid search (search.h).
 *
 * A case's text is cut where the store cuts it into chunks (at sentence ends, about
 * 1000 bytes each; see store_ops.h), each chunk becomes one vector, and the vector id
 * is case_id << CLI_DENSE_CHUNK_BITS | chunk index. The ranker searches chunk vectors
 * and keeps each case's best chunk (max-sim), so a case is found by its most similar
 * passage and ranked once. Similarity is the cosine (vectors are L2-normalised).
 */
#ifndef MEDIFY_CLI_DENSE_H
#define MEDIFY_CLI_DENSE_H

#include "medify/search.h"

#define CLI_DENSE_CHUNK_BITS 16 /* case ids below 2^47 leave room for 2^16 chunks */
#define CLI_DENSE_MAX_CHUNKS 64 /* per case: the first ~64 KB of a text are embedded */
/* Chunk vectors fetched per wanted case, so that several chunks of one case still
 * leave enough distinct cases. */
#define CLI_DENSE_OVERSAMPLE 4

typedef struct cli_dense_builder cli_dense_builder;

/* Loads the encoder at model_path and starts an empty cosine HNSW index of its width.
 * Free with cli_dense_builder_free. */
md_status cli_dense_builder_new(const char *model_path, cli_dense_builder **out, md_error *err);
/* Embeds the chunks of one case's text (whitespace-only text adds nothing). */
md_status cli_dense_builder_add_case(cli_dense_builder *b, uint64_t case_id, const char *text, md_error *err);
/* Saves the index to path and records it and the model in the snapshot writer. */
md_status cli_dense_builder_commit(cli_dense_builder *b, md_snapshot_writer *w, md_error *err);
uint64_t cli_dense_builder_n_vectors(const cli_dense_builder *b);
const char *cli_dense_builder_model_name(const cli_dense_builder *b);
uint32_t cli_dense_builder_dim(const cli_dense_builder *b);
void cli_dense_builder_free(cli_dense_builder *b);

typedef struct cli_dense_search cli_dense_search;

/* Opens the dense side of snapshot m: its "hnsw" file and the encoder model_path, or
 * when model_path is NULL the model recorded in the manifest if that file exists.
 * *out stays NULL (and the result is MD_OK) when there is nothing to use: the snapshot
 * has no vectors and no model was asked for, or the recorded model file is gone.
 * Errors: MD_ERR_NOT_FOUND when a model was given but the snapshot has no vectors;
 * MD_ERR_CONFLICT when the model's name or width differs from the index's; those of
 * loading the model and the index. Free with cli_dense_search_free. */
md_status cli_dense_search_open(const char *data_dir, const md_snapshot_manifest *m, const char *model_path,
                                cli_dense_search **out, md_error *err);
const md_embedder *cli_dense_search_embedder(cli_dense_search *s);
const md_dense_ranker *cli_dense_search_ranker(cli_dense_search *s);
void cli_dense_search_free(cli_dense_search *s);

#endif
