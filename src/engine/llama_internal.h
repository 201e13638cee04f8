/* llama_internal.h: the loaded Llama model as llama_model.c builds it and llama.c runs
 * it. Private to src/engine. */
#ifndef MEDIFY_ENGINE_LLAMA_INTERNAL_H
#define MEDIFY_ENGINE_LLAMA_INTERNAL_H

#include "medify/llama.h"
#include "medify/tensor.h"

/* A weight matrix in the file mapping: n_out rows of n_in elements of `type`, row r
 * at data + r·row_bytes. ggml's ne = {n_in, n_out}. */
typedef struct llama_weight {
    const char *name; /* the tensor's name (owned by the gguf object) */
    const void *data;
    md_tensor_type type;
    uint32_t n_in;
    uint32_t n_out;
    size_t row_bytes;
} llama_weight;

typedef struct llama_layer {
    const float *attn_norm; /* (n_embd), f32 copy owned by the model */
    const float *ffn_norm;  /* (n_embd) */
    llama_weight wq;        /* (n_embd → n_head·head_dim) */
    llama_weight wk;        /* (n_embd → n_head_kv·head_dim) */
    llama_weight wv;        /* (n_embd → n_head_kv·head_dim) */
    llama_weight wo;        /* (n_head·head_dim → n_embd) */
    llama_weight ffn_gate;  /* (n_embd → n_ff) */
    llama_weight ffn_up;    /* (n_embd → n_ff) */
    llama_weight ffn_down;  /* (n_ff → n_embd) */
} llama_layer;

struct md_llama_model {
    md_gguf *owned_gguf; /* set by md_llama_load; NULL when the caller owns the file */
    const md_gguf *gguf;
    md_llama_hparams hp;
    llama_weight tok_embd;    /* (n_embd → n_vocab): row id is the embedding of token id */
    llama_weight output;      /* (n_embd → n_vocab); a copy of tok_embd when tied */
    const float *output_norm; /* (n_embd) */
    const float *rope_freqs;  /* (head_dim / 2) or NULL */
    llama_layer *layers;      /* (n_layer) */
    float *vectors;           /* one allocation holding every f32 vector above */
};

#endif
