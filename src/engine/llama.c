/* llama.c: contexts and the forward pass of the Llama-family decoder.
 *
 * A call to md_llama_decode runs its tokens in chunks of at most n_batch. Each chunk
 * goes through the layers as a whole: every matrix is walked once per chunk, row by
 * row, and each weight row is multiplied with the activation rows of all tokens of the
 * chunk (the weights are the large operand, so they are read once per chunk). Keys and
 * values of the chunk are written into the cache before its attention runs, and token
 * t of the chunk attends to cache positions 0..pos+t (causal).
 *
 * Numerics follow llama.cpp's CPU graph (ggml-cpu, llama.cpp c392e509) so the fixtures'
 * logits are reproduced to float32 rounding:
 *   RMSNorm    sum of squares in double, scale = 1/sqrtf(mean + eps), y = (x·scale)·w
 *              (Zhang & Sennrich 2019; ggml_compute_forward_rms_norm_f32)
 *   RoPE       pairs (2i, 2i+1) of each head (LLAMA_ROPE_TYPE_NORM); the angle of pair i
 *              is theta_i = freq_scale · pos·base^(−2i/head_dim) / rope_freqs[i], with
 *              base^(−2/head_dim) computed by powf and applied by repeated float
 *              multiplication, as ggml_rope_cache_init does (Su et al. 2021, eq. 34)
 *   attention  scores q·k in double, scaled by 1/√head_dim, softmax in float32 with the
 *              sum in double, weighted sum of V in float32 (ggml_soft_max_f32); query
 *              head h reads kv head h·n_head_kv/n_head (GQA, Ainslie et al. 2023)
 *   SwiGLU     down(silu(gate x) ⊙ up x), silu(x) = x/(1+expf(−x)) (Shazeer 2020)
 *   matmul     MD_LLAMA_MATMUL_GGML: one kernel dot (kernels.h: md_vec_dot's
 *              arithmetic in SIMD) per (weight row, token) with the activation row
 *              quantised to the weight type's vec_dot_type first (matmul.c);
 *              MD_LLAMA_MATMUL_F32: weight rows dequantised to f32, double dots.
 *              F32 weights need neither (their vec_dot_type is F32): both modes read
 *              the rows in place with a double-accumulating dot (dot_f32).
 * With an F16 KV cache, keys and values are stored as fp16 and the query (for q·k) and
 * the softmax weights (for ·V) are rounded to fp16 first, as ggml's F16 mul_mat does.
 *
 * Threads: the context owns a pool of n_threads (the caller included). Each matrix
 * product runs on all of them (matmul.c: activations quantised once, weight rows
 * claimed in chunks; Wq/Wk/Wv and gate/up share one quantised input and one run),
 * and attention splits its (token, head) pairs over them, each thread with its own
 * scores/row scratch. Every output element is computed by one thread in the same
 * order whatever the thread count, so logits do not depend on n_threads. Norms,
 * RoPE, SwiGLU and the residual adds run on the caller (O(n_embd) per token).
 *
 * Memory: md_llama_ctx_new allocates the KV cache ([layer][pos][n_head_kv·head_dim],
 * K and V each), one scratch block sized for n_batch tokens (with attention scratch
 * for every thread) and starts the workers; decoding allocates nothing.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "engine/kernels.h"
#include "engine/llama_internal.h"
#include "medify/threadpool.h"

#define SCRATCH_ALIGN 64 /* bytes: a cache line, so each buffer starts on its own */

struct md_llama_ctx {
    const md_llama_model *model;
    md_llama_ctx_params params;
    uint32_t n_ctx;
    uint32_t n_batch;
    uint32_t n_past;
    size_t n_kv;          /* n_head_kv · head_dim: one cache row */
    size_t n_q;           /* n_head · head_dim */
    size_t kv_elem_bytes; /* 4 (F32) or 2 (F16) */
    uint8_t *k_cache;     /* (n_layer, n_ctx, n_kv) */
    uint8_t *v_cache;     /* (n_layer, n_ctx, n_kv) */
    /* scratch, in one allocation (`scratch`) */
    void *scratch;
    float *x;          /* (n_batch, n_embd) residual stream */
    float *h;          /* (n_batch, n_embd) normed input of a block */
    float *q;          /* (n_batch, n_q) */
    float *k;          /* (n_batch, n_kv) */
    float *v;          /* (n_batch, n_kv) */
    float *att;        /* (n_batch, n_q) attention output */
    float *gate;       /* (n_batch, n_ff) */
    float *up;         /* (n_batch, n_ff) */
    float *attn_scratch;       /* (n_threads, attn_scratch_stride) per thread: */
    size_t attn_scratch_stride; /* scores (n_ctx), qh (head_dim): a query head rounded
                                   to the cache type, kv_row (head_dim): a cache head
                                   converted to f32 */
    float *rope_cs;    /* (head_dim) cos, sin of each pair for one position */
    float *wrow;       /* (max_in) a weight row dequantised (f32 matmul) */
    uint8_t *xq;       /* (n_batch, xq_stride) activations in the vec_dot type */
    size_t xq_stride;
    md_pool *pool;
    const md_kernels *kernels;
    md_matmul mm; /* the product being run (its counter is shared by the threads) */
};

/* ---- sizes ------------------------------------------------------------------------------ */

static bool mul_ok(size_t a, size_t b, size_t *out) { return !__builtin_mul_overflow(a, b, out); }

/* Reserves n_bytes at *offset (aligned); false on overflow. */
static bool reserve(size_t *offset, size_t n_bytes, size_t *at) {
    size_t o = (*offset + SCRATCH_ALIGN - 1) / SCRATCH_ALIGN * SCRATCH_ALIGN;
    if (o < *offset || __builtin_add_overflow(o, n_bytes, offset)) return false;
    *at = o;
    return true;
}

md_llama_ctx_params md_llama_ctx_default_params(void) {
    return (md_llama_ctx_params){.n_ctx = 0,
                                 .n_batch = MD_LLAMA_DEFAULT_N_BATCH,
                                 .kv_type = MD_LLAMA_KV_TYPE_F32,
                                 .matmul = MD_LLAMA_MATMUL_GGML,
                                 .logits_all = false,
                                 .n_threads = 0};
}

md_status md_llama_ctx_new(const md_llama_model *model, md_llama_ctx_params params, md_llama_ctx **out, md_error *err) {
    if (!model || !out) return md_error_set(err, MD_ERR_INVALID_ARG, "md_llama_ctx_new: NULL argument");
    *out = NULL;
    const md_llama_hparams *hp = &model->hp;
    uint32_t n_ctx = params.n_ctx ? params.n_ctx : hp->n_ctx_train;
    if (n_ctx == 0 || n_ctx > MD_LLAMA_MAX_CTX)
        return md_error_set(err, MD_ERR_INVALID_ARG, "context: n_ctx %u is outside 1..%u", n_ctx, MD_LLAMA_MAX_CTX);
    if (params.kv_type != MD_LLAMA_KV_TYPE_F32 && params.kv_type != MD_LLAMA_KV_TYPE_F16)
        return md_error_set(err, MD_ERR_INVALID_ARG, "context: unknown KV cache type %d", (int)params.kv_type);
    if (params.matmul != MD_LLAMA_MATMUL_GGML && params.matmul != MD_LLAMA_MATMUL_F32)
        return md_error_set(err, MD_ERR_INVALID_ARG, "context: unknown matmul mode %d", (int)params.matmul);
    if (params.n_threads < 0 || params.n_threads > MD_POOL_MAX_THREADS)
        return md_error_set(err, MD_ERR_INVALID_ARG, "context: n_threads %d is outside 0..%d", params.n_threads,
                            MD_POOL_MAX_THREADS);
    const int n_threads = params.n_threads ? params.n_threads : md_pool_n_cpus();
    uint32_t n_batch = params.n_batch ? params.n_batch : MD_LLAMA_DEFAULT_N_BATCH;
    if (n_batch > n_ctx) n_batch = n_ctx;

    md_llama_ctx *c = md_calloc(1, sizeof *c);
    if (!c) return md_error_set(err, MD_ERR_NOMEM, "context: out of memory");
    c->model = model;
    c->params = params;
    c->n_ctx = n_ctx;
    c->n_batch = n_batch;
    c->n_kv = (size_t)hp->n_head_kv * hp->head_dim;
    c->n_q = (size_t)hp->n_head * hp->head_dim;
    c->kv_elem_bytes = params.kv_type == MD_LLAMA_KV_TYPE_F16 ? 2 : 4;

    size_t max_in = hp->n_embd;
    if (c->n_q > max_in) max_in = c->n_q;
    if (hp->n_ff > max_in) max_in = hp->n_ff;
    c->xq_stride = max_in * sizeof(float); /* F32 is the widest vec_dot type per element */

    size_t cache_bytes = 0, off = 0, n = 0, at[12];
    bool ok = mul_ok((size_t)hp->n_layer * n_ctx, c->n_kv, &n) && mul_ok(n, c->kv_elem_bytes, &cache_bytes);
    const size_t nb = n_batch, fb = sizeof(float);
    /* per-thread attention scratch, rounded up to whole cache lines */
    c->attn_scratch_stride = ((size_t)n_ctx + 2 * (size_t)hp->head_dim + 15) / 16 * 16;
    const size_t attn_bytes = (size_t)n_threads * c->attn_scratch_stride * fb;
    const size_t sizes[12] = {nb * hp->n_embd * fb, nb * hp->n_embd * fb, nb * c->n_q * fb,  nb * c->n_kv * fb,
                              nb * c->n_kv * fb,    nb * c->n_q * fb,     nb * hp->n_ff * fb, nb * hp->n_ff * fb,
                              attn_bytes,           hp->head_dim * fb,    max_in * fb,        nb * c->xq_stride};
    /* The products above cannot overflow: n_batch, n_ctx <= MD_LLAMA_MAX_CTX (2^24),
     * n_threads <= 256 and each width <= 2^20 floats. */
    for (size_t i = 0; ok && i < MD_ARRAY_LEN(sizes); i++)
        ok = reserve(&off, sizes[i], &at[i]);
    if (!ok) {
        md_free(c);
        return md_error_set(err, MD_ERR_TOO_LARGE, "context: the KV cache for n_ctx %u does not fit in memory", n_ctx);
    }
    c->k_cache = md_malloc(cache_bytes);
    c->v_cache = md_malloc(cache_bytes);
    c->scratch = md_calloc(1, off);
    if (!c->k_cache || !c->v_cache || !c->scratch) {
        md_llama_ctx_free(c);
        return md_error_set(err, MD_ERR_NOMEM, "context: out of memory for a %zu-byte KV cache", 2 * cache_bytes);
    }
    uint8_t *s = c->scratch;
    c->x = (float *)(void *)(s + at[0]);
    c->h = (float *)(void *)(s + at[1]);
    c->q = (float *)(void *)(s + at[2]);
    c->k = (float *)(void *)(s + at[3]);
    c->v = (float *)(void *)(s + at[4]);
    c->att = (float *)(void *)(s + at[5]);
    c->gate = (float *)(void *)(s + at[6]);
    c->up = (float *)(void *)(s + at[7]);
    c->attn_scratch = (float *)(void *)(s + at[8]);
    c->rope_cs = (float *)(void *)(s + at[9]);
    c->wrow = (float *)(void *)(s + at[10]);
    c->xq = s + at[11];
    c->kernels = md_kernels_get();
    md_status st = md_pool_new(n_threads, &c->pool, err);
    if (st != MD_OK) {
        md_llama_ctx_free(c);
        return st;
    }
    *out = c;
    return MD_OK;
}

void md_llama_ctx_free(md_llama_ctx *ctx) {
    if (!ctx) return;
    md_pool_free(ctx->pool);
    md_free(ctx->k_cache);
    md_free(ctx->v_cache);
    md_free(ctx->scratch);
    md_free(ctx);
}

uint32_t md_llama_ctx_n_ctx(const md_llama_ctx *ctx) { return ctx ? ctx->n_ctx : 0; }

uint32_t md_llama_ctx_n_past(const md_llama_ctx *ctx) { return ctx ? ctx->n_past : 0; }

void md_llama_ctx_truncate(md_llama_ctx *ctx, uint32_t n_past) {
    if (ctx && n_past < ctx->n_past) ctx->n_past = n_past;
}

/* ---- building blocks --------------------------------------------------------------------- */

static void rms_norm(const float *x, const float *w, float *y, size_t n, float eps) {
    double sum = 0.0;
    for (size_t i = 0; i < n; i++)
        sum += (double)(x[i] * x[i]);
    const float mean = (float)(sum / (double)n);
    const float scale = 1.0f / sqrtf(mean + eps);
    for (size_t i = 0; i < n; i++)
        y[i] = (x[i] * scale) * w[i];
}

/* Σ a[i]·b[i] with products and sums in double, in four interleaved partial sums (as
 * SIMD lanes would; also 2-3× faster in unoptimised sanitizer builds). Differs from a
 * single running sum only in the last bits of the double. */
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

/* out (n_tok, w->n_out) for f32 weight rows read in place: what md_vec_dot computes
 * for F32 (no activation rounding, double accumulation) without a call and a type
 * switch per element. */
static void matmul_f32_rows(const llama_weight *w, const float *in, size_t n_tok, float *out) {
    for (size_t r = 0; r < w->n_out; r++) {
        const float *row = (const float *)(const void *)((const uint8_t *)w->data + r * w->row_bytes);
        for (size_t t = 0; t < n_tok; t++)
            out[t * w->n_out + r] = (float)dot_f32(row, in + t * w->n_in, w->n_in);
    }
}

/* outs[i] (n_tok, ws[i]->n_out) = in (n_tok, n_in) · ws[i]ᵀ for n weights that read
 * the same input, on the context's pool: weights with the same vec_dot_type share one
 * quantisation of the input and one pool run (GGML mode, non-F32 weights only). */
static md_status matmul_group(md_llama_ctx *c, const llama_weight *const *ws, const float *const *ins,
                              float *const *outs, size_t n, size_t n_tok) {
    for (size_t i = 0; i < n;) {
        const md_tensor_type vt = md_tensor_traits_get(ws[i]->type)->vec_dot_type; /* checked at load */
        md_matmul *mm = &c->mm;
        *mm = (md_matmul){.kernels = c->kernels, .n_in = ws[i]->n_in, .n_tok = n_tok, .x = ins[i],
                          .ldx = ws[i]->n_in, .xq = c->xq, .xq_stride = c->xq_stride};
        size_t j = i;
        for (; j < n && j - i < MD_MATMUL_MAX_WEIGHTS && ins[j] == ins[i] && ws[j]->n_in == ws[i]->n_in &&
               md_tensor_traits_get(ws[j]->type)->vec_dot_type == vt;
             j++) {
            if (!c->kernels->vec_dot[ws[j]->type]) return MD_ERR_UNSUPPORTED;
            mm->w[j - i] = (md_matmul_weight){.data = ws[j]->data, .type = ws[j]->type, .row_bytes = ws[j]->row_bytes,
                                              .n_out = ws[j]->n_out, .y = outs[j], .ldy = ws[j]->n_out};
        }
        if (!c->kernels->quantize[vt]) return MD_ERR_UNSUPPORTED;
        mm->n_weights = j - i;
        md_matmul_run(c->pool, mm);
        i = j;
    }
    return MD_OK;
}

/* out (n_tok, w->n_out) = in (n_tok, w->n_in) · wᵀ. */
static md_status matmul(md_llama_ctx *c, const llama_weight *w, const float *in, size_t n_tok, float *out) {
    const uint8_t *rows = w->data;
    if (w->type == MD_TENSOR_TYPE_F32 && (uintptr_t)w->data % sizeof(float) == 0) {
        matmul_f32_rows(w, in, n_tok, out);
        return MD_OK;
    }
    if (c->params.matmul == MD_LLAMA_MATMUL_F32) {
        for (size_t r = 0; r < w->n_out; r++) {
            if (md_dequantize_row(w->type, rows + r * w->row_bytes, c->wrow, w->n_in) != MD_OK)
                return MD_ERR_UNSUPPORTED;
            for (size_t t = 0; t < n_tok; t++)
                out[t * w->n_out + r] = (float)dot_f32(c->wrow, in + t * w->n_in, w->n_in);
        }
        return MD_OK;
    }
    return matmul_group(c, (const llama_weight *const[]){w}, &in, &out, 1, n_tok);
}

/* Products of n weights with one input (Wq/Wk/Wv; gate/up): one grouped run when
 * every weight goes through the kernels, else one product at a time. */
static md_status matmul_shared(md_llama_ctx *c, const llama_weight *const *ws, const float *in, float *const *outs,
                               size_t n, size_t n_tok) {
    bool grouped = c->params.matmul == MD_LLAMA_MATMUL_GGML;
    for (size_t i = 0; i < n; i++)
        if (ws[i]->type == MD_TENSOR_TYPE_F32) grouped = false;
    if (grouped) {
        const float *const ins[MD_MATMUL_MAX_WEIGHTS] = {in, in, in};
        return matmul_group(c, ws, ins, outs, n, n_tok);
    }
    for (size_t i = 0; i < n; i++) {
        md_status st = matmul(c, ws[i], in, n_tok, outs[i]);
        if (st != MD_OK) return st;
    }
    return MD_OK;
}

/* cos and sin of every pair's angle at position pos, into rope_cs (interleaved). */
static void rope_angles(const md_llama_ctx *c, uint32_t pos) {
    const md_llama_hparams *hp = &c->model->hp;
    const float theta_scale = powf(hp->rope_freq_base, -2.0f / (float)hp->head_dim);
    const float *ff = c->model->rope_freqs;
    float theta = (float)pos;
    for (uint32_t i = 0; i < hp->head_dim / 2; i++) {
        const float th = hp->rope_freq_scale * (ff ? theta / ff[i] : theta);
        c->rope_cs[2 * i] = cosf(th);
        c->rope_cs[2 * i + 1] = sinf(th);
        theta *= theta_scale;
    }
}

static void rope_apply(const md_llama_ctx *c, float *v, size_t n_heads) {
    const uint32_t hd = c->model->hp.head_dim;
    for (size_t h = 0; h < n_heads; h++) {
        float *p = v + h * hd;
        for (uint32_t i = 0; i < hd / 2; i++) {
            const float cs = c->rope_cs[2 * i], sn = c->rope_cs[2 * i + 1];
            const float x0 = p[2 * i], x1 = p[2 * i + 1];
            p[2 * i] = x0 * cs - x1 * sn;
            p[2 * i + 1] = x0 * sn + x1 * cs;
        }
    }
}

/* Pointer to the cache row (layer, pos). */
static uint8_t *cache_row(const md_llama_ctx *c, uint8_t *cache, uint32_t il, uint32_t pos) {
    return cache + (((size_t)il * c->n_ctx + pos) * c->n_kv) * c->kv_elem_bytes;
}

static void cache_store(const md_llama_ctx *c, uint8_t *dst, const float *src) {
    if (c->kv_elem_bytes == 4) {
        memcpy(dst, src, c->n_kv * sizeof(float));
        return;
    }
    for (size_t i = 0; i < c->n_kv; i++) {
        uint16_t hbits = md_f32_to_fp16(src[i]);
        memcpy(dst + 2 * i, &hbits, 2);
    }
}

/* Head `kvh` of a cache row as f32 (into kv_row unless the cache is f32). */
static const float *cache_head(const md_llama_ctx *c, const uint8_t *row, uint32_t kvh, float *kv_row) {
    const uint32_t hd = c->model->hp.head_dim;
    if (c->kv_elem_bytes == 4) return (const float *)(const void *)row + (size_t)kvh * hd;
    const uint8_t *p = row + (size_t)kvh * hd * 2;
    for (uint32_t i = 0; i < hd; i++) {
        uint16_t hbits;
        memcpy(&hbits, p + 2 * i, 2);
        kv_row[i] = md_fp16_to_f32(hbits);
    }
    return kv_row;
}

static float round_to_cache(const md_llama_ctx *c, float v) {
    return c->kv_elem_bytes == 4 ? v : md_fp16_to_f32(md_f32_to_fp16(v));
}

/* Attention of head h of token t of the chunk (position pos_t) in layer il: that
 * head of att[t] from q[t] and cache positions 0..pos_t. scratch: the calling
 * thread's (n_ctx + 2·head_dim floats). */
static void attend_head(const md_llama_ctx *c, uint32_t il, size_t t, uint32_t h, uint32_t pos_t, float *scratch) {
    const md_llama_hparams *hp = &c->model->hp;
    const uint32_t hd = hp->head_dim, n_kv_pos = pos_t + 1;
    const float scale = 1.0f / sqrtf((float)hd);
    float *scores = scratch, *qh = scratch + c->n_ctx, *kv_row = qh + hd;
    const uint32_t kvh = h * hp->n_head_kv / hp->n_head;
    const float *q = c->q + t * c->n_q + (size_t)h * hd;
    for (uint32_t i = 0; i < hd; i++)
        qh[i] = round_to_cache(c, q[i]);
    float max = -INFINITY;
    for (uint32_t j = 0; j < n_kv_pos; j++) {
        const float *k = cache_head(c, cache_row(c, c->k_cache, il, j), kvh, kv_row);
        const float s = (float)c->kernels->dot_f32_f64(qh, k, hd) * scale;
        scores[j] = s;
        if (s > max) max = s;
    }
    double sum = 0.0;
    for (uint32_t j = 0; j < n_kv_pos; j++) {
        const float e = expf(scores[j] - max);
        scores[j] = e;
        sum += (double)e;
    }
    const float inv = (float)(1.0 / sum);
    float *o = c->att + t * c->n_q + (size_t)h * hd;
    memset(o, 0, hd * sizeof *o);
    for (uint32_t j = 0; j < n_kv_pos; j++) {
        const float p = round_to_cache(c, scores[j] * inv);
        const float *v = cache_head(c, cache_row(c, c->v_cache, il, j), kvh, kv_row);
        for (uint32_t i = 0; i < hd; i++)
            o[i] += p * v[i];
    }
}

typedef struct attend_job {
    const md_llama_ctx *c;
    uint32_t il;
    size_t n_tok;
    uint32_t pos;
} attend_job;

/* (token, head) pairs dealt round-robin: pair p goes to thread p mod nth. */
static void attend_run(void *ctx, int ith, int nth) {
    const attend_job *j = ctx;
    const md_llama_ctx *c = j->c;
    const uint32_t n_head = c->model->hp.n_head;
    float *scratch = c->attn_scratch + (size_t)ith * c->attn_scratch_stride;
    for (size_t p = (size_t)ith; p < j->n_tok * n_head; p += (size_t)nth) {
        const size_t t = p / n_head;
        attend_head(c, j->il, t, (uint32_t)(p % n_head), j->pos + (uint32_t)t, scratch);
    }
}

/* ---- one chunk ---------------------------------------------------------------------------- */

/* Runs n tokens at positions pos.. through the network; writes logits for tokens
 * first_out..n-1 of the chunk into logits (rows of n_vocab), or none when logits is
 * NULL. */
static md_status decode_chunk(md_llama_ctx *c, const int32_t *tokens, size_t n, uint32_t pos, size_t first_out,
                              float *logits) {
    const md_llama_model *m = c->model;
    const md_llama_hparams *hp = &m->hp;
    const size_t n_embd = hp->n_embd, n_ff = hp->n_ff;
    md_status st;

    for (size_t t = 0; t < n; t++) {
        const uint8_t *row = (const uint8_t *)m->tok_embd.data + (size_t)tokens[t] * m->tok_embd.row_bytes;
        if (md_dequantize_row(m->tok_embd.type, row, c->x + t * n_embd, (int64_t)n_embd) != MD_OK)
            return MD_ERR_UNSUPPORTED;
    }
    for (uint32_t il = 0; il < hp->n_layer; il++) {
        const llama_layer *L = &m->layers[il];
        for (size_t t = 0; t < n; t++)
            rms_norm(c->x + t * n_embd, L->attn_norm, c->h + t * n_embd, n_embd, hp->rms_eps);
        const llama_weight *const qkv[3] = {&L->wq, &L->wk, &L->wv};
        float *const qkv_out[3] = {c->q, c->k, c->v};
        if ((st = matmul_shared(c, qkv, c->h, qkv_out, 3, n)) != MD_OK) return st;
        for (size_t t = 0; t < n; t++) {
            rope_angles(c, pos + (uint32_t)t);
            rope_apply(c, c->q + t * c->n_q, hp->n_head);
            rope_apply(c, c->k + t * c->n_kv, hp->n_head_kv);
            cache_store(c, cache_row(c, c->k_cache, il, pos + (uint32_t)t), c->k + t * c->n_kv);
            cache_store(c, cache_row(c, c->v_cache, il, pos + (uint32_t)t), c->v + t * c->n_kv);
        }
        attend_job aj = {.c = c, .il = il, .n_tok = n, .pos = pos};
        md_pool_run(c->pool, attend_run, &aj);
        if ((st = matmul(c, &L->wo, c->att, n, c->h)) != MD_OK) return st;
        for (size_t i = 0; i < n * n_embd; i++)
            c->x[i] += c->h[i];

        for (size_t t = 0; t < n; t++)
            rms_norm(c->x + t * n_embd, L->ffn_norm, c->h + t * n_embd, n_embd, hp->rms_eps);
        const llama_weight *const gate_up[2] = {&L->ffn_gate, &L->ffn_up};
        float *const gate_up_out[2] = {c->gate, c->up};
        if ((st = matmul_shared(c, gate_up, c->h, gate_up_out, 2, n)) != MD_OK) return st;
        for (size_t i = 0; i < n * n_ff; i++) {
            const float g = c->gate[i];
            c->gate[i] = g / (1.0f + expf(-g)) * c->up[i];
        }
        if ((st = matmul(c, &L->ffn_down, c->gate, n, c->h)) != MD_OK) return st;
        for (size_t i = 0; i < n * n_embd; i++)
            c->x[i] += c->h[i];
    }
    if (!logits || first_out >= n) return MD_OK;
    const size_t n_out = n - first_out;
    for (size_t t = 0; t < n_out; t++)
        rms_norm(c->x + (first_out + t) * n_embd, m->output_norm, c->h + t * n_embd, n_embd, hp->rms_eps);
    return matmul(c, &m->output, c->h, n_out, logits);
}

md_status md_llama_decode(md_llama_ctx *ctx, const int32_t *tokens, size_t n_tokens, uint32_t pos, float *logits_out,
                          md_error *err) {
    if (!ctx || !tokens) return md_error_set(err, MD_ERR_INVALID_ARG, "decode: NULL argument");
    if (n_tokens == 0) return md_error_set(err, MD_ERR_INVALID_ARG, "decode: no tokens");
    if (pos > ctx->n_past)
        return md_error_set(err, MD_ERR_INVALID_ARG, "decode: position %u leaves a gap after the %u cached positions",
                            pos, ctx->n_past);
    if (pos > ctx->n_ctx || n_tokens > (size_t)(ctx->n_ctx - pos))
        return md_error_set(err, MD_ERR_LIMIT,
                            "decode: context is full: %zu tokens at position %u do not fit in n_ctx %u", n_tokens, pos,
                            ctx->n_ctx);
    const uint32_t n_vocab = ctx->model->hp.n_vocab;
    for (size_t i = 0; i < n_tokens; i++)
        if (tokens[i] < 0 || (uint32_t)tokens[i] >= n_vocab)
            return md_error_set(err, MD_ERR_INVALID_ARG, "decode: token %d at index %zu is outside the vocabulary (%u)",
                                tokens[i], i, n_vocab);

    ctx->n_past = pos; /* positions from pos on are rewritten */
    for (size_t done = 0; done < n_tokens;) {
        size_t n = n_tokens - done;
        if (n > ctx->n_batch) n = ctx->n_batch;
        const bool last = done + n == n_tokens;
        float *out = NULL;
        size_t first_out = n;
        if (logits_out && ctx->params.logits_all) {
            out = logits_out + done * n_vocab;
            first_out = 0;
        } else if (logits_out && last) {
            out = logits_out;
            first_out = n - 1;
        }
        md_status st = decode_chunk(ctx, tokens + done, n, pos + (uint32_t)done, first_out, out);
        if (st != MD_OK)
            return md_error_set(err, st, "decode: a kernel refused its arguments (%s)", md_status_name(st));
        done += n;
        ctx->n_past = pos + (uint32_t)done;
    }
    return MD_OK;
}
