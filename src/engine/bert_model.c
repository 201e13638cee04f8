/* bert_model.c: loading a BERT-family encoder from GGUF.
 *
 * Two tables drive the loader, as in llama_model.c (and llama.cpp's LLM_KV /
 * LLM_TENSOR_NAMES for LLM_ARCH_BERT): the hyperparameter keys (`bert.*`) and the
 * tensor names with their expected shapes written in terms of the hyperparameters, in
 * ggml order (ne[0] is the row length). Every tensor is looked up by name, its shape
 * compared with the table and its type checked against the kernels; problems are
 * errors naming the tensor.
 *
 * Matrices (token_embd and the six per layer) stay in the mapping. Everything else
 * (position and token-type tables, biases, LayerNorm weights) is dequantised at load
 * into one f32 allocation, so the forward pass reads plain floats whatever the stored
 * type (the converter keeps them F32 anyway).
 *
 * Invariant after a successful load: n_embd = n_head·head_dim, every matrix has
 * n_out·row_bytes readable bytes, the tokenizer's ids are < n_vocab and the position
 * table has n_ctx_train rows, so bert.c indexes without checks.
 */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "engine/bert_internal.h"
#include "engine/model_checks.h"

#define BERT_ARCH "bert"
#define POOLING_RANK 4 /* llama.cpp's LLAMA_POOLING_TYPE_RANK: needs a classifier head */

/* ---- hyperparameters -------------------------------------------------------------------- */

typedef struct hparam_key {
    const char *suffix; /* after "bert." */
    size_t offset;      /* of the uint32_t in md_bert_hparams */
    bool required;
    uint32_t max;
} hparam_key;

#define HP_OFF(field) offsetof(md_bert_hparams, field)
static const hparam_key k_u32_keys[] = {
    {"context_length", HP_OFF(n_ctx_train), true, MD_BERT_MAX_CTX},
    {"embedding_length", HP_OFF(n_embd), true, MD_BERT_MAX_EMBD},
    {"block_count", HP_OFF(n_layer), true, MD_BERT_MAX_LAYERS},
    {"feed_forward_length", HP_OFF(n_ff), true, MD_BERT_MAX_FF},
    {"attention.head_count", HP_OFF(n_head), true, MD_BERT_MAX_HEADS},
    {"vocab_size", HP_OFF(n_vocab), false, MD_BERT_MAX_VOCAB},
};

static md_status read_u32(const md_gguf *g, const char *suffix, uint32_t max, uint32_t *out, bool *found,
                          md_error *err) {
    char key[96];
    snprintf(key, sizeof key, "%s.%s", BERT_ARCH, suffix);
    *found = md_gguf_find_key(g, key) >= 0;
    if (!*found) return MD_OK;
    uint64_t v = 0;
    if (!md_gguf_get_u64(g, key, &v))
        return md_error_set(err, MD_ERR_PARSE, "model: key %s is not an unsigned integer", key);
    if (v == 0 || v > max)
        return md_error_set(err, MD_ERR_PARSE, "model: key %s = %llu is outside 1..%u", key, (unsigned long long)v,
                            max);
    *out = (uint32_t)v;
    return MD_OK;
}

static bool str_is(const char *s, size_t n, const char *lit) { return s && n == strlen(lit) && memcmp(s, lit, n) == 0; }

static md_status read_hparams(const md_gguf *g, md_bert_hparams *hp, md_error *err) {
    const char *arch = NULL;
    size_t n_arch = 0;
    if (!md_gguf_get_str(g, "general.architecture", &arch, &n_arch))
        return md_error_set(err, MD_ERR_PARSE, "model: general.architecture is missing");
    if (!str_is(arch, n_arch, BERT_ARCH))
        return md_error_set(err, MD_ERR_UNSUPPORTED, "model: architecture '%.*s' is not a BERT encoder (only 'bert')",
                            (int)(n_arch > 64 ? 64 : n_arch), arch);
    memset(hp, 0, sizeof *hp);
    md_status st;
    bool found;
    for (size_t i = 0; i < MD_ARRAY_LEN(k_u32_keys); i++) {
        const hparam_key *k = &k_u32_keys[i];
        uint32_t *field = (uint32_t *)(void *)((char *)hp + k->offset);
        if ((st = read_u32(g, k->suffix, k->max, field, &found, err)) != MD_OK) return st;
        if (!found && k->required)
            return md_error_set(err, MD_ERR_PARSE, "model: key %s.%s is missing", BERT_ARCH, k->suffix);
    }
    if (hp->n_embd % hp->n_head != 0)
        return md_error_set(err, MD_ERR_PARSE, "model: n_embd %u is not a multiple of n_head %u", hp->n_embd,
                            hp->n_head);
    hp->head_dim = hp->n_embd / hp->n_head;
    uint32_t n_head_kv = 0;
    if ((st = read_u32(g, "attention.head_count_kv", MD_BERT_MAX_HEADS, &n_head_kv, &found, err)) != MD_OK) return st;
    if (found && n_head_kv != hp->n_head)
        return md_error_set(err, MD_ERR_UNSUPPORTED, "model: bert.attention.head_count_kv %u differs from head_count %u",
                            n_head_kv, hp->n_head);

    hp->norm_eps = MD_BERT_DEFAULT_NORM_EPS;
    if (md_gguf_find_key(g, "bert.attention.layer_norm_epsilon") >= 0 &&
        (!md_gguf_get_f32(g, "bert.attention.layer_norm_epsilon", &hp->norm_eps) || !isfinite(hp->norm_eps) ||
         hp->norm_eps <= 0.0f))
        return md_error_set(err, MD_ERR_PARSE, "model: key bert.attention.layer_norm_epsilon must be a positive finite number");

    bool causal = false;
    if (md_gguf_find_key(g, "bert.attention.causal") >= 0) {
        if (!md_gguf_get_bool(g, "bert.attention.causal", &causal))
            return md_error_set(err, MD_ERR_PARSE, "model: key bert.attention.causal is not a bool");
        if (causal)
            return md_error_set(err, MD_ERR_UNSUPPORTED, "model: a causal 'bert' (bert.attention.causal = true) is not supported");
    }

    hp->pooling = MD_BERT_POOLING_MEAN; /* what sentence-transformers' BERT models use */
    if (md_gguf_find_key(g, "bert.pooling_type") >= 0) {
        int64_t p = -1;
        if (!md_gguf_get_i64(g, "bert.pooling_type", &p))
            return md_error_set(err, MD_ERR_PARSE, "model: key bert.pooling_type is not an integer");
        if (p == POOLING_RANK)
            return md_error_set(err, MD_ERR_UNSUPPORTED, "model: RANK pooling (a reranker) is not supported");
        if (p < MD_BERT_POOLING_NONE || p > MD_BERT_POOLING_LAST)
            return md_error_set(err, MD_ERR_PARSE, "model: bert.pooling_type %lld is not 0..3", (long long)p);
        hp->pooling = (md_bert_pooling)p;
    }
    return MD_OK;
}

/* ---- tensors ------------------------------------------------------------------------------ */

typedef enum dim_sym {
    DIM_ONE = 0,
    DIM_EMBD,
    DIM_VOCAB,
    DIM_FF,
    DIM_CTX,   /* n_ctx_train: rows of position_embd */
    DIM_TYPES, /* n_token_types: rows of token_types */
} dim_sym;

typedef enum tensor_kind {
    KIND_MATRIX, /* stays in the mapping; offset of a bert_weight */
    KIND_FLOATS, /* copied to f32; offset of a const float * */
} tensor_kind;

typedef struct tensor_spec {
    const char *name; /* printf format with %u for the layer when per_layer */
    bool per_layer;
    bool required;
    tensor_kind kind;
    dim_sym ne[2]; /* ggml order: ne[0] is the row length */
    size_t offset; /* in md_bert_model (global) or bert_layer (per layer) */
} tensor_spec;

#define M_OFF(f) offsetof(struct md_bert_model, f)
#define L_OFF(f) offsetof(bert_layer, f)
static const tensor_spec k_tensors[] = {
    {"token_embd.weight", false, true, KIND_MATRIX, {DIM_EMBD, DIM_VOCAB}, M_OFF(tok_embd)},
    {"position_embd.weight", false, true, KIND_FLOATS, {DIM_EMBD, DIM_CTX}, M_OFF(pos_embd)},
    {"token_types.weight", false, false, KIND_FLOATS, {DIM_EMBD, DIM_TYPES}, M_OFF(type_embd)},
    {"token_embd_norm.weight", false, true, KIND_FLOATS, {DIM_EMBD, DIM_ONE}, M_OFF(embd_norm_w)},
    {"token_embd_norm.bias", false, true, KIND_FLOATS, {DIM_EMBD, DIM_ONE}, M_OFF(embd_norm_b)},
    {"blk.%u.attn_q.weight", true, true, KIND_MATRIX, {DIM_EMBD, DIM_EMBD}, L_OFF(wq)},
    {"blk.%u.attn_q.bias", true, true, KIND_FLOATS, {DIM_EMBD, DIM_ONE}, L_OFF(bq)},
    {"blk.%u.attn_k.weight", true, true, KIND_MATRIX, {DIM_EMBD, DIM_EMBD}, L_OFF(wk)},
    {"blk.%u.attn_k.bias", true, true, KIND_FLOATS, {DIM_EMBD, DIM_ONE}, L_OFF(bk)},
    {"blk.%u.attn_v.weight", true, true, KIND_MATRIX, {DIM_EMBD, DIM_EMBD}, L_OFF(wv)},
    {"blk.%u.attn_v.bias", true, true, KIND_FLOATS, {DIM_EMBD, DIM_ONE}, L_OFF(bv)},
    {"blk.%u.attn_output.weight", true, true, KIND_MATRIX, {DIM_EMBD, DIM_EMBD}, L_OFF(wo)},
    {"blk.%u.attn_output.bias", true, true, KIND_FLOATS, {DIM_EMBD, DIM_ONE}, L_OFF(bo)},
    {"blk.%u.attn_output_norm.weight", true, true, KIND_FLOATS, {DIM_EMBD, DIM_ONE}, L_OFF(attn_norm_w)},
    {"blk.%u.attn_output_norm.bias", true, true, KIND_FLOATS, {DIM_EMBD, DIM_ONE}, L_OFF(attn_norm_b)},
    {"blk.%u.ffn_up.weight", true, true, KIND_MATRIX, {DIM_EMBD, DIM_FF}, L_OFF(ffn_up)},
    {"blk.%u.ffn_up.bias", true, true, KIND_FLOATS, {DIM_FF, DIM_ONE}, L_OFF(ffn_up_b)},
    {"blk.%u.ffn_down.weight", true, true, KIND_MATRIX, {DIM_FF, DIM_EMBD}, L_OFF(ffn_down)},
    {"blk.%u.ffn_down.bias", true, true, KIND_FLOATS, {DIM_EMBD, DIM_ONE}, L_OFF(ffn_down_b)},
    {"blk.%u.layer_output_norm.weight", true, true, KIND_FLOATS, {DIM_EMBD, DIM_ONE}, L_OFF(out_norm_w)},
    {"blk.%u.layer_output_norm.bias", true, true, KIND_FLOATS, {DIM_EMBD, DIM_ONE}, L_OFF(out_norm_b)},
};

static uint64_t dim_value(const md_bert_hparams *hp, dim_sym d) {
    switch (d) {
    case DIM_ONE: return 1;
    case DIM_EMBD: return hp->n_embd;
    case DIM_VOCAB: return hp->n_vocab;
    case DIM_FF: return hp->n_ff;
    case DIM_CTX: return hp->n_ctx_train;
    case DIM_TYPES: return hp->n_token_types;
    }
    return 0;
}

static md_status load_matrix(const md_gguf_tensor *t, const md_bert_hparams *hp, const tensor_spec *s, bert_weight *w,
                             md_error *err) {
    md_status st;
    uint64_t ne0 = dim_value(hp, s->ne[0]), ne1 = dim_value(hp, s->ne[1]), row_bytes = 0;
    if ((st = model_check_shape(t, ne0, ne1, err)) != MD_OK || (st = model_check_type(t, true, err)) != MD_OK ||
        (st = model_check_bytes(t, ne0, ne1, &row_bytes, err)) != MD_OK)
        return st;
    w->name = t->name;
    w->data = t->data;
    w->type = (md_tensor_type)t->type;
    w->n_in = (uint32_t)ne0;
    w->n_out = (uint32_t)ne1;
    w->row_bytes = (size_t)row_bytes;
    return MD_OK;
}

static md_status load_floats(const md_gguf_tensor *t, const md_bert_hparams *hp, const tensor_spec *s, float *dst,
                             bool check_finite, md_error *err) {
    md_status st;
    uint64_t ne0 = dim_value(hp, s->ne[0]), ne1 = dim_value(hp, s->ne[1]), row_bytes = 0;
    if ((st = model_check_shape(t, ne0, ne1, err)) != MD_OK || (st = model_check_type(t, false, err)) != MD_OK ||
        (st = model_check_bytes(t, ne0, ne1, &row_bytes, err)) != MD_OK)
        return st;
    for (uint64_t r = 0; r < ne1; r++)
        if (md_dequantize_row((md_tensor_type)t->type, (const uint8_t *)t->data + r * row_bytes, dst + r * ne0,
                              (int64_t)ne0) != MD_OK)
            return md_error_set(err, MD_ERR_PARSE, "model: tensor %s cannot be read", t->name);
    for (uint64_t i = 0; check_finite && i < ne0 * ne1; i++)
        if (!isfinite(dst[i]))
            return md_error_set(err, MD_ERR_PARSE, "model: tensor %s holds a non-finite value at %llu", t->name,
                                (unsigned long long)i);
    return MD_OK;
}

/* The vocabulary size (key, else token_embd's rows) and the token-type count (rows of
 * token_types, when present). */
static md_status resolve_dims(const md_gguf *g, md_bert_hparams *hp, md_error *err) {
    const md_gguf_tensor *t = md_gguf_tensor_find(g, "token_embd.weight");
    if (!t) return md_error_set(err, MD_ERR_PARSE, "model: tensor token_embd.weight is missing");
    if (hp->n_vocab == 0) {
        if (t->n_dims < 2 || t->ne[1] == 0 || t->ne[1] > MD_BERT_MAX_VOCAB)
            return md_error_set(err, MD_ERR_PARSE, "model: tensor token_embd.weight has no usable vocabulary dimension");
        hp->n_vocab = (uint32_t)t->ne[1];
    }
    const md_gguf_tensor *tt = md_gguf_tensor_find(g, "token_types.weight");
    if (tt) {
        uint64_t n = tt->n_dims < 2 ? 1 : tt->ne[1];
        if (n == 0 || n > MD_BERT_MAX_TOKEN_TYPES)
            return md_error_set(err, MD_ERR_PARSE, "model: tensor token_types.weight has %llu rows, expected 1..%u",
                                (unsigned long long)n, MD_BERT_MAX_TOKEN_TYPES);
        hp->n_token_types = (uint32_t)n;
    }
    return MD_OK;
}

static md_status load_tensors(md_bert_model *m, bool check_finite, md_error *err) {
    const md_bert_hparams *hp = &m->hp;
    /* Floats to copy: the limits keep each product below 2^40, so the sum cannot wrap. */
    size_t n_floats = 0;
    for (size_t i = 0; i < MD_ARRAY_LEN(k_tensors); i++) {
        const tensor_spec *s = &k_tensors[i];
        if (s->kind != KIND_FLOATS) continue;
        size_t n = (size_t)dim_value(hp, s->ne[0]) * (size_t)dim_value(hp, s->ne[1]);
        n_floats += s->per_layer ? n * hp->n_layer : n;
    }
    /* Pass 0 checks every tensor's presence, shape, type and bytes, so the allocation
     * of pass 1 is bounded by data the file really holds (a hostile context_length
     * or block_count cannot make it allocate more). */
    float *next = NULL;
    md_status st;
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 1) {
            m->vectors = md_calloc(n_floats, sizeof(float));
            m->layers = md_calloc(hp->n_layer, sizeof *m->layers);
            if (!m->vectors || !m->layers) return md_error_set(err, MD_ERR_NOMEM, "model: out of memory");
            next = m->vectors;
        }
        for (uint32_t il = 0; il < hp->n_layer + 1; il++) {
            bool global = il == 0;
            for (size_t i = 0; i < MD_ARRAY_LEN(k_tensors); i++) {
                const tensor_spec *s = &k_tensors[i];
                if (s->per_layer == global) continue;
                char name[MD_GGUF_MAX_NAME_BYTES + 1];
                snprintf(name, sizeof name, s->name, global ? 0u : il - 1);
                const md_gguf_tensor *t = md_gguf_tensor_find(m->gguf, name);
                if (!t) {
                    if (s->required) return md_error_set(err, MD_ERR_PARSE, "model: tensor %s is missing", name);
                    continue;
                }
                const uint64_t ne0 = dim_value(hp, s->ne[0]), ne1 = dim_value(hp, s->ne[1]);
                if (pass == 0) {
                    uint64_t row_bytes = 0;
                    if ((st = model_check_shape(t, ne0, ne1, err)) != MD_OK || (st = model_check_type(t, s->kind == KIND_MATRIX, err)) != MD_OK ||
                        (st = model_check_bytes(t, ne0, ne1, &row_bytes, err)) != MD_OK)
                        return st;
                    continue;
                }
                char *base = global ? (char *)m : (char *)&m->layers[il - 1];
                if (s->kind == KIND_MATRIX) {
                    st = load_matrix(t, hp, s, (bert_weight *)(void *)(base + s->offset), err);
                } else {
                    st = load_floats(t, hp, s, next, check_finite, err);
                    *(const float **)(void *)(base + s->offset) = next;
                    next += (size_t)ne0 * (size_t)ne1;
                }
                if (st != MD_OK) return st;
            }
        }
    }
    return MD_OK;
}

static md_status load_tokenizer(md_bert_model *m, md_error *err) {
    md_status st = md_tokenizer_load(m->gguf, &m->tok, err);
    if (st != MD_OK) return st;
    if (md_tokenizer_n_tokens(m->tok) > m->hp.n_vocab)
        return md_error_set(err, MD_ERR_PARSE, "model: the tokenizer has %zu tokens, token_embd.weight only %u rows",
                            md_tokenizer_n_tokens(m->tok), m->hp.n_vocab);
    return MD_OK;
}

md_bert_model_params md_bert_model_default_params(void) { return (md_bert_model_params){.check_finite = true}; }

md_status md_bert_load_gguf(const md_gguf *g, md_bert_model_params params, md_bert_model **out, md_error *err) {
    if (!g || !out) return md_error_set(err, MD_ERR_INVALID_ARG, "md_bert_load_gguf: NULL argument");
    *out = NULL;
    md_bert_model *m = md_calloc(1, sizeof *m);
    if (!m) return md_error_set(err, MD_ERR_NOMEM, "model: out of memory");
    m->gguf = g;
    md_status st = read_hparams(g, &m->hp, err);
    if (st == MD_OK) st = resolve_dims(g, &m->hp, err);
    if (st == MD_OK) st = load_tensors(m, params.check_finite, err);
    if (st == MD_OK) st = load_tokenizer(m, err);
    if (st != MD_OK) {
        md_bert_free(m);
        return st;
    }
    const char *name = NULL;
    size_t n_name = 0;
    if (md_gguf_get_str(g, "general.name", &name, &n_name) && n_name > 0)
        snprintf(m->name, sizeof m->name, "%.*s", (int)(n_name < sizeof m->name ? n_name : sizeof m->name - 1), name);
    *out = m;
    return MD_OK;
}

md_status md_bert_load(const char *path, md_bert_model_params params, md_bert_model **out, md_error *err) {
    if (!path || !out) return md_error_set(err, MD_ERR_INVALID_ARG, "md_bert_load: NULL argument");
    *out = NULL;
    md_gguf *g = NULL;
    md_status st = md_gguf_open(path, &g, err);
    if (st != MD_OK) return st;
    st = md_bert_load_gguf(g, params, out, err);
    if (st != MD_OK) {
        md_gguf_close(g);
        return st;
    }
    (*out)->owned_gguf = g;
    if (!(*out)->name[0]) {
        const char *base = strrchr(path, '/');
        snprintf((*out)->name, sizeof (*out)->name, "%s", base ? base + 1 : path);
    }
    return MD_OK;
}

void md_bert_free(md_bert_model *model) {
    if (!model) return;
    md_tokenizer_free(model->tok);
    md_free(model->layers);
    md_free(model->vectors);
    md_gguf_close(model->owned_gguf);
    md_free(model);
}

const md_bert_hparams *md_bert_model_hparams(const md_bert_model *model) { return model ? &model->hp : NULL; }

const md_gguf *md_bert_model_gguf(const md_bert_model *model) { return model ? model->gguf : NULL; }

const md_tokenizer *md_bert_model_tokenizer(const md_bert_model *model) { return model ? model->tok : NULL; }

const char *md_bert_model_name(const md_bert_model *model) { return model ? model->name : ""; }
