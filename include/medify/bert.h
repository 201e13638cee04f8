/* medify bert: the BERT-family encoder and sentence embeddings (engine module).
 *
 * Loads a GGUF encoder whose `general.architecture` is "bert", as llama.cpp's
 * convert_hf_to_gguf.py writes BertModel checkpoints (all-MiniLM-L6-v2, bge-small/base,
 * BiomedBERT-based sentence encoders), and runs it on the CPU:
 *
 *   ids  = [CLS] WordPiece(text) [SEP]                       (tokenizer.h)
 *   x    = LayerNorm(token_embd[id] + token_types[0] + position_embd[pos])
 *   per layer l (post-norm, Devlin et al. 2019, sec. 3; Vaswani et al. 2017):
 *     q, k, v = Wq x + bq, Wk x + bk, Wv x + bv
 *     a  = softmax(q·kᵀ / √head_dim) · v   per head, over every real token of the
 *                                          sentence (bidirectional; padding masked)
 *     x  = LayerNorm(x + Wo a + bo)                          (attn_output_norm)
 *     x  = LayerNorm(x + Wdown GELU(Wup x + bup) + bdown)    (layer_output_norm)
 *   pooled = mean of the rows (MEAN), row 0 ([CLS], CLS) or the last row (LAST),
 *            then optionally divided by its L2 norm.
 *
 * docs/bert.md has the tensor names and shapes, how each step rounds (GELU as
 * llama.cpp computes it, through a half-precision table) and the tolerances against
 * llama.cpp. Weights stay in the file mapping in their own type; matrix products go
 * through md_vec_dot with the activations quantised to the weight type's vec_dot_type,
 * as ggml-cpu does, unless the context asks for the f32 reference path.
 *
 * Ownership and threads: a model is immutable after loading and may be shared by any
 * number of contexts; a context is used by one thread at a time (its own worker
 * threads, n_threads > 1, run only inside its calls). Every buffer a
 * context needs is allocated by md_bert_ctx_new, so embedding allocates nothing in the
 * forward pass (tokenizing a text may allocate inside the tokenizer).
 */
#ifndef MEDIFY_BERT_H
#define MEDIFY_BERT_H

#include "medify/base.h"
#include "medify/gguf.h"
#include "medify/search.h"    /* md_embedder */
#include "medify/tokenizer.h" /* md_tokenizer */

#ifdef __cplusplus
extern "C" {
#endif

/* Limits on hyperparameters read from a file (beyond them: MD_ERR_PARSE). Real BERT
 * encoders stay far below (bge-large: n_embd 1024, 24 layers, 16 heads, n_ff 4096,
 * 512 positions, 30522 tokens); the limits bound the arithmetic on hostile values. */
#define MD_BERT_MAX_LAYERS      256u
#define MD_BERT_MAX_HEADS       256u
#define MD_BERT_MAX_EMBD        (1u << 16)
#define MD_BERT_MAX_FF          (1u << 18)
#define MD_BERT_MAX_VOCAB       (1u << 22)
#define MD_BERT_MAX_CTX         (1u << 16)
#define MD_BERT_MAX_TOKEN_TYPES 16u
/* Defaults. 512 positions is BERT's own table size (Devlin et al. 2019, sec. A.2);
 * 2048 token rows per forward pass keeps a MiniLM context near 20 MB. */
#define MD_BERT_DEFAULT_N_CTX   512u
#define MD_BERT_DEFAULT_N_BATCH 2048u
#define MD_BERT_DEFAULT_NORM_EPS 1e-12f /* BERT's layer_norm_eps (HF BertConfig) */

/* Pooling, numbered as llama.cpp's llama_pooling_type and the GGUF key
 * `bert.pooling_type`. */
typedef enum md_bert_pooling {
    MD_BERT_POOLING_MODEL = -1, /* context parameter: use the model's */
    MD_BERT_POOLING_NONE = 0,   /* one vector per token */
    MD_BERT_POOLING_MEAN = 1,   /* average over all tokens, [CLS] and [SEP] included */
    MD_BERT_POOLING_CLS = 2,    /* the [CLS] row */
    MD_BERT_POOLING_LAST = 3,   /* the last row ([SEP]) */
} md_bert_pooling;

/* Hyperparameters as read from the file. */
typedef struct md_bert_hparams {
    uint32_t n_vocab;
    uint32_t n_ctx_train;   /* bert.context_length: rows of position_embd */
    uint32_t n_embd;        /* bert.embedding_length */
    uint32_t n_layer;       /* bert.block_count */
    uint32_t n_ff;          /* bert.feed_forward_length */
    uint32_t n_head;        /* bert.attention.head_count */
    uint32_t head_dim;      /* n_embd / n_head */
    uint32_t n_token_types; /* rows of token_types (0 when the tensor is absent) */
    float norm_eps;         /* bert.attention.layer_norm_epsilon (default 1e-12) */
    md_bert_pooling pooling; /* bert.pooling_type (default MEAN) */
} md_bert_hparams;

typedef struct md_bert_model_params {
    /* Refuse a file whose norms, biases or position/type tables hold NaN or Inf (they
     * are read into memory at load; the big matrices are not scanned). */
    bool check_finite;
} md_bert_model_params;

md_bert_model_params md_bert_model_default_params(void);

typedef struct md_bert_model md_bert_model;

/* Opens and maps a GGUF file and loads the encoder and its tokenizer. Errors: those of
 * md_gguf_open and md_tokenizer_load; MD_ERR_UNSUPPORTED for another architecture, a
 * causal "bert", RANK pooling or a tensor type medify cannot multiply; MD_ERR_PARSE for
 * a missing or inconsistent hyperparameter, a missing tensor or one of the wrong shape
 * (the message names the tensor, the expected and the found shape); MD_ERR_NOMEM.
 * Free with md_bert_free. */
md_status md_bert_load(const char *path, md_bert_model_params params, md_bert_model **out, md_error *err);
/* The same over a file already open; g is borrowed and must outlive the model. */
md_status md_bert_load_gguf(const md_gguf *g, md_bert_model_params params, md_bert_model **out, md_error *err);
void md_bert_free(md_bert_model *model);

const md_bert_hparams *md_bert_model_hparams(const md_bert_model *model);
const md_gguf *md_bert_model_gguf(const md_bert_model *model);
const md_tokenizer *md_bert_model_tokenizer(const md_bert_model *model);
/* general.name when the file has one, else the file's base name ("" for a model
 * loaded from memory); valid while the model lives. */
const char *md_bert_model_name(const md_bert_model *model);

/* ---- contexts ------------------------------------------------------------------------- */

typedef enum md_bert_matmul {
    /* Weights in their own type, activations quantised to the weight type's
     * vec_dot_type (ggml-cpu's rounding), GELU through ggml's fp16 table (default). */
    MD_BERT_MATMUL_GGML = 0,
    /* Reference: weight rows dequantised to f32, activations never rounded, dots in
     * double, GELU (tanh form) in float32 without the table. */
    MD_BERT_MATMUL_F32 = 1,
} md_bert_matmul;

typedef struct md_bert_ctx_params {
    uint32_t n_ctx;          /* most tokens of one sentence; 0 = min(512, n_ctx_train) */
    uint32_t n_batch;        /* token rows of one forward pass (sentences padded to the
                                longest of their batch); 0 = 2048; raised to n_ctx */
    md_bert_pooling pooling; /* MD_BERT_POOLING_MODEL: the model's */
    bool normalize;          /* divide each output vector by its L2 norm */
    md_bert_matmul matmul;
    int n_threads;           /* threads of the GGML matrix products, the caller's included;
                                0 = every CPU (md_pool_n_cpus); 1 = the caller alone */
} md_bert_ctx_params;

/* n_ctx 0, n_batch 0, the model's pooling, normalised, GGML matmul, 1 thread. */
md_bert_ctx_params md_bert_ctx_default_params(void);

typedef struct md_bert_ctx md_bert_ctx;

/* A new context over `model` (which must outlive it); all scratch is allocated here.
 * Errors: MD_ERR_INVALID_ARG (n_ctx above the model's n_ctx_train, unknown pooling or
 * matmul, n_threads outside 0..MD_POOL_MAX_THREADS), MD_ERR_TOO_LARGE (sizes overflow), MD_ERR_NOMEM. Free with md_bert_ctx_free. */
md_status md_bert_ctx_new(const md_bert_model *model, md_bert_ctx_params params, md_bert_ctx **out, md_error *err);
void md_bert_ctx_free(md_bert_ctx *ctx);

uint32_t md_bert_ctx_n_ctx(const md_bert_ctx *ctx);
md_bert_pooling md_bert_ctx_pooling(const md_bert_ctx *ctx); /* resolved, never MODEL */
uint32_t md_bert_ctx_n_embd(const md_bert_ctx *ctx);         /* floats per output row */

/* Encodes n_seq token sequences (seqs[i] holds n_tokens[i] ids, normally [CLS] ...
 * [SEP]); sequences are batched together up to n_batch rows. out receives n_seq rows
 * of n_embd floats, or with pooling NONE Σ n_tokens[i] rows (sequence after sequence).
 * Errors (checked before anything runs): MD_ERR_INVALID_ARG for an empty sequence, a
 * token id outside the vocabulary or NULL pointers; MD_ERR_LIMIT for a sequence longer
 * than n_ctx. MD_ERR_UNSUPPORTED if a kernel refuses a type (a bug). */
md_status md_bert_encode(md_bert_ctx *ctx, const int32_t *const *seqs, const size_t *n_tokens, size_t n_seq,
                         float *out, md_error *err);

/* Tokenizes each text with [CLS] ... [SEP] (control-token text is plain text) and
 * encodes it; pooling must not be NONE. A text longer than n_ctx tokens is cut to its
 * first n_ctx − 1 tokens followed by [SEP] (as sentence-transformers truncates to
 * max_seq_length). out receives n rows of n_embd floats. Texts are processed in groups
 * that fit the context's buffers, so n is unbounded. */
md_status md_bert_embed_texts(md_bert_ctx *ctx, const char *const *texts, size_t n, float *out, md_error *err);

/* An md_embedder (search.h) over ctx, for hybrid search: dim = n_embd, embed =
 * md_bert_embed_texts. ctx must outlive every use and is used by one thread at a time. */
md_embedder md_bert_embedder(md_bert_ctx *ctx);

#ifdef __cplusplus
}
#endif

#endif /* MEDIFY_BERT_H */
