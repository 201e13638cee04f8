/* bert_internal.h: the loaded BERT encoder as bert_model.c builds it and bert.c runs
 * it. Private to src/engine. */
#ifndef MEDIFY_ENGINE_BERT_INTERNAL_H
#define MEDIFY_ENGINE_BERT_INTERNAL_H

#include "medify/bert.h"
#include "medify/tensor.h"

/* A weight matrix in the file mapping: n_out rows of n_in elements of `type`, row r at
 * data + r·row_bytes. ggml's ne = {n_in, n_out}. */
typedef struct bert_weight {
    const char *name; /* the tensor's name (owned by the gguf object) */
    const void *data;
    md_tensor_type type;
    uint32_t n_in;
    uint32_t n_out;
    size_t row_bytes;
} bert_weight;

typedef struct bert_layer {
    bert_weight wq, wk, wv; /* (n_embd → n_embd) */
    bert_weight wo;         /* (n_embd → n_embd) */
    bert_weight ffn_up;     /* (n_embd → n_ff) */
    bert_weight ffn_down;   /* (n_ff → n_embd) */
    const float *bq, *bk, *bv, *bo; /* (n_embd) f32 copies owned by the model */
    const float *attn_norm_w, *attn_norm_b; /* (n_embd) attn_output_norm */
    const float *ffn_up_b;                  /* (n_ff) */
    const float *ffn_down_b;                /* (n_embd) */
    const float *out_norm_w, *out_norm_b;   /* (n_embd) layer_output_norm */
} bert_layer;

struct md_bert_model {
    md_gguf *owned_gguf; /* set by md_bert_load; NULL when the caller owns the file */
    const md_gguf *gguf;
    md_tokenizer *tok;
    md_bert_hparams hp;
    char name[128];
    bert_weight tok_embd;         /* (n_embd → n_vocab): row id is the embedding of id */
    const float *pos_embd;        /* (n_ctx_train, n_embd) f32 copy */
    const float *type_embd;       /* (n_token_types, n_embd) f32 copy, or NULL */
    const float *embd_norm_w;     /* (n_embd) token_embd_norm */
    const float *embd_norm_b;     /* (n_embd) */
    bert_layer *layers;           /* (n_layer) */
    float *vectors;               /* one allocation holding every f32 copy above */
};

#endif
