/* The BERT encoder (bert.h).
 *
 * 1. The project's own tiny encoder, written here with md_gguf_writer from a fixed seed
 *    (n_embd 32, 4 heads of 8, n_ff 64, 2 layers, 16 positions, a 24-token WordPiece
 *    vocabulary): the engine against a float64 forward pass written out in this file
 *    with plain loops, per-token hidden states and MEAN / CLS / LAST pooling, raw and
 *    L2-normalised (relative L2 per vector <= TOL_REF on the f32 path, TOL_GGML on the
 *    ggml path with its fp16 GELU table). F16 and Q8_0 weights on the f32 path against
 *    the reference over the dequantised weights, and on the ggml path within the
 *    activation-rounding bound. A batch of sentences of different lengths
 *    (several batches, padding) equals encoding them one by one, bit for bit, also
 *    with worker threads.
 *    Text embedding equals encoding the tokenizer's ids; long texts are cut to n_ctx
 *    with [SEP] last; the md_embedder wrapper; bad arguments; hostile files (wrong
 *    architecture, missing key, heads not dividing n_embd, a wrong shape, a missing
 *    tensor, a short position table, RANK and unknown pooling, a causal flag, NaN in
 *    a bias, a tokenizer larger than token_embd) refused with errors naming the cause;
 *    every allocation of load and context creation failing in turn.
 * 2. With MEDIFY_FIXTURES: tiny-bert-f32/f16 (llama.cpp-converted) against llama.cpp's
 *    hidden states and normalised mean-pooled embeddings (README 4.1: per-token cosine
 *    >= 0.9999 and relative L2 <= 2e-3; pooled cosine >= 0.9999 F32, >= 0.999 F16),
 *    the five sentences tokenized to llama.cpp's ids and encoded in one batch.
 */
#include "check.h"
#include "medify/bert.h"
#include "medify/gguf.h"
#include "medify/tensor.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

/* f32 path vs the float64 reference: float32 rounding through two post-norm layers is
 * ~1e-7 relative; a wrong mask, head split, norm or bias is off by > 1e-2. */
#define TOL_REF 1e-5
/* ggml path (fp16 GELU table) vs the float64 reference (tanh GELU unrounded): fp16
 * rounding (~5e-4 per element) through the FFN; measured ~5e-4. */
#define TOL_GGML 5e-3
/* ggml path with Q8_0 weights: activations rounded to Q8_0 (~0.4 % per element)
 * before each of the 12 products; measured 8.9e-3. */
#define TOL_GGML_Q8_0 3e-2
/* README 4.1 (BERT). */
#define FIX_TOKEN_COS 0.9999
#define FIX_TOKEN_REL_L2 2e-3
#define FIX_POOLED_COS_F32 0.9999
#define FIX_POOLED_COS_F16 0.999

/* ---- helpers ----------------------------------------------------------------------------- */

static double rel_l2_d(const float *a, const double *ref, size_t n) {
    double num = 0.0, den = 0.0;
    for (size_t i = 0; i < n; i++) {
        double d = (double)a[i] - ref[i];
        num += d * d;
        den += ref[i] * ref[i];
    }
    return den > 0.0 ? sqrt(num / den) : sqrt(num);
}

static double rel_l2_f(const float *a, const float *ref, size_t n) {
    double num = 0.0, den = 0.0;
    for (size_t i = 0; i < n; i++) {
        double d = (double)a[i] - (double)ref[i];
        num += d * d;
        den += (double)ref[i] * (double)ref[i];
    }
    return den > 0.0 ? sqrt(num / den) : sqrt(num);
}

static double cosine_f(const float *a, const float *b, size_t n) {
    double ab = 0.0, aa = 0.0, bb = 0.0;
    for (size_t i = 0; i < n; i++) {
        ab += (double)a[i] * b[i];
        aa += (double)a[i] * a[i];
        bb += (double)b[i] * b[i];
    }
    return ab / sqrt(aa * bb);
}

static double norm_f(const float *a, size_t n) {
    double s = 0.0;
    for (size_t i = 0; i < n; i++)
        s += (double)a[i] * a[i];
    return sqrt(s);
}

static uint64_t rng_state;
static double rng_uniform(void) { /* (0, 1) */
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return ((double)(rng_state >> 11) + 0.5) / 9007199254740992.0;
}
static float rng_normal(float sigma) { /* Box-Muller */
    double u = rng_uniform(), v = rng_uniform();
    return (float)(sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v)) * sigma;
}

/* ---- the own tiny encoder ---------------------------------------------------------------- */

enum { E = 32, N_HEAD = 4, HD = 8, N_FF = 64, N_LAYER = 2, N_CTX_TRAIN = 16, N_TYPES = 2 };

#define SP "\xe2\x96\x81" /* '▁' */
static const char *const k_vocab[] = {
    "[PAD]",     "[UNK]",       "[CLS]",    "[SEP]",    "[MASK]",   SP "the", SP "patient", SP "has",
    SP "chest",  SP "pain",     SP "fever", SP "and",   SP "cough", "ing",    SP "short",   "ness",
    SP "of",     SP "breath",   SP ".",     SP ",",     SP "acute", SP "a",   SP "day",     SP "night",
};
enum { N_VOCAB = (int)(sizeof k_vocab / sizeof k_vocab[0]) };
enum { ID_CLS = 2, ID_SEP = 3 };

typedef enum fault {
    FAULT_NONE,
    FAULT_ARCH,          /* general.architecture = "llama" */
    FAULT_MISSING_KEY,   /* no bert.embedding_length */
    FAULT_HEADS,         /* head_count 5 does not divide 32 */
    FAULT_BAD_SHAPE,     /* blk.0.attn_q.weight with n_ff rows */
    FAULT_MISSING,       /* no blk.1.ffn_down.bias */
    FAULT_SHORT_POS,     /* position_embd with 8 rows, context_length 16 */
    FAULT_RANK,          /* pooling_type 4 */
    FAULT_POOLING,       /* pooling_type 9 */
    FAULT_CAUSAL,        /* bert.attention.causal = true */
    FAULT_NAN,           /* NaN in blk.0.attn_k.bias */
    FAULT_VOCAB,         /* token_embd with fewer rows than tokens */
} fault;

typedef struct own_model {
    md_tensor_type type;
    int pooling;
    float *tok, *pos, *types, *en_w, *en_b;
    float *wq[N_LAYER], *wk[N_LAYER], *wv[N_LAYER], *wo[N_LAYER], *up[N_LAYER], *down[N_LAYER];
    float *bq[N_LAYER], *bk[N_LAYER], *bv[N_LAYER], *bo[N_LAYER], *bup[N_LAYER], *bdown[N_LAYER];
    float *an_w[N_LAYER], *an_b[N_LAYER], *on_w[N_LAYER], *on_b[N_LAYER];
    md_buf file;
} own_model;

static float *gen(size_t n, float mean, float sigma) {
    float *p = malloc(n * sizeof *p);
    for (size_t i = 0; i < n; i++)
        p[i] = mean + rng_normal(sigma);
    return p;
}

/* Adds a tensor of n_out rows of n_in in `type`; replaces data by what the engine reads. */
static void add_tensor(md_gguf_writer *w, const char *name, md_tensor_type type, float *data, uint64_t n_in,
                       uint64_t n_out) {
    uint64_t row_bytes = 0;
    CHECK(md_tensor_row_bytes(type, n_in, &row_bytes));
    uint8_t *q = malloc(row_bytes * n_out);
    for (uint64_t r = 0; r < n_out; r++) {
        CHECK(md_quantize_row(type, data + r * n_in, q + r * row_bytes, (int64_t)n_in) == MD_OK);
        CHECK(md_dequantize_row(type, q + r * row_bytes, data + r * n_in, (int64_t)n_in) == MD_OK);
    }
    uint64_t ne[2] = {n_in, n_out};
    CHECK(md_gguf_writer_add_tensor(w, name, type, n_out == 1 ? 1 : 2, ne, q, row_bytes * n_out) == MD_OK);
    free(q);
}

static void own_build(own_model *m, md_tensor_type type, int pooling, fault f) {
    memset(m, 0, sizeof *m);
    m->type = type;
    m->pooling = pooling;
    rng_state = 20251208;
    md_gguf_writer *w = md_gguf_writer_new();
    CHECK(w != NULL);
    md_gguf_writer_set_str(w, "general.architecture", f == FAULT_ARCH ? "llama" : "bert");
    md_gguf_writer_set_str(w, "general.name", "own-tiny-bert");
    md_gguf_writer_set_u32(w, "bert.context_length", N_CTX_TRAIN);
    if (f != FAULT_MISSING_KEY) md_gguf_writer_set_u32(w, "bert.embedding_length", E);
    md_gguf_writer_set_u32(w, "bert.block_count", N_LAYER);
    md_gguf_writer_set_u32(w, "bert.feed_forward_length", N_FF);
    md_gguf_writer_set_u32(w, "bert.attention.head_count", f == FAULT_HEADS ? 5 : N_HEAD);
    md_gguf_writer_set_f32(w, "bert.attention.layer_norm_epsilon", 1e-12f);
    md_gguf_writer_set_bool(w, "bert.attention.causal", f == FAULT_CAUSAL);
    md_gguf_writer_set_u32(w, "bert.pooling_type", f == FAULT_RANK ? 4u : f == FAULT_POOLING ? 9u : (uint32_t)pooling);
    md_gguf_writer_set_str(w, "tokenizer.ggml.model", "bert");
    size_t n_tokens = N_VOCAB;
    const char *vocab[N_VOCAB + 4];
    int32_t types[N_VOCAB + 4];
    for (size_t i = 0; i < N_VOCAB; i++) {
        vocab[i] = k_vocab[i];
        types[i] = i <= 4 ? (i == 1 ? 2 : 3) : 1;
    }
    if (f == FAULT_VOCAB) {
        static const char *const extra[] = {SP "x1", SP "x2", SP "x3", SP "x4"};
        for (size_t i = 0; i < 4; i++) {
            vocab[N_VOCAB + i] = extra[i];
            types[N_VOCAB + i] = 1;
        }
        n_tokens += 4;
    }
    md_gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", vocab, n_tokens);
    md_gguf_writer_set_arr_i32(w, "tokenizer.ggml.token_type", types, n_tokens);
    md_gguf_writer_set_u32(w, "tokenizer.ggml.unknown_token_id", 1);
    md_gguf_writer_set_u32(w, "tokenizer.ggml.cls_token_id", ID_CLS);
    md_gguf_writer_set_u32(w, "tokenizer.ggml.seperator_token_id", ID_SEP);
    md_gguf_writer_set_u32(w, "tokenizer.ggml.padding_token_id", 0);
    md_gguf_writer_set_u32(w, "tokenizer.ggml.mask_token_id", 4);

    const md_tensor_type f32 = MD_TENSOR_TYPE_F32;
    m->tok = gen((size_t)N_VOCAB * E, 0.0f, 0.5f);
    add_tensor(w, "token_embd.weight", type, m->tok, E, N_VOCAB);
    const int n_pos = f == FAULT_SHORT_POS ? 8 : N_CTX_TRAIN;
    m->pos = gen((size_t)N_CTX_TRAIN * E, 0.0f, 0.5f);
    add_tensor(w, "position_embd.weight", f32, m->pos, E, (uint64_t)n_pos);
    m->types = gen((size_t)N_TYPES * E, 0.0f, 0.5f);
    add_tensor(w, "token_types.weight", f32, m->types, E, N_TYPES);
    m->en_w = gen(E, 1.0f, 0.1f);
    add_tensor(w, "token_embd_norm.weight", f32, m->en_w, E, 1);
    m->en_b = gen(E, 0.0f, 0.1f);
    add_tensor(w, "token_embd_norm.bias", f32, m->en_b, E, 1);
    for (int il = 0; il < N_LAYER; il++) {
        char name[64];
#define T(field, suffix, ty, n_in, n_out, mean, sigma)                                                                 \
    do {                                                                                                               \
        m->field[il] = gen((size_t)(n_in) * (n_out), mean, sigma);                                                     \
        snprintf(name, sizeof name, "blk.%d." suffix, il);                                                             \
        add_tensor(w, name, ty, m->field[il], n_in, n_out);                                                            \
    } while (0)
        if (f == FAULT_BAD_SHAPE && il == 0) {
            T(wq, "attn_q.weight", type, E, N_FF, 0.0f, 0.15f);
        } else {
            T(wq, "attn_q.weight", type, E, E, 0.0f, 0.15f);
        }
        T(bq, "attn_q.bias", f32, E, 1, 0.0f, 0.1f);
        T(wk, "attn_k.weight", type, E, E, 0.0f, 0.15f);
        T(bk, "attn_k.bias", f32, E, 1, 0.0f, 0.1f);
        T(wv, "attn_v.weight", type, E, E, 0.0f, 0.15f);
        T(bv, "attn_v.bias", f32, E, 1, 0.0f, 0.1f);
        T(wo, "attn_output.weight", type, E, E, 0.0f, 0.15f);
        T(bo, "attn_output.bias", f32, E, 1, 0.0f, 0.1f);
        T(an_w, "attn_output_norm.weight", f32, E, 1, 1.0f, 0.1f);
        T(an_b, "attn_output_norm.bias", f32, E, 1, 0.0f, 0.1f);
        T(up, "ffn_up.weight", type, E, N_FF, 0.0f, 0.15f);
        T(bup, "ffn_up.bias", f32, N_FF, 1, 0.0f, 0.1f);
        T(down, "ffn_down.weight", type, N_FF, E, 0.0f, 0.1f);
        if (f == FAULT_MISSING && il == 1) {
            m->bdown[il] = gen(E, 0.0f, 0.1f);
        } else {
            T(bdown, "ffn_down.bias", f32, E, 1, 0.0f, 0.1f);
        }
        T(on_w, "layer_output_norm.weight", f32, E, 1, 1.0f, 0.1f);
        T(on_b, "layer_output_norm.bias", f32, E, 1, 0.0f, 0.1f);
#undef T
    }
    md_buf_init(&m->file);
    md_error err = {0};
    CHECK_MSG(md_gguf_writer_write_buf(w, &m->file, &err) == MD_OK, "%s", err.message);
    md_gguf_writer_free(w);
}

static void own_free(own_model *m) {
    float **all[] = {&m->tok, &m->pos, &m->types, &m->en_w, &m->en_b};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        free(*all[i]);
    for (int il = 0; il < N_LAYER; il++) {
        float *per[] = {m->wq[il], m->wk[il], m->wv[il],  m->wo[il],  m->up[il],   m->down[il], m->bq[il],
                        m->bk[il], m->bv[il], m->bo[il],  m->bup[il], m->bdown[il], m->an_w[il], m->an_b[il],
                        m->on_w[il], m->on_b[il]};
        for (size_t i = 0; i < sizeof per / sizeof per[0]; i++)
            free(per[i]);
    }
    md_buf_free(&m->file);
}

/* ---- float64 reference forward pass -------------------------------------------------------- */

static void ref_ln(double *x, const float *w, const float *b) {
    double mean = 0.0, var = 0.0;
    for (int i = 0; i < E; i++)
        mean += x[i];
    mean /= E;
    for (int i = 0; i < E; i++)
        var += (x[i] - mean) * (x[i] - mean);
    var /= E;
    const double s = 1.0 / sqrt(var + 1e-12);
    for (int i = 0; i < E; i++)
        x[i] = (x[i] - mean) * s * w[i] + b[i];
}

static void ref_lin(const float *w, const float *b, const double *x, double *y, int n_in, int n_out) {
    for (int r = 0; r < n_out; r++) {
        double s = b[r];
        for (int i = 0; i < n_in; i++)
            s += (double)w[(size_t)r * n_in + i] * x[i];
        y[r] = s;
    }
}

/* hidden (n, E) for one sentence. */
static void ref_forward(const own_model *m, const int32_t *ids, int n, double *hidden) {
    double *q = calloc((size_t)n * E, sizeof *q), *k = calloc((size_t)n * E, sizeof *k);
    double *v = calloc((size_t)n * E, sizeof *v), *a = calloc((size_t)n * E, sizeof *a);
    double ff[N_FF], o[E], sc[N_CTX_TRAIN];
    for (int t = 0; t < n; t++) {
        double *x = hidden + (size_t)t * E;
        for (int i = 0; i < E; i++)
            x[i] = (double)m->tok[(size_t)ids[t] * E + i] + m->types[i] + m->pos[(size_t)t * E + i];
        ref_ln(x, m->en_w, m->en_b);
    }
    for (int il = 0; il < N_LAYER; il++) {
        for (int t = 0; t < n; t++) {
            ref_lin(m->wq[il], m->bq[il], hidden + t * E, q + t * E, E, E);
            ref_lin(m->wk[il], m->bk[il], hidden + t * E, k + t * E, E, E);
            ref_lin(m->wv[il], m->bv[il], hidden + t * E, v + t * E, E, E);
        }
        for (int t = 0; t < n; t++)
            for (int h = 0; h < N_HEAD; h++) {
                double mx = -1e300, sum = 0.0;
                for (int j = 0; j < n; j++) {
                    double s = 0.0;
                    for (int i = 0; i < HD; i++)
                        s += q[t * E + h * HD + i] * k[j * E + h * HD + i];
                    sc[j] = s / sqrt((double)HD);
                    if (sc[j] > mx) mx = sc[j];
                }
                for (int j = 0; j < n; j++)
                    sum += (sc[j] = exp(sc[j] - mx));
                for (int i = 0; i < HD; i++) {
                    double s = 0.0;
                    for (int j = 0; j < n; j++)
                        s += sc[j] / sum * v[j * E + h * HD + i];
                    a[t * E + h * HD + i] = s;
                }
            }
        for (int t = 0; t < n; t++) {
            double *x = hidden + (size_t)t * E;
            ref_lin(m->wo[il], m->bo[il], a + t * E, o, E, E);
            for (int i = 0; i < E; i++)
                x[i] += o[i];
            ref_ln(x, m->an_w[il], m->an_b[il]);
            ref_lin(m->up[il], m->bup[il], x, ff, E, N_FF);
            for (int i = 0; i < N_FF; i++)
                ff[i] = 0.5 * ff[i] * (1.0 + tanh(sqrt(2.0 / M_PI) * (ff[i] + 0.044715 * ff[i] * ff[i] * ff[i])));
            ref_lin(m->down[il], m->bdown[il], ff, o, N_FF, E);
            for (int i = 0; i < E; i++)
                x[i] += o[i];
            ref_ln(x, m->on_w[il], m->on_b[il]);
        }
    }
    free(q);
    free(k);
    free(v);
    free(a);
}

static void ref_pool(const double *hidden, int n, md_bert_pooling p, bool normalize, double *out) {
    for (int i = 0; i < E; i++) {
        if (p == MD_BERT_POOLING_MEAN) {
            double s = 0.0;
            for (int t = 0; t < n; t++)
                s += hidden[t * E + i];
            out[i] = s / n;
        } else {
            out[i] = hidden[(p == MD_BERT_POOLING_CLS ? 0 : n - 1) * E + i];
        }
    }
    if (normalize) {
        double ss = 0.0;
        for (int i = 0; i < E; i++)
            ss += out[i] * out[i];
        for (int i = 0; i < E; i++)
            out[i] /= sqrt(ss);
    }
}

/* ---- tests on the own model ------------------------------------------------------------------ */

static md_bert_model *own_load(const own_model *m, md_gguf **g, md_error *err) {
    *g = NULL;
    md_bert_model *model = NULL;
    if (md_gguf_open_memory(m->file.data, m->file.len, g, err) != MD_OK) return NULL;
    if (md_bert_load_gguf(*g, md_bert_model_default_params(), &model, err) != MD_OK) {
        md_gguf_close(*g);
        *g = NULL;
        return NULL;
    }
    return model;
}

static md_bert_ctx *ctx_for(const md_bert_model *model, md_bert_pooling p, bool normalize, md_bert_matmul mm,
                            uint32_t n_batch) {
    md_bert_ctx_params cp = md_bert_ctx_default_params();
    cp.pooling = p;
    cp.normalize = normalize;
    cp.matmul = mm;
    cp.n_batch = n_batch;
    md_bert_ctx *c = NULL;
    md_error err = {0};
    CHECK_MSG(md_bert_ctx_new(model, cp, &c, &err) == MD_OK, "%s", err.message);
    return c;
}

/* Sentences of different lengths (ids drawn from the vocabulary, [CLS] ... [SEP]). */
enum { N_SENT = 5 };
static const size_t k_lens[N_SENT] = {3, 9, 2, 16, 6};

static void make_sentences(int32_t seqs[N_SENT][N_CTX_TRAIN]) {
    rng_state = 77;
    for (int s = 0; s < N_SENT; s++) {
        seqs[s][0] = ID_CLS;
        for (size_t t = 1; t + 1 < k_lens[s]; t++)
            seqs[s][t] = 5 + (int32_t)(rng_uniform() * (N_VOCAB - 5));
        seqs[s][k_lens[s] - 1] = ID_SEP;
    }
}

static void test_against_reference(md_tensor_type type, md_bert_matmul mm, double tol) {
    own_model m;
    own_build(&m, type, MD_BERT_POOLING_MEAN, FAULT_NONE);
    md_error err = {0};
    md_gguf *g = NULL;
    md_bert_model *model = own_load(&m, &g, &err);
    CHECK_MSG(model != NULL, "%s", err.message);
    if (!model) {
        own_free(&m);
        return;
    }
    CHECK_EQ_INT(md_bert_model_hparams(model)->n_embd, E);
    CHECK_EQ_INT(md_bert_model_hparams(model)->n_token_types, N_TYPES);
    CHECK_EQ_INT(md_bert_model_hparams(model)->pooling, MD_BERT_POOLING_MEAN);
    CHECK_EQ_STR(md_bert_model_name(model), "own-tiny-bert");
    int32_t seqs[N_SENT][N_CTX_TRAIN];
    make_sentences(seqs);
    const int32_t *ptrs[N_SENT];
    size_t total = 0;
    for (int s = 0; s < N_SENT; s++) {
        ptrs[s] = seqs[s];
        total += k_lens[s];
    }
    double *hid = malloc(total * E * sizeof *hid), ref[E];
    for (size_t s = 0, off = 0; s < N_SENT; off += k_lens[s], s++)
        ref_forward(&m, seqs[s], (int)k_lens[s], hid + off * E);

    /* per-token hidden states */
    md_bert_ctx *c = ctx_for(model, MD_BERT_POOLING_NONE, false, mm, 0);
    float *out = malloc(total * E * sizeof *out);
    CHECK_MSG(md_bert_encode(c, ptrs, k_lens, N_SENT, out, &err) == MD_OK, "%s", err.message);
    double worst = 0.0;
    for (size_t r = 0; r < total; r++) {
        double e = rel_l2_d(out + r * E, hid + r * E, E);
        if (e > worst) worst = e;
    }
    CHECK_MSG(worst <= tol, "type %s matmul %d: hidden rel L2 %.3g > %.3g", md_tensor_type_name(type), (int)mm, worst,
              tol);
    fprintf(stderr, "bert own %s matmul %d: hidden max rel L2 %.3g\n", md_tensor_type_name(type), (int)mm, worst);
    md_bert_ctx_free(c);

    /* pooling modes, raw and normalised */
    const md_bert_pooling modes[3] = {MD_BERT_POOLING_MEAN, MD_BERT_POOLING_CLS, MD_BERT_POOLING_LAST};
    for (int mi = 0; mi < 3; mi++)
        for (int nz = 0; nz < 2; nz++) {
            c = ctx_for(model, modes[mi], nz != 0, mm, 0);
            CHECK_EQ_INT(md_bert_ctx_pooling(c), modes[mi]);
            CHECK(md_bert_encode(c, ptrs, k_lens, N_SENT, out, &err) == MD_OK);
            for (size_t s = 0, off = 0; s < N_SENT; off += k_lens[s], s++) {
                ref_pool(hid + off * E, (int)k_lens[s], modes[mi], nz != 0, ref);
                double e = rel_l2_d(out + s * E, ref, E);
                CHECK_MSG(e <= tol, "pooling %d normalize %d sentence %zu: rel L2 %.3g", (int)modes[mi], nz, s, e);
                if (nz) CHECK_NEAR(norm_f(out + s * E, E), 1.0, 1e-6);
            }
            md_bert_ctx_free(c);
        }
    free(out);
    free(hid);
    md_bert_free(model);
    md_gguf_close(g);
    own_free(&m);
}

/* Batches of several sentences (padded to the longest, masked) give exactly what
 * encoding each sentence alone gives, whatever the batch size. */
static void test_batching(void) {
    own_model m;
    own_build(&m, MD_TENSOR_TYPE_F32, MD_BERT_POOLING_MEAN, FAULT_NONE);
    md_error err = {0};
    md_gguf *g = NULL;
    md_bert_model *model = own_load(&m, &g, &err);
    CHECK(model != NULL);
    int32_t seqs[N_SENT][N_CTX_TRAIN];
    make_sentences(seqs);
    const int32_t *ptrs[N_SENT];
    for (int s = 0; s < N_SENT; s++)
        ptrs[s] = seqs[s];
    float one[N_SENT][E], *all = malloc(N_SENT * E * sizeof(float));
    md_bert_ctx *c1 = ctx_for(model, MD_BERT_POOLING_MEAN, true, MD_BERT_MATMUL_GGML, 0);
    for (int s = 0; s < N_SENT; s++)
        CHECK(md_bert_encode(c1, &ptrs[s], &k_lens[s], 1, one[s], &err) == MD_OK);
    /* n_batch 16: one sentence per batch but {2}; 40: {3, 9, 2} then {16, 6}; 0 (2048): one batch */
    const uint32_t batches[3] = {16, 40, 0};
    for (int b = 0; b < 3; b++) {
        md_bert_ctx *cb = ctx_for(model, MD_BERT_POOLING_MEAN, true, MD_BERT_MATMUL_GGML, batches[b]);
        memset(all, 0, N_SENT * E * sizeof(float));
        CHECK(md_bert_encode(cb, ptrs, k_lens, N_SENT, all, &err) == MD_OK);
        for (int s = 0; s < N_SENT; s++)
            CHECK_MSG(memcmp(all + s * E, one[s], sizeof one[s]) == 0, "n_batch %u sentence %d differs from alone",
                      batches[b], s);
        md_bert_ctx_free(cb);
    }
    /* worker threads split the weight rows: the same bits */
    md_bert_ctx_params tp = md_bert_ctx_default_params();
    tp.n_threads = 3;
    md_bert_ctx *ct = NULL;
    CHECK(md_bert_ctx_new(model, tp, &ct, &err) == MD_OK);
    memset(all, 0, N_SENT * E * sizeof(float));
    CHECK(md_bert_encode(ct, ptrs, k_lens, N_SENT, all, &err) == MD_OK);
    for (int s = 0; s < N_SENT; s++)
        CHECK_MSG(memcmp(all + s * E, one[s], sizeof one[s]) == 0, "3 threads: sentence %d differs", s);
    md_bert_ctx_free(ct);
    tp.n_threads = -1;
    CHECK_EQ_INT(md_bert_ctx_new(model, tp, &ct, &err), MD_ERR_INVALID_ARG);
    md_bert_ctx_free(c1);
    free(all);
    md_bert_free(model);
    md_gguf_close(g);
    own_free(&m);
}

static void test_texts_and_errors(void) {
    own_model m;
    own_build(&m, MD_TENSOR_TYPE_F32, MD_BERT_POOLING_MEAN, FAULT_NONE);
    md_error err = {0};
    md_gguf *g = NULL;
    md_bert_model *model = own_load(&m, &g, &err);
    CHECK(model != NULL);
    md_bert_ctx *c = ctx_for(model, MD_BERT_POOLING_MODEL, true, MD_BERT_MATMUL_GGML, 0);
    CHECK_EQ_INT(md_bert_ctx_n_ctx(c), N_CTX_TRAIN);
    CHECK_EQ_INT(md_bert_ctx_n_embd(c), E);

    /* a text equals its tokenizer ids: [CLS] the patient has short ness of breath . [SEP] */
    const char *texts[3] = {"The patient has shortness of breath.", "fever", ""};
    const int32_t ids0[] = {ID_CLS, 5, 6, 7, 14, 15, 16, 17, 18, ID_SEP};
    const int32_t ids1[] = {ID_CLS, 10, ID_SEP}, ids2[] = {ID_CLS, ID_SEP};
    const int32_t *ptrs[3] = {ids0, ids1, ids2};
    const size_t lens[3] = {10, 3, 2};
    float by_text[3][E], by_ids[3][E];
    CHECK_MSG(md_bert_embed_texts(c, texts, 3, &by_text[0][0], &err) == MD_OK, "%s", err.message);
    CHECK(md_bert_encode(c, ptrs, lens, 3, &by_ids[0][0], &err) == MD_OK);
    CHECK(memcmp(by_text, by_ids, sizeof by_text) == 0);

    /* a text of 2 + 20 tokens is cut to 15 tokens + [SEP] */
    const char *long_text[1] = {"fever and cough and chest pain and fever and cough and chest pain and fever and "
                                "cough and chest pain and fever"};
    int32_t cut[N_CTX_TRAIN];
    const int32_t period[7] = {10, 11, 12, 11, 8, 9, 11}; /* fever and cough and chest pain and */
    cut[0] = ID_CLS;
    for (int t = 1; t < N_CTX_TRAIN - 1; t++)
        cut[t] = period[(t - 1) % 7];
    cut[N_CTX_TRAIN - 1] = ID_SEP;
    size_t cut_len = N_CTX_TRAIN;
    const int32_t *cut_ptr[1] = {cut};
    float a[E], b[E];
    CHECK(md_bert_embed_texts(c, long_text, 1, a, &err) == MD_OK);
    CHECK(md_bert_encode(c, cut_ptr, &cut_len, 1, b, &err) == MD_OK);
    CHECK(memcmp(a, b, sizeof a) == 0);

    /* the md_embedder wrapper */
    md_embedder em = md_bert_embedder(c);
    CHECK_EQ_INT(em.dim, E);
    float c3[E];
    CHECK(em.embed(em.ctx, texts, 1, c3, &err) == MD_OK);
    CHECK(memcmp(c3, by_text[0], sizeof c3) == 0);

    /* bad arguments, checked before anything runs */
    const int32_t bad_id[3] = {ID_CLS, N_VOCAB, ID_SEP}, *bad_ptr[1] = {bad_id};
    size_t n3 = 3, n0 = 0, n17 = N_CTX_TRAIN + 1;
    int32_t long_ids[N_CTX_TRAIN + 1] = {0};
    const int32_t *long_ptr[1] = {long_ids};
    CHECK_EQ_INT(md_bert_encode(c, bad_ptr, &n3, 1, a, &err), MD_ERR_INVALID_ARG);
    CHECK(strstr(err.message, "vocabulary") != NULL);
    CHECK_EQ_INT(md_bert_encode(c, bad_ptr, &n0, 1, a, &err), MD_ERR_INVALID_ARG);
    CHECK_EQ_INT(md_bert_encode(c, long_ptr, &n17, 1, a, &err), MD_ERR_LIMIT);
    md_bert_ctx *cn = ctx_for(model, MD_BERT_POOLING_NONE, true, MD_BERT_MATMUL_GGML, 0);
    CHECK_EQ_INT(md_bert_embed_texts(cn, texts, 1, a, &err), MD_ERR_INVALID_ARG);
    md_bert_ctx_free(cn);
    md_bert_ctx_params cp = md_bert_ctx_default_params();
    cp.n_ctx = N_CTX_TRAIN + 1;
    md_bert_ctx *cx = NULL;
    CHECK_EQ_INT(md_bert_ctx_new(model, cp, &cx, &err), MD_ERR_INVALID_ARG);
    CHECK(cx == NULL);
    cp = md_bert_ctx_default_params();
    cp.pooling = (md_bert_pooling)7;
    CHECK_EQ_INT(md_bert_ctx_new(model, cp, &cx, &err), MD_ERR_INVALID_ARG);

    md_bert_ctx_free(c);
    md_bert_free(model);
    md_gguf_close(g);
    own_free(&m);
}

static void expect_load_error(fault f, md_status want, const char *needle) {
    own_model m;
    own_build(&m, MD_TENSOR_TYPE_F32, MD_BERT_POOLING_MEAN, f);
    if (f == FAULT_NAN) {
        /* the generator wrote finite values; poke a NaN into blk.0.attn_k.bias's data:
         * it is the only tensor whose values start with the bytes of m.bk[0][0..3] */
        char *p = NULL;
        for (size_t i = 0; i + 16 <= m.file.len && !p; i += 4)
            if (memcmp(m.file.data + i, m.bk[0], 16) == 0) p = m.file.data + i;
        CHECK(p != NULL);
        float nan = NAN;
        if (p) memcpy(p + 8, &nan, 4);
    }
    md_error err = {0};
    md_gguf *g = NULL;
    md_bert_model *model = NULL;
    CHECK(md_gguf_open_memory(m.file.data, m.file.len, &g, &err) == MD_OK);
    md_status st = md_bert_load_gguf(g, md_bert_model_default_params(), &model, &err);
    CHECK_MSG(st == want, "fault %d: status %d (%s), want %d", (int)f, (int)st, err.message, (int)want);
    CHECK_MSG(strstr(err.message, needle) != NULL, "fault %d: message '%s' lacks '%s'", (int)f, err.message, needle);
    CHECK(model == NULL);
    md_bert_free(model);
    md_gguf_close(g);
    own_free(&m);
}

static void test_hostile(void) {
    expect_load_error(FAULT_ARCH, MD_ERR_UNSUPPORTED, "llama");
    expect_load_error(FAULT_MISSING_KEY, MD_ERR_PARSE, "bert.embedding_length");
    expect_load_error(FAULT_HEADS, MD_ERR_PARSE, "n_head 5");
    expect_load_error(FAULT_BAD_SHAPE, MD_ERR_PARSE, "blk.0.attn_q.weight has shape [32, 64], expected [32, 32]");
    expect_load_error(FAULT_MISSING, MD_ERR_PARSE, "blk.1.ffn_down.bias is missing");
    expect_load_error(FAULT_SHORT_POS, MD_ERR_PARSE, "position_embd.weight has shape [32, 8]");
    expect_load_error(FAULT_RANK, MD_ERR_UNSUPPORTED, "RANK");
    expect_load_error(FAULT_POOLING, MD_ERR_PARSE, "pooling_type 9");
    expect_load_error(FAULT_CAUSAL, MD_ERR_UNSUPPORTED, "causal");
    expect_load_error(FAULT_NAN, MD_ERR_PARSE, "blk.0.attn_k.bias holds a non-finite value at 2");
    expect_load_error(FAULT_VOCAB, MD_ERR_PARSE, "tokenizer has 28 tokens");
    md_error err = {0};
    md_bert_model *model = NULL;
    CHECK_EQ_INT(md_bert_load("/nonexistent/model.gguf", md_bert_model_default_params(), &model, &err),
                 MD_ERR_NOT_FOUND);
}

/* Every allocation of load and context creation failing in turn: each is an error
 * value (never a crash or a leak), and the run without failures succeeds and encodes
 * (encoding itself allocates nothing). Text embedding is left out: the WordPiece
 * tokenizer does not yet report a failed word buffer. */
static void test_oom(void) {
    own_model m;
    own_build(&m, MD_TENSOR_TYPE_F32, MD_BERT_POOLING_MEAN, FAULT_NONE);
    const int32_t ids[4] = {ID_CLS, 6, 9, ID_SEP}, *seqs[1] = {ids};
    const size_t n_ids = 4;
    float out[E];
    int n_failed_runs = 0;
    for (uint64_t n = 1; n < 100000; n++) {
        md_error err = {0};
        md_gguf *g = NULL;
        md_bert_model *model = NULL;
        md_bert_ctx *c = NULL;
        md_alloc_fail_after(n, false);
        md_status st = md_gguf_open_memory(m.file.data, m.file.len, &g, &err);
        if (st == MD_OK) st = md_bert_load_gguf(g, md_bert_model_default_params(), &model, &err);
        if (st == MD_OK) st = md_bert_ctx_new(model, md_bert_ctx_default_params(), &c, &err);
        if (st == MD_OK) st = md_bert_encode(c, seqs, &n_ids, 1, out, &err);
        const bool failed = md_alloc_failed();
        md_alloc_fail_after(0, false);
        md_bert_ctx_free(c);
        md_bert_free(model);
        md_gguf_close(g);
        if (!failed) {
            CHECK_MSG(st == MD_OK, "without an injected failure: %s", err.message);
            break;
        }
        n_failed_runs++;
        CHECK_MSG(st != MD_OK, "allocation %llu failed but the run reported success", (unsigned long long)n);
    }
    CHECK(n_failed_runs > 10);
    own_free(&m);
}

/* ---- fixtures ---------------------------------------------------------------------------------- */

static float *read_f32(const char *path, size_t n_expected) {
    char *data = NULL;
    size_t n = 0;
    md_error err = {0};
    if (md_read_file(path, 64u << 20, &data, &n, &err) != MD_OK || n != n_expected * sizeof(float)) {
        CHECK_MSG(false, "cannot read %s (%zu bytes, want %zu): %s", path, n, n_expected * sizeof(float), err.message);
        md_free(data);
        return NULL;
    }
    float *v = malloc(n);
    memcpy(v, data, n);
    md_free(data);
    return v;
}

static void test_fixture(const char *dir, const char *stem, double pooled_cos) {
    char path[4096];
    snprintf(path, sizeof path, "%s/ref/%s.json", dir, stem);
    json_error_t je;
    json_t *root = json_load_file(path, 0, &je);
    CHECK_MSG(root != NULL, "%s: %s", path, je.text);
    if (!root) return;
    json_t *sent = json_object_get(root, "sentences"), *ids = json_object_get(root, "token_ids");
    size_t n_sent = json_array_size(sent), total = 0;
    for (size_t s = 0; s < n_sent; s++)
        total += json_array_size(json_array_get(ids, s));
    snprintf(path, sizeof path, "%s/models/%s.gguf", dir, stem);
    md_error err = {0};
    md_bert_model *model = NULL;
    CHECK_MSG(md_bert_load(path, md_bert_model_default_params(), &model, &err) == MD_OK, "%s", err.message);
    char p1[4096], p2[4096];
    snprintf(p1, sizeof p1, "%s/ref/%s.hidden.f32", dir, stem);
    snprintf(p2, sizeof p2, "%s/ref/%s.pooled_norm.f32", dir, stem);
    const size_t e = 128;
    float *hid_ref = read_f32(p1, total * e), *pool_ref = read_f32(p2, n_sent * e);
    if (!model || !hid_ref || !pool_ref || n_sent == 0 || n_sent > 16) goto done;
    CHECK_EQ_INT(md_bert_model_hparams(model)->n_embd, e);

    /* tokenization as llama.cpp's (add_special, parse_special) */
    int32_t toks[16][64];
    const int32_t *ptrs[16];
    size_t lens[16];
    for (size_t s = 0; s < n_sent; s++) {
        const char *text = json_string_value(json_array_get(sent, s));
        json_t *want = json_array_get(ids, s);
        CHECK(md_tokenize(md_bert_model_tokenizer(model), text, strlen(text), true, true, toks[s], 64, &lens[s]) ==
              MD_OK);
        CHECK_EQ_INT(lens[s], json_array_size(want));
        for (size_t t = 0; t < lens[s] && t < json_array_size(want); t++)
            CHECK_EQ_INT(toks[s][t], json_integer_value(json_array_get(want, t)));
        ptrs[s] = toks[s];
    }
    /* per-token hidden states, all sentences in one batch */
    md_bert_ctx *c = ctx_for(model, MD_BERT_POOLING_NONE, false, MD_BERT_MATMUL_GGML, 0);
    float *hid = malloc(total * e * sizeof *hid), *pooled = malloc(n_sent * e * sizeof *pooled);
    CHECK(md_bert_encode(c, ptrs, lens, n_sent, hid, &err) == MD_OK);
    double worst_cos = 1.0, worst_l2 = 0.0;
    for (size_t r = 0; r < total; r++) {
        double cs = cosine_f(hid + r * e, hid_ref + r * e, e), l2 = rel_l2_f(hid + r * e, hid_ref + r * e, e);
        if (cs < worst_cos) worst_cos = cs;
        if (l2 > worst_l2) worst_l2 = l2;
    }
    CHECK_MSG(worst_cos >= FIX_TOKEN_COS, "%s: per-token cosine %.9f", stem, worst_cos);
    CHECK_MSG(worst_l2 <= FIX_TOKEN_REL_L2, "%s: per-token rel L2 %.3g", stem, worst_l2);
    md_bert_ctx_free(c);
    /* normalised mean pooling (the file's pooling type), from text */
    c = ctx_for(model, MD_BERT_POOLING_MODEL, true, MD_BERT_MATMUL_GGML, 0);
    CHECK(md_bert_encode(c, ptrs, lens, n_sent, pooled, &err) == MD_OK);
    double worst_pool = 1.0;
    for (size_t s = 0; s < n_sent; s++) {
        double cs = cosine_f(pooled + s * e, pool_ref + s * e, e);
        if (cs < worst_pool) worst_pool = cs;
        CHECK_NEAR(norm_f(pooled + s * e, e), 1.0, 1e-6);
    }
    CHECK_MSG(worst_pool >= pooled_cos, "%s: pooled cosine %.9f", stem, worst_pool);
    fprintf(stderr, "bert fixture %s: per-token cosine >= %.9f, rel L2 <= %.3g, pooled cosine >= %.10f\n", stem,
            worst_cos, worst_l2, worst_pool);
    md_bert_ctx_free(c);
    free(hid);
    free(pooled);
done:
    free(hid_ref);
    free(pool_ref);
    md_bert_free(model);
    json_decref(root);
}

int main(void) {
    test_against_reference(MD_TENSOR_TYPE_F32, MD_BERT_MATMUL_F32, TOL_REF);
    test_against_reference(MD_TENSOR_TYPE_F32, MD_BERT_MATMUL_GGML, TOL_GGML);
    test_against_reference(MD_TENSOR_TYPE_F16, MD_BERT_MATMUL_F32, TOL_REF);
    test_against_reference(MD_TENSOR_TYPE_F16, MD_BERT_MATMUL_GGML, TOL_GGML);
    test_against_reference(MD_TENSOR_TYPE_Q8_0, MD_BERT_MATMUL_F32, TOL_REF);
    test_against_reference(MD_TENSOR_TYPE_Q8_0, MD_BERT_MATMUL_GGML, TOL_GGML_Q8_0);
    test_batching();
    test_texts_and_errors();
    test_hostile();
    test_oom();

    const char *dir = getenv("MEDIFY_FIXTURES");
    char probe[4096];
    snprintf(probe, sizeof probe, "%s/models/tiny-bert-f32.gguf", dir ? dir : "");
    FILE *f = dir ? fopen(probe, "rb") : NULL;
    if (!f) {
        fprintf(stderr, "test_engine_bert: SKIP fixture checks: %s (set MEDIFY_FIXTURES to the shared fixtures)\n",
                dir ? probe : "MEDIFY_FIXTURES is unset");
    } else {
        fclose(f);
        test_fixture(dir, "tiny-bert-f32", FIX_POOLED_COS_F32);
        test_fixture(dir, "tiny-bert-f16", FIX_POOLED_COS_F16);
    }
    return check_report("test_engine_bert");
}
