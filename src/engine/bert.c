/* bert.c: contexts, the forward pass and pooling of the BERT-family encoder.
 *
 * A call to md_bert_encode runs its sentences in batches. A batch is a run of
 * consecutive sentences padded to the longest of them (L tokens), laid out [sentence]
 * [position] in n_seq·L rows with n_seq·L <= n_batch; every matrix is walked once per
 * batch, row by row, each weight row multiplied with every activation row. Padding rows
 * are computed like real ones (they hold zeros after the embedding step) but attention
 * masks them out as keys, their attention output is zero, and pooling ignores them, so
 * a sentence's result does not depend on what it is batched with.
 *
 * Numerics follow llama.cpp's CPU graph for LLM_ARCH_BERT (ggml-cpu, c392e509):
 *   embedding  (token_embd[id] + token_types[0]) + position_embd[pos]
 *   LayerNorm  mean and biased variance with sums in double, y = (x − mean)·
 *              (1/sqrtf(var + eps)), then ·w + b (Ba et al. 2016;
 *              ggml_compute_forward_norm_f32)
 *   attention  scores q·k in double, ·1/√head_dim, softmax in float32 with the sum in
 *              double, weighted sum of V in float32 (ggml_soft_max_f32); no causal mask
 *   GELU       the tanh form 0.5x(1 + tanh(√(2/π)(x + 0.044715x³))) (Hendrycks &
 *              Gimpel 2016, eq. 2); in GGML mode as ggml-cpu with GGML_GELU_FP16
 *              computes it: x rounded to fp16, the f32 result rounded to fp16 (its
 *              65536-entry table), x <= −10 → 0, x >= 10 → x
 *   matmul     MD_BERT_MATMUL_GGML: the batched product of kernels.h on the context's
 *              threads (activations quantised once to the weight type's vec_dot_type,
 *              one SIMD dot per weight row and token, as md_vec_dot computes it up to
 *              float rounding; F32 weights accumulate in float as ggml-cpu does);
 *              MD_BERT_MATMUL_F32: weight rows dequantised to f32, double dots (F32
 *              rows read in place; kernels.h dot_f32_f64, bit-identical on every level)
 *   pooling    MEAN averages every real row ([CLS] and [SEP] included) in double;
 *              CLS takes row 0, LAST the last real row; L2 normalisation in double.
 *
 * Memory: md_bert_ctx_new allocates one scratch block sized for n_batch rows plus the
 * token buffers md_bert_embed_texts uses; encoding allocates nothing.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "engine/bert_internal.h"
#include "engine/kernels.h"

#define SCRATCH_ALIGN 64 /* bytes: a cache line, so each buffer starts on its own */
/* md_bert_embed_texts tokenizes at most this many bytes per allowed token of a text
 * (English WordPiece averages 4-5 bytes per token), so the token buffer is bounded
 * and a very long text costs no more than a long-enough prefix of it. */
#define TEXT_BYTES_PER_TOKEN 8u
#define GELU_COEF_A    0.044715f
#define SQRT_2_OVER_PI 0.79788456080286535587989211986876f

struct md_bert_ctx {
    const md_bert_model *model;
    const md_kernels *kernels; /* md_kernels_get(): the CPU's best level */
    md_pool *pool;             /* NULL: the calling thread alone */
    md_matmul mm;              /* the product being run (its counter is shared by the threads) */
    md_bert_ctx_params params;
    md_bert_pooling pooling;
    uint32_t n_ctx;
    uint32_t n_batch;
    void *scratch;
    float *x;          /* (n_batch, n_embd) hidden state */
    float *q, *k, *v;  /* (n_batch, n_embd) */
    float *att;        /* (n_batch, n_embd) attention output */
    float *tmp;        /* (n_batch, n_embd) projection / FFN output */
    float *ff;         /* (n_batch, n_ff) */
    float *scores;     /* (n_ctx) one head's attention weights */
    float *wrow;       /* (max_in) a weight row dequantised */
    uint8_t *xq;       /* (n_batch, xq_stride) activations in the vec_dot type */
    size_t xq_stride;
    /* md_bert_embed_texts */
    int32_t *text_tokens;   /* (text_cap) one text's tokens before truncation */
    size_t text_cap;
    int32_t *batch_tokens;  /* (n_batch) the tokens of a group of texts, packed */
    const int32_t **seqs;   /* (n_batch) */
    size_t *lens;           /* (n_batch) */
};

/* ---- contexts ----------------------------------------------------------------------------- */

static bool reserve(size_t *offset, size_t n_bytes, size_t *at) {
    size_t o = (*offset + SCRATCH_ALIGN - 1) / SCRATCH_ALIGN * SCRATCH_ALIGN;
    if (o < *offset || __builtin_add_overflow(o, n_bytes, offset)) return false;
    *at = o;
    return true;
}

md_bert_ctx_params md_bert_ctx_default_params(void) {
    return (md_bert_ctx_params){.n_ctx = 0,
                                .n_batch = 0,
                                .pooling = MD_BERT_POOLING_MODEL,
                                .normalize = true,
                                .matmul = MD_BERT_MATMUL_GGML,
                                .n_threads = 1};
}

md_status md_bert_ctx_new(const md_bert_model *model, md_bert_ctx_params params, md_bert_ctx **out, md_error *err) {
    if (!model || !out) return md_error_set(err, MD_ERR_INVALID_ARG, "md_bert_ctx_new: NULL argument");
    *out = NULL;
    const md_bert_hparams *hp = &model->hp;
    uint32_t n_ctx = params.n_ctx;
    if (n_ctx == 0) n_ctx = hp->n_ctx_train < MD_BERT_DEFAULT_N_CTX ? hp->n_ctx_train : MD_BERT_DEFAULT_N_CTX;
    if (n_ctx > hp->n_ctx_train)
        return md_error_set(err, MD_ERR_INVALID_ARG, "context: n_ctx %u exceeds the model's %u positions", n_ctx,
                            hp->n_ctx_train);
    if (n_ctx < 2) return md_error_set(err, MD_ERR_INVALID_ARG, "context: n_ctx %u leaves no room for [CLS] [SEP]", n_ctx);
    md_bert_pooling pooling = params.pooling == MD_BERT_POOLING_MODEL ? hp->pooling : params.pooling;
    if (pooling < MD_BERT_POOLING_NONE || pooling > MD_BERT_POOLING_LAST)
        return md_error_set(err, MD_ERR_INVALID_ARG, "context: unknown pooling %d", (int)params.pooling);
    if (params.matmul != MD_BERT_MATMUL_GGML && params.matmul != MD_BERT_MATMUL_F32)
        return md_error_set(err, MD_ERR_INVALID_ARG, "context: unknown matmul mode %d", (int)params.matmul);
    if (params.n_threads < 0 || params.n_threads > MD_POOL_MAX_THREADS)
        return md_error_set(err, MD_ERR_INVALID_ARG, "context: n_threads %d is outside 0..%d", params.n_threads,
                            MD_POOL_MAX_THREADS);
    uint32_t n_batch = params.n_batch ? params.n_batch : MD_BERT_DEFAULT_N_BATCH;
    if (n_batch < n_ctx) n_batch = n_ctx;
    if (n_batch > MD_BERT_MAX_CTX * 16u)
        return md_error_set(err, MD_ERR_INVALID_ARG, "context: n_batch %u is above %u", n_batch, MD_BERT_MAX_CTX * 16u);

    md_bert_ctx *c = md_calloc(1, sizeof *c);
    if (!c) return md_error_set(err, MD_ERR_NOMEM, "context: out of memory");
    c->model = model;
    c->kernels = md_kernels_get();
    c->params = params;
    c->pooling = pooling;
    c->n_ctx = n_ctx;
    c->n_batch = n_batch;
    size_t max_in = hp->n_embd > hp->n_ff ? hp->n_embd : hp->n_ff;
    c->xq_stride = max_in * sizeof(float); /* F32 is the widest vec_dot type per element */
    /* WordPiece gives at most one token per byte plus [CLS], [SEP] and a bare '▁'
     * piece per word: twice the bytes is a bound in practice (a retry covers the rest) */
    c->text_cap = 2 * (size_t)n_ctx * TEXT_BYTES_PER_TOKEN + 8;

    /* Each product is below 2^24 rows · 2^18 floats · 4 bytes = 2^44: no overflow on a
     * 64-bit size_t; reserve() checks the running sum. */
    const size_t nb = n_batch, fb = sizeof(float), e = hp->n_embd;
    const size_t sizes[] = {nb * e * fb,   nb * e * fb,          nb * e * fb,       nb * e * fb,
                            nb * e * fb,   nb * e * fb,          nb * hp->n_ff * fb, (size_t)n_ctx * fb,
                            max_in * fb,   nb * c->xq_stride, c->text_cap * sizeof(int32_t),
                            nb * sizeof(int32_t), nb * sizeof(int32_t *), nb * sizeof(size_t)};
    size_t at[MD_ARRAY_LEN(sizes)], off = 0;
    bool ok = true;
    for (size_t i = 0; ok && i < MD_ARRAY_LEN(sizes); i++)
        ok = reserve(&off, sizes[i], &at[i]);
    if (!ok) {
        md_free(c);
        return md_error_set(err, MD_ERR_TOO_LARGE, "context: scratch for n_batch %u does not fit in memory", n_batch);
    }
    c->scratch = md_calloc(1, off);
    if (!c->scratch) {
        md_free(c);
        return md_error_set(err, MD_ERR_NOMEM, "context: out of memory for %zu bytes of scratch", off);
    }
    uint8_t *s = c->scratch;
    c->x = (float *)(void *)(s + at[0]);
    c->q = (float *)(void *)(s + at[1]);
    c->k = (float *)(void *)(s + at[2]);
    c->v = (float *)(void *)(s + at[3]);
    c->att = (float *)(void *)(s + at[4]);
    c->tmp = (float *)(void *)(s + at[5]);
    c->ff = (float *)(void *)(s + at[6]);
    c->scores = (float *)(void *)(s + at[7]);
    c->wrow = (float *)(void *)(s + at[8]);
    c->xq = s + at[9];
    c->text_tokens = (int32_t *)(void *)(s + at[10]);
    c->batch_tokens = (int32_t *)(void *)(s + at[11]);
    c->seqs = (const int32_t **)(void *)(s + at[12]);
    c->lens = (size_t *)(void *)(s + at[13]);
    const int n_threads = params.n_threads ? params.n_threads : md_pool_n_cpus();
    if (n_threads > 1) {
        md_status st = md_pool_new(n_threads, &c->pool, err);
        if (st != MD_OK) {
            md_bert_ctx_free(c);
            return st;
        }
    }
    *out = c;
    return MD_OK;
}

void md_bert_ctx_free(md_bert_ctx *ctx) {
    if (!ctx) return;
    md_pool_free(ctx->pool);
    md_free(ctx->scratch);
    md_free(ctx);
}

uint32_t md_bert_ctx_n_ctx(const md_bert_ctx *ctx) { return ctx ? ctx->n_ctx : 0; }
md_bert_pooling md_bert_ctx_pooling(const md_bert_ctx *ctx) { return ctx ? ctx->pooling : MD_BERT_POOLING_NONE; }
uint32_t md_bert_ctx_n_embd(const md_bert_ctx *ctx) { return ctx ? ctx->model->hp.n_embd : 0; }

/* ---- building blocks --------------------------------------------------------------------- */

/* Σ a[i]·b[i] in double, four interleaved partial sums (as llama.c's dot_f32). */
static double dot_f32(const float *a, const float *b, size_t n) {
    double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0;
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        s0 += (double)a[i] * (double)b[i];
        s1 += (double)a[i + 1] * (double)b[i + 1];
        s2 += (double)a[i + 2] * (double)b[i + 2];
        s3 += (double)a[i + 3] * (double)b[i + 3];
    }
    for (; i < n; i++)
        s0 += (double)a[i] * (double)b[i];
    return (s0 + s1) + (s2 + s3);
}

/* out (n_rows, w->n_out) = in (n_rows, w->n_in) · wᵀ + bias. The one place the
 * encoder multiplies matrices. */
static md_status matmul(md_bert_ctx *c, const bert_weight *w, const float *bias, const float *in, size_t n_rows,
                        float *out) {
    const uint8_t *rows = w->data;
    const size_t n_in = w->n_in, n_out = w->n_out;
    if (c->params.matmul == MD_BERT_MATMUL_GGML) {
        /* kernels.h: activations quantised once to the vec_dot type, then one SIMD
         * md_vec_dot-style dot per (weight row, token row), rows split over the pool */
        const md_tensor_type vt = md_tensor_traits_get(w->type)->vec_dot_type; /* checked at load */
        if (!c->kernels->vec_dot[w->type] || !c->kernels->quantize[vt]) return MD_ERR_UNSUPPORTED;
        md_matmul *mm = &c->mm;
        *mm = (md_matmul){.kernels = c->kernels, .n_weights = 1, .n_in = n_in, .n_tok = n_rows, .x = in, .ldx = n_in,
                          .xq = c->xq, .xq_stride = c->xq_stride};
        mm->w[0] = (md_matmul_weight){.data = w->data, .type = w->type, .row_bytes = w->row_bytes, .n_out = n_out,
                                      .y = out, .ldy = n_out};
        md_matmul_run(c->pool, mm);
    } else if (w->type == MD_TENSOR_TYPE_F32 && (uintptr_t)w->data % sizeof(float) == 0) {
        /* f32 rows in place, double dots: bit-identical to dot_f32 on every ISA level */
        for (size_t r = 0; r < n_out; r++) {
            const float *row = (const float *)(const void *)(rows + r * w->row_bytes);
            for (size_t t = 0; t < n_rows; t++)
                out[t * n_out + r] = (float)c->kernels->dot_f32_f64(row, in + t * n_in, n_in);
        }
    } else {
        for (size_t r = 0; r < n_out; r++) {
            if (md_dequantize_row(w->type, rows + r * w->row_bytes, c->wrow, (int64_t)n_in) != MD_OK)
                return MD_ERR_UNSUPPORTED;
            for (size_t t = 0; t < n_rows; t++)
                out[t * n_out + r] = (float)dot_f32(c->wrow, in + t * n_in, n_in);
        }
    }
    if (bias)
        for (size_t t = 0; t < n_rows; t++)
            for (size_t r = 0; r < n_out; r++)
                out[t * n_out + r] += bias[r];
    return MD_OK;
}

/* q, k, v = x·Wqᵀ + bq, ... : in GGML mode one product with three weights, so the
 * activations are quantised once (kernels.h); otherwise three products. */
static md_status matmul_qkv(md_bert_ctx *c, const bert_layer *ly, const float *in, size_t n_rows) {
    const bert_weight *ws[3] = {&ly->wq, &ly->wk, &ly->wv};
    const float *bs[3] = {ly->bq, ly->bk, ly->bv};
    float *outs[3] = {c->q, c->k, c->v};
    const md_tensor_type vt = md_tensor_traits_get(ws[0]->type)->vec_dot_type; /* checked at load */
    bool grouped = c->params.matmul == MD_BERT_MATMUL_GGML && c->kernels->quantize[vt];
    for (int i = 0; grouped && i < 3; i++)
        grouped = c->kernels->vec_dot[ws[i]->type] && md_tensor_traits_get(ws[i]->type)->vec_dot_type == vt;
    if (!grouped) {
        for (int i = 0; i < 3; i++) {
            md_status st = matmul(c, ws[i], bs[i], in, n_rows, outs[i]);
            if (st != MD_OK) return st;
        }
        return MD_OK;
    }
    const size_t n_in = ws[0]->n_in, n_out = ws[0]->n_out; /* all (n_embd → n_embd) */
    md_matmul *mm = &c->mm;
    *mm = (md_matmul){.kernels = c->kernels, .n_weights = 3, .n_in = n_in, .n_tok = n_rows, .x = in, .ldx = n_in,
                      .xq = c->xq, .xq_stride = c->xq_stride};
    for (int i = 0; i < 3; i++)
        mm->w[i] = (md_matmul_weight){.data = ws[i]->data, .type = ws[i]->type, .row_bytes = ws[i]->row_bytes,
                                      .n_out = n_out, .y = outs[i], .ldy = n_out};
    md_matmul_run(c->pool, mm);
    for (int i = 0; i < 3; i++)
        for (size_t t = 0; t < n_rows; t++)
            for (size_t r = 0; r < n_out; r++)
                outs[i][t * n_out + r] += bs[i][r];
    return MD_OK;
}

/* y = LayerNorm(x)·w + b over one row of n (y may be x). */
static void layer_norm(const float *x, const float *w, const float *b, float *y, size_t n, float eps) {
    double sum = 0.0;
    for (size_t i = 0; i < n; i++)
        sum += (double)x[i];
    const float mean = (float)(sum / (double)n);
    double sum2 = 0.0;
    for (size_t i = 0; i < n; i++) {
        const float d = x[i] - mean;
        y[i] = d;
        sum2 += (double)(d * d);
    }
    const float variance = (float)(sum2 / (double)n);
    const float scale = 1.0f / sqrtf(variance + eps);
    for (size_t i = 0; i < n; i++)
        y[i] = (y[i] * scale) * w[i] + b[i];
}

static float gelu_f32(float x) { return 0.5f * x * (1.0f + tanhf(SQRT_2_OVER_PI * x * (1.0f + GELU_COEF_A * x * x))); }

/* ggml-cpu's GELU with GGML_GELU_FP16: a table over fp16 inputs of fp16 results. */
static float gelu_ggml(float x) {
    if (x <= -10.0f) return 0.0f;
    if (x >= 10.0f) return x;
    const float xh = md_fp16_to_f32(md_f32_to_fp16(x));
    return md_fp16_to_f32(md_f32_to_fp16(gelu_f32(xh)));
}

/* ---- forward pass ------------------------------------------------------------------------- */

/* Bidirectional attention of one batch: n_seq sentences of lens[s] real tokens in
 * blocks of L rows. Writes att; padding rows get zeros. */
static void attention(md_bert_ctx *c, size_t n_seq, const size_t *lens, size_t L) {
    const md_bert_hparams *hp = &c->model->hp;
    const size_t e = hp->n_embd, hd = hp->head_dim;
    const float scale = 1.0f / sqrtf((float)hd);
    for (size_t s = 0; s < n_seq; s++) {
        const size_t n = lens[s], r0 = s * L;
        for (size_t t = n; t < L; t++)
            memset(c->att + (r0 + t) * e, 0, e * sizeof(float));
        for (size_t t = 0; t < n; t++) {
            for (size_t h = 0; h < hp->n_head; h++) {
                const float *qh = c->q + (r0 + t) * e + h * hd;
                float mx = -INFINITY;
                for (size_t j = 0; j < n; j++) {
                    const float sc = (float)c->kernels->dot_f32_f64(qh, c->k + (r0 + j) * e + h * hd, hd) * scale;
                    c->scores[j] = sc;
                    if (sc > mx) mx = sc;
                }
                double sum = 0.0;
                for (size_t j = 0; j < n; j++) {
                    const float p = expf(c->scores[j] - mx);
                    c->scores[j] = p;
                    sum += (double)p;
                }
                const float inv = (float)(1.0 / sum);
                float *oh = c->att + (r0 + t) * e + h * hd;
                memset(oh, 0, hd * sizeof(float));
                for (size_t j = 0; j < n; j++) {
                    const float p = c->scores[j] * inv;
                    const float *vh = c->v + (r0 + j) * e + h * hd;
                    for (size_t i = 0; i < hd; i++)
                        oh[i] += p * vh[i];
                }
            }
        }
    }
}

/* Runs one batch: x receives the final hidden states, row s·L + t. */
static md_status forward(md_bert_ctx *c, const int32_t *const *seqs, const size_t *lens, size_t n_seq, size_t L) {
    const md_bert_model *m = c->model;
    const md_bert_hparams *hp = &m->hp;
    const size_t e = hp->n_embd, n_rows = n_seq * L;
    const float eps = hp->norm_eps;
    for (size_t s = 0; s < n_seq; s++) {
        for (size_t t = 0; t < L; t++) {
            float *xr = c->x + (s * L + t) * e;
            if (t >= lens[s]) {
                memset(xr, 0, e * sizeof(float));
                continue;
            }
            const int32_t id = seqs[s][t];
            if (md_dequantize_row(m->tok_embd.type, (const uint8_t *)m->tok_embd.data + (size_t)id * m->tok_embd.row_bytes,
                                  xr, (int64_t)e) != MD_OK)
                return MD_ERR_UNSUPPORTED;
            const float *pos = m->pos_embd + t * e;
            for (size_t i = 0; i < e; i++) {
                const float ty = m->type_embd ? m->type_embd[i] : 0.0f; /* token type 0 */
                xr[i] = (xr[i] + ty) + pos[i];
            }
            layer_norm(xr, m->embd_norm_w, m->embd_norm_b, xr, e, eps);
        }
    }
    md_status st;
    for (uint32_t il = 0; il < hp->n_layer; il++) {
        const bert_layer *ly = &m->layers[il];
        if ((st = matmul_qkv(c, ly, c->x, n_rows)) != MD_OK) return st;
        attention(c, n_seq, lens, L);
        if ((st = matmul(c, &ly->wo, ly->bo, c->att, n_rows, c->tmp)) != MD_OK) return st;
        for (size_t r = 0; r < n_rows; r++) {
            float *xr = c->x + r * e, *tr = c->tmp + r * e;
            for (size_t i = 0; i < e; i++)
                tr[i] += xr[i];
            layer_norm(tr, ly->attn_norm_w, ly->attn_norm_b, xr, e, eps);
        }
        if ((st = matmul(c, &ly->ffn_up, ly->ffn_up_b, c->x, n_rows, c->ff)) != MD_OK) return st;
        const size_t n_ff_all = n_rows * hp->n_ff;
        if (c->params.matmul == MD_BERT_MATMUL_F32) {
            for (size_t i = 0; i < n_ff_all; i++)
                c->ff[i] = gelu_f32(c->ff[i]);
        } else {
            for (size_t i = 0; i < n_ff_all; i++)
                c->ff[i] = gelu_ggml(c->ff[i]);
        }
        if ((st = matmul(c, &ly->ffn_down, ly->ffn_down_b, c->ff, n_rows, c->tmp)) != MD_OK) return st;
        for (size_t r = 0; r < n_rows; r++) {
            float *xr = c->x + r * e, *tr = c->tmp + r * e;
            for (size_t i = 0; i < e; i++)
                tr[i] += xr[i];
            layer_norm(tr, ly->out_norm_w, ly->out_norm_b, xr, e, eps);
        }
    }
    return MD_OK;
}

static void l2_normalize(float *v, size_t n) {
    double ss = 0.0;
    for (size_t i = 0; i < n; i++)
        ss += (double)v[i] * (double)v[i];
    if (ss <= 0.0) return;
    const double inv = 1.0 / sqrt(ss);
    for (size_t i = 0; i < n; i++)
        v[i] = (float)((double)v[i] * inv);
}

/* Writes the outputs of one batch from x; *out advances past them. */
static void pool(md_bert_ctx *c, const size_t *lens, size_t n_seq, size_t L, float **out) {
    const size_t e = c->model->hp.n_embd;
    for (size_t s = 0; s < n_seq; s++) {
        const float *rows = c->x + s * L * e;
        const size_t n = lens[s];
        if (c->pooling == MD_BERT_POOLING_NONE) {
            for (size_t t = 0; t < n; t++) {
                memcpy(*out, rows + t * e, e * sizeof(float));
                if (c->params.normalize) l2_normalize(*out, e);
                *out += e;
            }
            continue;
        }
        float *o = *out;
        if (c->pooling == MD_BERT_POOLING_MEAN) {
            for (size_t i = 0; i < e; i++) {
                double sum = 0.0;
                for (size_t t = 0; t < n; t++)
                    sum += (double)rows[t * e + i];
                o[i] = (float)(sum / (double)n);
            }
        } else {
            const size_t t = c->pooling == MD_BERT_POOLING_CLS ? 0 : n - 1;
            memcpy(o, rows + t * e, e * sizeof(float));
        }
        if (c->params.normalize) l2_normalize(o, e);
        *out += e;
    }
}

/* Encodes sequences already validated, batch after batch. */
static md_status encode_valid(md_bert_ctx *c, const int32_t *const *seqs, const size_t *lens, size_t n_seq, float *out,
                              md_error *err) {
    size_t i = 0;
    while (i < n_seq) {
        size_t count = 0, L = 0;
        while (i + count < n_seq) {
            const size_t l2 = lens[i + count] > L ? lens[i + count] : L;
            if ((count + 1) * l2 > c->n_batch) break;
            L = l2;
            count++;
        }
        md_status st = forward(c, seqs + i, lens + i, count, L);
        if (st != MD_OK) return md_error_set(err, st, "bert: a kernel refused a tensor type");
        pool(c, lens + i, count, L, &out);
        i += count;
    }
    return MD_OK;
}

md_status md_bert_encode(md_bert_ctx *ctx, const int32_t *const *seqs, const size_t *n_tokens, size_t n_seq,
                         float *out, md_error *err) {
    if (!ctx || (n_seq && (!seqs || !n_tokens || !out)))
        return md_error_set(err, MD_ERR_INVALID_ARG, "md_bert_encode: NULL argument");
    const uint32_t n_vocab = ctx->model->hp.n_vocab;
    for (size_t s = 0; s < n_seq; s++) {
        if (n_tokens[s] == 0 || !seqs[s])
            return md_error_set(err, MD_ERR_INVALID_ARG, "bert: sequence %zu is empty", s);
        if (n_tokens[s] > ctx->n_ctx)
            return md_error_set(err, MD_ERR_LIMIT, "bert: sequence %zu has %zu tokens, the context holds %u", s,
                                n_tokens[s], ctx->n_ctx);
        for (size_t t = 0; t < n_tokens[s]; t++)
            if (seqs[s][t] < 0 || (uint32_t)seqs[s][t] >= n_vocab)
                return md_error_set(err, MD_ERR_INVALID_ARG, "bert: token id %d is outside the vocabulary (%u)",
                                    (int)seqs[s][t], n_vocab);
    }
    return encode_valid(ctx, seqs, n_tokens, n_seq, out, err);
}

/* Tokenizes one text into text_tokens with [CLS] ... [SEP], cut to n_ctx tokens. */
static md_status tokenize_text(md_bert_ctx *c, const char *text, size_t *n_out, md_error *err) {
    const md_tokenizer *tok = c->model->tok;
    size_t n_bytes = strlen(text);
    const size_t max_bytes = (size_t)c->n_ctx * TEXT_BYTES_PER_TOKEN;
    if (n_bytes > max_bytes) {
        /* cut at a UTF-8 boundary, preferably after white space */
        size_t cut = max_bytes;
        while (cut > 0 && ((unsigned char)text[cut] & 0xC0) == 0x80)
            cut--;
        for (size_t back = 0; back < 64 && cut > back; back++)
            if (text[cut - back] == ' ' || text[cut - back] == '\n') {
                cut -= back;
                break;
            }
        n_bytes = cut;
    }
    size_t n = 0;
    md_status st = md_tokenize(tok, text, n_bytes, true, false, c->text_tokens, c->text_cap, &n);
    while (st == MD_ERR_LIMIT && n_bytes > 1) {
        /* more tokens than bytes (a vocabulary whose bare '▁' is a token): a shorter
         * prefix still yields more than n_ctx tokens */
        n_bytes /= 2;
        while (n_bytes > 0 && ((unsigned char)text[n_bytes] & 0xC0) == 0x80)
            n_bytes--;
        st = md_tokenize(tok, text, n_bytes, true, false, c->text_tokens, c->text_cap, &n);
    }
    if (st != MD_OK) return md_error_set(err, st, "bert: tokenizing a text failed (%s)", md_status_message(st));
    if (n > c->n_ctx) {
        c->text_tokens[c->n_ctx - 1] = c->text_tokens[n - 1]; /* keep [SEP] last */
        n = c->n_ctx;
    }
    *n_out = n;
    return MD_OK;
}

md_status md_bert_embed_texts(md_bert_ctx *ctx, const char *const *texts, size_t n, float *out, md_error *err) {
    if (!ctx || (n && (!texts || !out))) return md_error_set(err, MD_ERR_INVALID_ARG, "md_bert_embed_texts: NULL argument");
    if (ctx->pooling == MD_BERT_POOLING_NONE)
        return md_error_set(err, MD_ERR_INVALID_ARG, "bert: text embeddings need pooling (the context has NONE)");
    const size_t e = ctx->model->hp.n_embd;
    size_t i = 0;
    while (i < n) {
        /* Gather texts while the padded batch fits: count·max_len <= n_batch. */
        size_t count = 0, L = 0, used = 0;
        while (i + count < n) {
            if (!texts[i + count]) return md_error_set(err, MD_ERR_INVALID_ARG, "bert: text %zu is NULL", i + count);
            size_t len = 0;
            md_status st = tokenize_text(ctx, texts[i + count], &len, err);
            if (st != MD_OK) return st;
            const size_t l2 = len > L ? len : L;
            if ((count + 1) * l2 > ctx->n_batch) break; /* retokenized next round */
            memcpy(ctx->batch_tokens + used, ctx->text_tokens, len * sizeof(int32_t));
            ctx->seqs[count] = ctx->batch_tokens + used;
            ctx->lens[count] = len;
            used += len;
            L = l2;
            count++;
        }
        md_status st = encode_valid(ctx, ctx->seqs, ctx->lens, count, out + i * e, err);
        if (st != MD_OK) return st;
        i += count;
    }
    return MD_OK;
}

static md_status embedder_embed(void *ctx, const char *const *texts, size_t n, float *out, md_error *err) {
    return md_bert_embed_texts(ctx, texts, n, out, err);
}

md_embedder md_bert_embedder(md_bert_ctx *ctx) {
    return (md_embedder){.dim = ctx ? ctx->model->hp.n_embd : 0, .ctx = ctx, .embed = embedder_embed};
}
