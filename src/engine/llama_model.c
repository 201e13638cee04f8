/* llama_model.c: loading a Llama-family decoder from GGUF.
 *
 * Two tables drive the loader, as llama.cpp's LLM_KV / LLM_TENSOR_NAMES tables do:
 * the hyperparameter keys (`llama.embedding_length`, ...) and the tensor names with
 * their expected shapes written in terms of the hyperparameters (`blk.%u.attn_k.weight`
 * is {n_embd, n_head_kv·head_dim} in ggml order, ne[0] = row length). Every tensor is
 * looked up by name (llama-quantize reorders them), its shape compared with the table
 * and its type checked against the kernels: a weight matrix needs a type md_vec_dot
 * multiplies and a row length that is a whole number of blocks of both the weight type
 * and its activation type. Problems are errors that name the tensor.
 *
 * Matrices stay in the mapping. The small vectors (norm weights, rope_freqs) are
 * dequantised at load into one f32 allocation, so the forward pass reads them as
 * plain aligned floats whatever their stored type.
 *
 * Invariant after a successful load: every shape and hyperparameter is consistent
 * (n_embd = n_head·head_dim, n_head a multiple of n_head_kv, head_dim even) and every
 * matrix has n_out·row_bytes readable bytes, so llama.c indexes rows without checks.
 */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "engine/llama_internal.h"
#include "engine/model_checks.h"

#define LLAMA_ARCH "llama"

/* ---- hyperparameters -------------------------------------------------------------------- */

typedef struct hparam_key {
    const char *suffix; /* after "llama." */
    size_t offset;      /* of the uint32_t in md_llama_hparams */
    bool required;
    uint32_t max;
} hparam_key;

#define HP_OFF(field) offsetof(md_llama_hparams, field)
static const hparam_key k_u32_keys[] = {
    {"context_length", HP_OFF(n_ctx_train), true, MD_LLAMA_MAX_CTX},
    {"embedding_length", HP_OFF(n_embd), true, MD_LLAMA_MAX_EMBD},
    {"block_count", HP_OFF(n_layer), true, MD_LLAMA_MAX_LAYERS},
    {"feed_forward_length", HP_OFF(n_ff), true, MD_LLAMA_MAX_FF},
    {"attention.head_count", HP_OFF(n_head), true, MD_LLAMA_MAX_HEADS},
    {"attention.head_count_kv", HP_OFF(n_head_kv), false, MD_LLAMA_MAX_HEADS},
    {"vocab_size", HP_OFF(n_vocab), false, MD_LLAMA_MAX_VOCAB},
};

static void key_name(char *out, size_t n_out, const char *suffix) { snprintf(out, n_out, "%s.%s", LLAMA_ARCH, suffix); }

/* Reads an unsigned key; *found false when absent. A present key of the wrong type or
 * out of [1, max] is an error. */
static md_status read_u32(const md_gguf *g, const char *suffix, uint32_t max, uint32_t *out, bool *found,
                          md_error *err) {
    char key[96];
    key_name(key, sizeof key, suffix);
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

static md_status read_f32(const md_gguf *g, const char *suffix, float *out, bool *found, md_error *err) {
    char key[96];
    key_name(key, sizeof key, suffix);
    *found = md_gguf_find_key(g, key) >= 0;
    if (!*found) return MD_OK;
    if (!md_gguf_get_f32(g, key, out) || !isfinite(*out) || *out <= 0.0f)
        return md_error_set(err, MD_ERR_PARSE, "model: key %s must be a positive finite number", key);
    return MD_OK;
}

static bool str_is(const char *s, size_t n, const char *lit) { return s && n == strlen(lit) && memcmp(s, lit, n) == 0; }

static md_status read_hparams(const md_gguf *g, md_llama_hparams *hp, md_error *err) {
    const char *arch = NULL;
    size_t n_arch = 0;
    if (!md_gguf_get_str(g, "general.architecture", &arch, &n_arch))
        return md_error_set(err, MD_ERR_PARSE, "model: general.architecture is missing");
    if (!str_is(arch, n_arch, LLAMA_ARCH))
        return md_error_set(err, MD_ERR_UNSUPPORTED, "model: architecture '%.*s' is not supported (only 'llama')",
                            (int)(n_arch > 64 ? 64 : n_arch), arch);
    memset(hp, 0, sizeof *hp);
    md_status st;
    bool found;
    for (size_t i = 0; i < MD_ARRAY_LEN(k_u32_keys); i++) {
        const hparam_key *k = &k_u32_keys[i];
        uint32_t *field = (uint32_t *)(void *)((char *)hp + k->offset);
        if ((st = read_u32(g, k->suffix, k->max, field, &found, err)) != MD_OK) return st;
        if (!found && k->required)
            return md_error_set(err, MD_ERR_PARSE, "model: key %s.%s is missing", LLAMA_ARCH, k->suffix);
    }
    if (hp->n_head_kv == 0) hp->n_head_kv = hp->n_head;
    if (hp->n_embd % hp->n_head != 0)
        return md_error_set(err, MD_ERR_PARSE, "model: n_embd %u is not a multiple of n_head %u", hp->n_embd,
                            hp->n_head);
    if (hp->n_head % hp->n_head_kv != 0)
        return md_error_set(err, MD_ERR_PARSE, "model: n_head %u is not a multiple of n_head_kv %u", hp->n_head,
                            hp->n_head_kv);
    hp->head_dim = hp->n_embd / hp->n_head;
    if (hp->head_dim % 2 != 0) return md_error_set(err, MD_ERR_PARSE, "model: head dimension %u is odd", hp->head_dim);

    /* Keys that must agree with head_dim: medify implements full-width RoPE and equal
     * key/value widths, as every Llama checkpoint has. */
    static const char *const k_head_dim_keys[] = {"rope.dimension_count", "attention.key_length",
                                                  "attention.value_length"};
    for (size_t i = 0; i < MD_ARRAY_LEN(k_head_dim_keys); i++) {
        uint32_t v = 0;
        if ((st = read_u32(g, k_head_dim_keys[i], MD_LLAMA_MAX_EMBD, &v, &found, err)) != MD_OK) return st;
        if (found && v != hp->head_dim)
            return md_error_set(err, MD_ERR_UNSUPPORTED, "model: %s.%s = %u differs from the head dimension %u",
                                LLAMA_ARCH, k_head_dim_keys[i], v, hp->head_dim);
    }
    char key[96];
    uint64_t n_expert = 0;
    key_name(key, sizeof key, "expert_count");
    if (md_gguf_get_u64(g, key, &n_expert) && n_expert > 0)
        return md_error_set(err, MD_ERR_UNSUPPORTED, "model: mixture-of-experts models (%s = %llu) are not supported",
                            key, (unsigned long long)n_expert);

    hp->rope_freq_base = MD_LLAMA_DEFAULT_ROPE_FREQ_BASE;
    if ((st = read_f32(g, "rope.freq_base", &hp->rope_freq_base, &found, err)) != MD_OK) return st;
    if ((st = read_f32(g, "attention.layer_norm_rms_epsilon", &hp->rms_eps, &found, err)) != MD_OK) return st;
    if (!found)
        return md_error_set(err, MD_ERR_PARSE, "model: key %s.attention.layer_norm_rms_epsilon is missing", LLAMA_ARCH);

    /* RoPE scaling by key (llama.cpp LLM_KV_ROPE_SCALING_TYPE / _FACTOR). Llama 3.1/3.2
     * write no key: their scaling is the rope_freqs.weight tensor. */
    hp->rope_freq_scale = 1.0f;
    const char *scaling = NULL;
    size_t n_scaling = 0;
    key_name(key, sizeof key, "rope.scaling.type");
    if (md_gguf_get_str(g, key, &scaling, &n_scaling) && !str_is(scaling, n_scaling, "none")) {
        if (!str_is(scaling, n_scaling, "linear"))
            return md_error_set(err, MD_ERR_UNSUPPORTED, "model: RoPE scaling '%.*s' is not supported (none, linear)",
                                (int)(n_scaling > 32 ? 32 : n_scaling), scaling);
        float factor = 1.0f;
        if ((st = read_f32(g, "rope.scaling.factor", &factor, &found, err)) != MD_OK) return st;
        hp->rope_freq_scale = 1.0f / factor;
    }
    return MD_OK;
}

/* ---- tensors ------------------------------------------------------------------------------ */

typedef enum dim_sym {
    DIM_ONE = 0, /* unused trailing dimension */
    DIM_EMBD,
    DIM_VOCAB,
    DIM_Q,  /* n_head · head_dim */
    DIM_KV, /* n_head_kv · head_dim */
    DIM_FF,
    DIM_ROPE, /* head_dim / 2: one factor per rotated pair */
} dim_sym;

typedef enum tensor_kind {
    KIND_MATRIX, /* stays in the mapping; offset of a llama_weight */
    KIND_VECTOR, /* copied to f32; offset of a const float * */
} tensor_kind;

typedef struct tensor_spec {
    const char *name; /* printf format with %u for the layer when per_layer */
    bool per_layer;
    bool required;
    tensor_kind kind;
    dim_sym ne[2]; /* ggml order: ne[0] is the row length */
    size_t offset; /* in md_llama_model (global) or llama_layer (per layer) */
} tensor_spec;

#define M_OFF(f) offsetof(struct md_llama_model, f)
#define L_OFF(f) offsetof(llama_layer, f)
static const tensor_spec k_tensors[] = {
    {"token_embd.weight", false, true, KIND_MATRIX, {DIM_EMBD, DIM_VOCAB}, M_OFF(tok_embd)},
    {"output_norm.weight", false, true, KIND_VECTOR, {DIM_EMBD, DIM_ONE}, M_OFF(output_norm)},
    {"output.weight", false, false, KIND_MATRIX, {DIM_EMBD, DIM_VOCAB}, M_OFF(output)},
    {"rope_freqs.weight", false, false, KIND_VECTOR, {DIM_ROPE, DIM_ONE}, M_OFF(rope_freqs)},
    {"blk.%u.attn_norm.weight", true, true, KIND_VECTOR, {DIM_EMBD, DIM_ONE}, L_OFF(attn_norm)},
    {"blk.%u.attn_q.weight", true, true, KIND_MATRIX, {DIM_EMBD, DIM_Q}, L_OFF(wq)},
    {"blk.%u.attn_k.weight", true, true, KIND_MATRIX, {DIM_EMBD, DIM_KV}, L_OFF(wk)},
    {"blk.%u.attn_v.weight", true, true, KIND_MATRIX, {DIM_EMBD, DIM_KV}, L_OFF(wv)},
    {"blk.%u.attn_output.weight", true, true, KIND_MATRIX, {DIM_Q, DIM_EMBD}, L_OFF(wo)},
    {"blk.%u.ffn_norm.weight", true, true, KIND_VECTOR, {DIM_EMBD, DIM_ONE}, L_OFF(ffn_norm)},
    {"blk.%u.ffn_gate.weight", true, true, KIND_MATRIX, {DIM_EMBD, DIM_FF}, L_OFF(ffn_gate)},
    {"blk.%u.ffn_up.weight", true, true, KIND_MATRIX, {DIM_EMBD, DIM_FF}, L_OFF(ffn_up)},
    {"blk.%u.ffn_down.weight", true, true, KIND_MATRIX, {DIM_FF, DIM_EMBD}, L_OFF(ffn_down)},
};

static uint64_t dim_value(const md_llama_hparams *hp, dim_sym d) {
    switch (d) {
    case DIM_ONE: return 1;
    case DIM_EMBD: return hp->n_embd;
    case DIM_VOCAB: return hp->n_vocab;
    case DIM_Q: return (uint64_t)hp->n_head * hp->head_dim;
    case DIM_KV: return (uint64_t)hp->n_head_kv * hp->head_dim;
    case DIM_FF: return hp->n_ff;
    case DIM_ROPE: return hp->head_dim / 2;
    }
    return 0;
}

static md_status load_matrix(const md_gguf_tensor *t, const md_llama_hparams *hp, const tensor_spec *s, llama_weight *w,
                             md_error *err) {
    md_status st;
    uint64_t ne0 = dim_value(hp, s->ne[0]), ne1 = dim_value(hp, s->ne[1]);
    if ((st = model_check_shape(t, ne0, ne1, err)) != MD_OK || (st = model_check_type(t, true, err)) != MD_OK) return st;
    uint64_t row_bytes = 0;
    if ((st = model_check_bytes(t, ne0, ne1, &row_bytes, err)) != MD_OK) return st;
    w->name = t->name;
    w->data = t->data;
    w->type = (md_tensor_type)t->type;
    w->n_in = (uint32_t)ne0;
    w->n_out = (uint32_t)ne1;
    w->row_bytes = (size_t)row_bytes;
    return MD_OK;
}

static md_status load_vector(const md_gguf_tensor *t, const md_llama_hparams *hp, const tensor_spec *s, float *dst,
                             bool check_finite, md_error *err) {
    md_status st;
    uint64_t n = dim_value(hp, s->ne[0]);
    if ((st = model_check_shape(t, n, 1, err)) != MD_OK || (st = model_check_type(t, false, err)) != MD_OK) return st;
    if (!t->data || md_dequantize_row((md_tensor_type)t->type, t->data, dst, (int64_t)n) != MD_OK)
        return md_error_set(err, MD_ERR_PARSE, "model: tensor %s cannot be read", t->name);
    for (uint64_t i = 0; check_finite && i < n; i++)
        if (!isfinite(dst[i]))
            return md_error_set(err, MD_ERR_PARSE, "model: tensor %s holds a non-finite value at %llu", t->name,
                                (unsigned long long)i);
    return MD_OK;
}

/* Finds the vocabulary size: the key, else the embedding matrix's row count. */
static md_status resolve_vocab(const md_gguf *g, md_llama_hparams *hp, md_error *err) {
    if (hp->n_vocab != 0) return MD_OK;
    const md_gguf_tensor *t = md_gguf_tensor_find(g, "token_embd.weight");
    if (!t) return md_error_set(err, MD_ERR_PARSE, "model: tensor token_embd.weight is missing");
    if (t->n_dims < 2 || t->ne[1] == 0 || t->ne[1] > MD_LLAMA_MAX_VOCAB)
        return md_error_set(err, MD_ERR_PARSE, "model: tensor token_embd.weight has no usable vocabulary dimension");
    hp->n_vocab = (uint32_t)t->ne[1];
    return MD_OK;
}

static md_status load_tensors(md_llama_model *m, bool check_finite, md_error *err) {
    const md_llama_hparams *hp = &m->hp;
    /* One f32 allocation for output_norm, rope_freqs and the two norms of each layer;
     * the hyperparameter limits keep this product far from overflow. */
    size_t n_floats = (size_t)hp->n_embd * (1 + 2 * (size_t)hp->n_layer) + hp->head_dim / 2;
    m->vectors = md_calloc(n_floats, sizeof(float));
    m->layers = md_calloc(hp->n_layer, sizeof *m->layers);
    if (!m->vectors || !m->layers) return md_error_set(err, MD_ERR_NOMEM, "model: out of memory");
    float *next = m->vectors;
    md_status st;
    for (uint32_t il = 0; il < (uint32_t)hp->n_layer + 1; il++) {
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
            char *base = global ? (char *)m : (char *)&m->layers[il - 1];
            if (s->kind == KIND_MATRIX) {
                st = load_matrix(t, hp, s, (llama_weight *)(void *)(base + s->offset), err);
            } else {
                st = load_vector(t, hp, s, next, check_finite, err);
                *(const float **)(void *)(base + s->offset) = next;
                next += dim_value(hp, s->ne[0]);
            }
            if (st != MD_OK) return st;
        }
    }
    if (m->rope_freqs) m->hp.has_rope_freqs = true;
    if (!m->output.data) {
        m->output = m->tok_embd;
        m->hp.tied_output = true;
    }
    return MD_OK;
}

md_llama_model_params md_llama_model_default_params(void) { return (md_llama_model_params){.check_finite = true}; }

md_status md_llama_load_gguf(const md_gguf *g, md_llama_model_params params, md_llama_model **out, md_error *err) {
    if (!g || !out) return md_error_set(err, MD_ERR_INVALID_ARG, "md_llama_load_gguf: NULL argument");
    *out = NULL;
    md_llama_model *m = md_calloc(1, sizeof *m);
    if (!m) return md_error_set(err, MD_ERR_NOMEM, "model: out of memory");
    m->gguf = g;
    md_status st = read_hparams(g, &m->hp, err);
    if (st == MD_OK) st = resolve_vocab(g, &m->hp, err);
    if (st == MD_OK) st = load_tensors(m, params.check_finite, err);
    if (st != MD_OK) {
        md_llama_free(m);
        return st;
    }
    *out = m;
    return MD_OK;
}

md_status md_llama_load(const char *path, md_llama_model_params params, md_llama_model **out, md_error *err) {
    if (!path || !out) return md_error_set(err, MD_ERR_INVALID_ARG, "md_llama_load: NULL argument");
    *out = NULL;
    md_gguf *g = NULL;
    md_status st = md_gguf_open(path, &g, err);
    if (st != MD_OK) return st;
    st = md_llama_load_gguf(g, params, out, err);
    if (st != MD_OK) {
        md_gguf_close(g);
        return st;
    }
    (*out)->owned_gguf = g;
    return MD_OK;
}

void md_llama_free(md_llama_model *model) {
    if (!model) return;
    md_free(model->layers);
    md_free(model->vectors);
    md_gguf_close(model->owned_gguf);
    md_free(model);
}

const md_llama_hparams *md_llama_model_hparams(const md_llama_model *model) { return model ? &model->hp : NULL; }

const md_gguf *md_llama_model_gguf(const md_llama_model *model) { return model ? model->gguf : NULL; }
