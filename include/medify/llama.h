/* medify llama: the Llama-family decoder (engine module).
 *
 * Loads a GGUF decoder whose `general.architecture` is "llama" (Llama 1/2/3/3.1/3.2,
 * OpenBioLLM-Llama3, Mistral-family files converted as "llama") and runs its forward
 * pass on the CPU:
 *
 *   x    = token_embd[id]                                   (n_embd)
 *   per layer l:
 *     h  = RMSNorm(x) · attn_norm
 *     q, k, v = Wq h, Wk h, Wv h; RoPE on q and k (pairs (2i, 2i+1) of each head)
 *     k, v appended to the KV cache at the token's position
 *     a  = softmax(q·Kᵀ / √head_dim, causal) · V      (query head h uses kv head
 *                                                       h·n_head_kv/n_head)
 *     x += Wo a
 *     h  = RMSNorm(x) · ffn_norm
 *     x += Wdown (silu(Wgate h) ⊙ Wup h)
 *   logits = Woutput (RMSNorm(x) · output_norm)        (Woutput = token_embd if tied)
 *
 * docs/llama.md has the details (tensor names and shapes, how each step rounds, the
 * tolerances against llama.cpp). Weights stay in the file mapping in their own type;
 * matrix products multiply them with the activations quantised to the weight type's
 * vec_dot_type, as ggml-cpu does (tensor.h), through SIMD kernels chosen for the CPU
 * (AVX2, AVX-512; MEDIFY_CPU=scalar|avx2|avx512 caps the choice) on a pool of
 * n_threads threads, unless the context asks for the f32 reference path.
 *
 * Ownership and threads: a model is immutable after loading and may be shared by any
 * number of contexts, also on different threads; a context (KV cache + scratch +
 * its worker threads) is used by one thread at a time. Every buffer and thread a
 * context needs is created by md_llama_ctx_new, so decoding allocates nothing.
 */
#ifndef MEDIFY_LLAMA_H
#define MEDIFY_LLAMA_H

#include "medify/base.h"
#include "medify/gguf.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Limits on hyperparameters read from a file (beyond them: MD_ERR_PARSE). They sit far
 * above real models (Llama 3 405B: n_embd 16384, 126 layers, 128 heads, n_ff 53248,
 * vocab 128256) and bound the arithmetic on hostile values. */
#define MD_LLAMA_MAX_LAYERS 1024u
#define MD_LLAMA_MAX_HEADS  1024u
#define MD_LLAMA_MAX_EMBD   (1u << 17)
#define MD_LLAMA_MAX_FF     (1u << 20)
#define MD_LLAMA_MAX_VOCAB  (1u << 22)
#define MD_LLAMA_MAX_CTX    (1u << 24)
/* Defaults (llama.cpp's, llama-hparams / llama-model.cpp). */
#define MD_LLAMA_DEFAULT_ROPE_FREQ_BASE 10000.0f /* RoFormer, Su et al. 2021, sec. 3.4.2 */
#define MD_LLAMA_DEFAULT_N_CTX          2048u
#define MD_LLAMA_DEFAULT_N_BATCH        512u

/* Hyperparameters as read from the file (names as llama.cpp's llama_hparams). */
typedef struct md_llama_hparams {
    uint32_t n_vocab;
    uint32_t n_ctx_train;  /* llama.context_length */
    uint32_t n_embd;       /* llama.embedding_length */
    uint32_t n_layer;      /* llama.block_count */
    uint32_t n_ff;         /* llama.feed_forward_length */
    uint32_t n_head;       /* llama.attention.head_count */
    uint32_t n_head_kv;    /* llama.attention.head_count_kv (default n_head) */
    uint32_t head_dim;     /* n_embd / n_head (= key_length = value_length = rope dims) */
    float rope_freq_base;  /* llama.rope.freq_base (default 10000) */
    float rope_freq_scale; /* 1 / llama.rope.scaling.factor for "linear" scaling, else 1 */
    float rms_eps;         /* llama.attention.layer_norm_rms_epsilon */
    bool has_rope_freqs;   /* rope_freqs.weight present (Llama 3.1/3.2 scaling) */
    bool tied_output;      /* no output.weight: logits use token_embd.weight */
} md_llama_hparams;

typedef struct md_llama_model_params {
    /* Refuse a file whose norm weights or rope_freqs contain NaN or Inf (they are
     * read into memory at load anyway; the big matrices are not scanned). */
    bool check_finite;
} md_llama_model_params;

md_llama_model_params md_llama_model_default_params(void);

typedef struct md_llama_model md_llama_model;

/* Opens and maps a GGUF file and loads the decoder from it. Errors: those of
 * md_gguf_open; MD_ERR_UNSUPPORTED for another architecture, a tensor type medify
 * cannot multiply, partial RoPE, MoE or an unknown RoPE scaling (the message names
 * the key or tensor); MD_ERR_PARSE for a missing or inconsistent hyperparameter, a
 * missing tensor or a tensor of the wrong shape (the message names the tensor, the
 * expected and the found shape); MD_ERR_NOMEM. Free with md_llama_free. */
md_status md_llama_load(const char *path, md_llama_model_params params, md_llama_model **out, md_error *err);
/* The same over a file already open; g is borrowed and must outlive the model. */
md_status md_llama_load_gguf(const md_gguf *g, md_llama_model_params params, md_llama_model **out, md_error *err);
void md_llama_free(md_llama_model *model);

const md_llama_hparams *md_llama_model_hparams(const md_llama_model *model);
/* The file the model reads its weights from (also for md_tokenizer_load). */
const md_gguf *md_llama_model_gguf(const md_llama_model *model);

/* ---- contexts ------------------------------------------------------------------------- */

typedef enum md_llama_kv_type {
    MD_LLAMA_KV_TYPE_F32 = 0, /* what the fixtures' llama.cpp references use */
    MD_LLAMA_KV_TYPE_F16 = 1, /* llama.cpp's default: half the memory, ~1e-3 rel. error */
} md_llama_kv_type;

typedef enum md_llama_matmul {
    /* Weights in their own type, activations quantised to the weight type's
     * vec_dot_type before each product (ggml-cpu's rounding; the default). */
    MD_LLAMA_MATMUL_GGML = 0,
    /* Reference: each weight row dequantised to f32, activations never rounded, dots
     * accumulated in double. Slower; matches the fixtures' *.logits.exact.f32. */
    MD_LLAMA_MATMUL_F32 = 1,
} md_llama_matmul;

typedef struct md_llama_ctx_params {
    uint32_t n_ctx;   /* positions in the KV cache; 0 = the model's n_ctx_train */
    uint32_t n_batch; /* most tokens one decode step processes; longer calls are
                         processed in chunks of n_batch (scratch grows with it) */
    md_llama_kv_type kv_type;
    md_llama_matmul matmul;
    bool logits_all; /* md_llama_decode writes the logits of every token of the
                        call (n × n_vocab); false: of the last token only */
    int n_threads;   /* threads decoding (the caller + n_threads − 1 workers the
                        context owns); 0 = every online CPU. Results do not depend
                        on it. */
} md_llama_ctx_params;

/* n_ctx 0 (the model's), n_batch 512, F32 KV cache, GGML matmul, last logits only,
 * n_threads 0 (all CPUs). */
md_llama_ctx_params md_llama_ctx_default_params(void);

typedef struct md_llama_ctx md_llama_ctx;

/* A new context over `model` (which must outlive it): the KV cache (n_layer × n_ctx ×
 * n_head_kv·head_dim for K and for V) and all scratch are allocated here, once.
 * Errors: MD_ERR_INVALID_ARG (n_ctx above MD_LLAMA_MAX_CTX, n_threads < 0 or above
 * MD_POOL_MAX_THREADS), MD_ERR_TOO_LARGE (sizes overflow), MD_ERR_NOMEM, MD_ERR_IO (a
 * worker thread could not be started). Free with md_llama_ctx_free. */
md_status md_llama_ctx_new(const md_llama_model *model, md_llama_ctx_params params, md_llama_ctx **out, md_error *err);
void md_llama_ctx_free(md_llama_ctx *ctx);

uint32_t md_llama_ctx_n_ctx(const md_llama_ctx *ctx);
/* Positions 0..n_past-1 hold valid keys and values. */
uint32_t md_llama_ctx_n_past(const md_llama_ctx *ctx);
/* Forgets every position >= n_past (n_past <= the current value); 0 clears the cache. */
void md_llama_ctx_truncate(md_llama_ctx *ctx, uint32_t n_past);

/* Runs tokens[0..n_tokens) at positions pos..pos+n_tokens-1, with causal attention
 * over the cache (positions 0..pos-1 from earlier calls, then the batch itself).
 * `pos` may be at most n_past (decoding at pos < n_past rewrites the cache from pos
 * on; later positions are forgotten). On success n_past = pos + n_tokens.
 * logits_out: NULL (compute no logits, e.g. for a prompt prefix), or n_tokens ×
 * n_vocab floats (row i = prediction after tokens[0..i]) when the context has
 * logits_all, else n_vocab floats for the last token.
 * Errors: MD_ERR_LIMIT when pos + n_tokens > n_ctx ("context is full"), the cache
 * untouched; MD_ERR_INVALID_ARG for a token id outside the vocabulary, n_tokens 0,
 * pos > n_past (all three checked before anything runs, so the cache is untouched);
 * MD_ERR_UNSUPPORTED if a kernel refuses a type (a bug): n_past then counts only the
 * chunks of n_batch tokens that completed. */
md_status md_llama_decode(md_llama_ctx *ctx, const int32_t *tokens, size_t n_tokens, uint32_t pos, float *logits_out,
                          md_error *err);

#ifdef __cplusplus
}
#endif

#endif /* MEDIFY_LLAMA_H */
