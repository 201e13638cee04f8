/* The Llama decoder (llama.h).
 *
 * 1. The project's own tiny models, written here with md_gguf_writer from a fixed seed
 *    (n_embd 64, 4 query heads over 2 KV heads of 16, n_ff 128, 2 layers, vocab 64):
 *    the engine's logits against a float64 forward pass written out in this file
 *    with plain loops (relative L2 per row <= TOL_OWN). Variants: untied F32 with the
 *    default RoPE base; tied F32 with rope_freqs and base 500000; F16 and Q8_0 weights
 *    (reference on the dequantised weights, engine on its f32 matmul path, same bound;
 *    and the ggml path within the activation-rounding bound). Batch decoding agrees
 *    with token-by-token decoding and with chunked batches; the context-full error
 *    leaves the cache usable; rewinding; bad arguments; load errors naming the key or
 *    tensor (missing, wrong shape, unusable type, other architecture).
 * 2. With MEDIFY_FIXTURES: the eleven llama.cpp-made tiny decoders against llama.cpp's
 *    logits (README 4.1, first column: medify rounds activations as ggml-cpu does) on
 *    seq1, seq17 and seq64, plus, with MEDIFY_TEST_FULL=1, seq512 for tiny-llama31-f32
 *    (long positions with rope_freqs; ~10 s under ASan; the other two F32 models'
 *    seq512 would add ~25 s for no new code path); the non-F32 models on the f32 matmul path
 *    against the exact float64 references (*.logits.exact.f32, seq17 only, 1e-4); and
 *    the greedy references, free-running up to the first step whose gap is below the
 *    README 4.5 threshold, and teacher-forced over all 32 steps.
 */
#define _GNU_SOURCE /* memmem */
#include "check.h"
#include "medify/gguf.h"
#include "medify/llama.h"
#include "medify/tensor.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* float32 engine vs float64 reference on the own models: float32 rounding through two
 * layers is ~1e-7 relative; 1e-5 leaves room for long sums without hiding a real bug
 * (a wrong RoPE pair, head mapping or norm is off by > 1e-2). */
#define TOL_OWN 1e-5
/* The ggml path on the own Q8_0/F16 models vs the float64 reference: activation
 * rounding (Q8_0 ≈ 0.5 % per element, fp16 ≈ 0.03 %) amplified through ~15 products of
 * random matrices; measured 4.98e-2 (Q8_0, worst of 40 rows) and 1.05e-3 (F16). The
 * fixtures test this path sharply (median ~1e-7 against llama.cpp). */
#define TOL_OWN_GGML_Q8_0 8e-2
#define TOL_OWN_GGML_F16  5e-3
/* F16 KV cache vs the float64 reference (README 4.4: ~1e-3 for the fixture model). */
#define TOL_OWN_KV_F16 5e-3
/* Batch vs one token at a time: identical arithmetic per token, so bit-equal in
 * practice; the bound only allows for a compiler contracting differently. */
#define TOL_BATCH 1e-6
/* Exact-arithmetic fixture references vs the f32 matmul path (README 4.1, last column). */
#define TOL_EXACT 1e-4

/* ---- helpers ----------------------------------------------------------------------------- */

static double rel_l2(const float *a, const float *ref, size_t n) {
    double num = 0.0, den = 0.0;
    for (size_t i = 0; i < n; i++) {
        double d = (double)a[i] - (double)ref[i];
        num += d * d;
        den += (double)ref[i] * (double)ref[i];
    }
    return den > 0.0 ? sqrt(num / den) : sqrt(num);
}

static double rel_l2_d(const float *a, const double *ref, size_t n) {
    double num = 0.0, den = 0.0;
    for (size_t i = 0; i < n; i++) {
        double d = (double)a[i] - ref[i];
        num += d * d;
        den += ref[i] * ref[i];
    }
    return den > 0.0 ? sqrt(num / den) : sqrt(num);
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static size_t argmax(const float *v, size_t n) {
    size_t best = 0;
    for (size_t i = 1; i < n; i++)
        if (v[i] > v[best]) best = i;
    return best;
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

/* ---- the own tiny model ------------------------------------------------------------------ */

enum { N_EMBD = 64, N_HEAD = 4, N_HEAD_KV = 2, HEAD_DIM = 16, N_FF = 128, N_LAYER = 2, N_VOCAB = 64, N_CTX_TRAIN = 64 };
enum { N_Q = N_HEAD * HEAD_DIM, N_KV = N_HEAD_KV * HEAD_DIM };

typedef enum fault {
    FAULT_NONE,
    FAULT_MISSING_TENSOR, /* no blk.1.ffn_up.weight */
    FAULT_BAD_SHAPE,      /* blk.0.attn_k.weight with n_q rows */
    FAULT_BAD_TYPE,       /* blk.0.attn_v.weight of ggml type 3 (Q4_1), which medify lacks */
    FAULT_ARCH,           /* general.architecture = "bert" */
    FAULT_MISSING_KEY,    /* no llama.embedding_length */
    FAULT_HEADS,          /* head_count_kv 3 does not divide head_count 4 */
} fault;

typedef struct own_cfg {
    bool tied;
    bool rope_freqs;
    float freq_base;     /* 0: key absent (default 10000) */
    md_tensor_type type; /* of the matrices */
    fault fault;
} own_cfg;

/* The weights as the engine sees them (dequantised after quantisation), row-major
 * [n_out][n_in] like the file. */
typedef struct own_model {
    own_cfg cfg;
    float *embd, *out_norm, *output, *freqs;
    float *attn_norm[N_LAYER], *ffn_norm[N_LAYER];
    float *wq[N_LAYER], *wk[N_LAYER], *wv[N_LAYER], *wo[N_LAYER], *gate[N_LAYER], *up[N_LAYER], *down[N_LAYER];
    md_buf file; /* the GGUF bytes */
} own_model;

static float *gen(size_t n, float mean, float sigma) {
    float *p = malloc(n * sizeof *p);
    for (size_t i = 0; i < n; i++)
        p[i] = mean + rng_normal(sigma);
    return p;
}

/* Adds a tensor of n_out rows of n_in; quantises to `type` and replaces w by its
 * dequantised values, so the reference uses exactly what the engine reads. */
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

static void own_build(own_model *m, own_cfg cfg) {
    memset(m, 0, sizeof *m);
    m->cfg = cfg;
    rng_state = 20251128;
    md_gguf_writer *w = md_gguf_writer_new();
    CHECK(w != NULL);
    md_gguf_writer_set_str(w, "general.architecture", cfg.fault == FAULT_ARCH ? "bert" : "llama");
    md_gguf_writer_set_u32(w, "llama.context_length", N_CTX_TRAIN);
    if (cfg.fault != FAULT_MISSING_KEY) md_gguf_writer_set_u32(w, "llama.embedding_length", N_EMBD);
    md_gguf_writer_set_u32(w, "llama.block_count", N_LAYER);
    md_gguf_writer_set_u32(w, "llama.feed_forward_length", N_FF);
    md_gguf_writer_set_u32(w, "llama.attention.head_count", N_HEAD);
    md_gguf_writer_set_u32(w, "llama.attention.head_count_kv", cfg.fault == FAULT_HEADS ? 3 : N_HEAD_KV);
    md_gguf_writer_set_u32(w, "llama.rope.dimension_count", HEAD_DIM);
    md_gguf_writer_set_f32(w, "llama.attention.layer_norm_rms_epsilon", 1e-5f);
    if (cfg.freq_base > 0) md_gguf_writer_set_f32(w, "llama.rope.freq_base", cfg.freq_base);
    md_gguf_writer_set_u32(w, "llama.vocab_size", N_VOCAB);

    const md_tensor_type t = cfg.type, f32 = MD_TENSOR_TYPE_F32;
    m->embd = gen((size_t)N_VOCAB * N_EMBD, 0.0f, 0.5f);
    add_tensor(w, "token_embd.weight", t, m->embd, N_EMBD, N_VOCAB);
    for (int il = 0; il < N_LAYER; il++) {
        char name[64];
#define LAYER_TENSOR(field, suffix, type, n_in, n_out, mean, sigma)                                                    \
    do {                                                                                                               \
        m->field[il] = gen((size_t)(n_in) * (n_out), mean, sigma);                                                     \
        snprintf(name, sizeof name, "blk.%d." suffix ".weight", il);                                                   \
        add_tensor(w, name, type, m->field[il], n_in, n_out);                                                          \
    } while (0)
        LAYER_TENSOR(attn_norm, "attn_norm", f32, N_EMBD, 1, 1.0f, 0.1f);
        LAYER_TENSOR(wq, "attn_q", t, N_EMBD, N_Q, 0.0f, 0.15f);
        if (cfg.fault == FAULT_BAD_SHAPE && il == 0) {
            LAYER_TENSOR(wk, "attn_k", t, N_EMBD, N_Q, 0.0f, 0.15f);
        } else {
            LAYER_TENSOR(wk, "attn_k", t, N_EMBD, N_KV, 0.0f, 0.15f);
        }
        LAYER_TENSOR(wv, "attn_v", cfg.fault == FAULT_BAD_TYPE && il == 0 ? MD_TENSOR_TYPE_Q8_0 : t, N_EMBD, N_KV, 0.0f,
                     0.15f);
        LAYER_TENSOR(wo, "attn_output", t, N_Q, N_EMBD, 0.0f, 0.15f);
        LAYER_TENSOR(ffn_norm, "ffn_norm", f32, N_EMBD, 1, 1.0f, 0.1f);
        LAYER_TENSOR(gate, "ffn_gate", t, N_EMBD, N_FF, 0.0f, 0.15f);
        if (cfg.fault == FAULT_MISSING_TENSOR && il == 1) {
            m->up[il] = gen((size_t)N_EMBD * N_FF, 0.0f, 0.15f);
        } else {
            LAYER_TENSOR(up, "ffn_up", t, N_EMBD, N_FF, 0.0f, 0.15f);
        }
        LAYER_TENSOR(down, "ffn_down", t, N_FF, N_EMBD, 0.0f, 0.1f);
#undef LAYER_TENSOR
    }
    m->out_norm = gen(N_EMBD, 1.0f, 0.1f);
    add_tensor(w, "output_norm.weight", f32, m->out_norm, N_EMBD, 1);
    if (!cfg.tied) {
        m->output = gen((size_t)N_VOCAB * N_EMBD, 0.0f, 0.15f);
        add_tensor(w, "output.weight", t, m->output, N_EMBD, N_VOCAB);
    }
    if (cfg.rope_freqs) {
        /* The Llama 3.1 shape: 1 for high frequencies, a ramp, the factor 8 for low ones. */
        m->freqs = malloc(HEAD_DIM / 2 * sizeof(float));
        for (int i = 0; i < HEAD_DIM / 2; i++)
            m->freqs[i] = i < 3 ? 1.0f : i < 5 ? 1.0f + 2.5f * (float)(i - 2) : 8.0f;
        add_tensor(w, "rope_freqs.weight", f32, m->freqs, HEAD_DIM / 2, 1);
    }
    md_buf_init(&m->file);
    md_error err = {0};
    CHECK_MSG(md_gguf_writer_write_buf(w, &m->file, &err) == MD_OK, "%s", err.message);
    md_gguf_writer_free(w);
    if (cfg.fault == FAULT_BAD_TYPE) {
        /* Patch the type field of the tensor info (after name, n_dims, ne[0], ne[1]) to 3,
         * ggml's Q4_1: the reader keeps the tensor as unusable. The Q8_0 data (68 bytes per
         * row) is larger than Q4_1 would need (40), so the file stays consistent. */
        static const char k_name[] = "blk.0.attn_v.weight";
        char *p = memmem(m->file.data, m->file.len, k_name, sizeof k_name - 1);
        CHECK(p != NULL);
        uint32_t q4_1 = 3;
        if (p) memcpy(p + sizeof k_name - 1 + 4 + 16, &q4_1, 4);
    }
}

static void own_free(own_model *m) {
    free(m->embd);
    free(m->out_norm);
    free(m->output);
    free(m->freqs);
    for (int il = 0; il < N_LAYER; il++) {
        free(m->attn_norm[il]);
        free(m->ffn_norm[il]);
        free(m->wq[il]);
        free(m->wk[il]);
        free(m->wv[il]);
        free(m->wo[il]);
        free(m->gate[il]);
        free(m->up[il]);
        free(m->down[il]);
    }
    md_buf_free(&m->file);
}

/* ---- float64 reference forward pass -------------------------------------------------------- */

static void ref_rms_norm(const double *x, const float *w, double *y) {
    double ss = 0.0;
    for (int i = 0; i < N_EMBD; i++)
        ss += x[i] * x[i];
    double s = 1.0 / sqrt(ss / N_EMBD + 1e-5);
    for (int i = 0; i < N_EMBD; i++)
        y[i] = x[i] * s * (double)w[i];
}

static void ref_matvec(const float *w, const double *x, double *y, int n_in, int n_out) {
    for (int r = 0; r < n_out; r++) {
        double s = 0.0;
        for (int i = 0; i < n_in; i++)
            s += (double)w[(size_t)r * n_in + i] * x[i];
        y[r] = s;
    }
}

static void ref_rope(const own_model *m, double *v, int n_heads, int pos) {
    double base = m->cfg.freq_base > 0 ? (double)m->cfg.freq_base : 10000.0;
    for (int h = 0; h < n_heads; h++) {
        for (int i = 0; i < HEAD_DIM / 2; i++) {
            double theta = pos * pow(base, -2.0 * i / HEAD_DIM);
            if (m->freqs) theta /= (double)m->freqs[i];
            double *p = v + h * HEAD_DIM + 2 * i, x0 = p[0], x1 = p[1];
            p[0] = x0 * cos(theta) - x1 * sin(theta);
            p[1] = x0 * sin(theta) + x1 * cos(theta);
        }
    }
}

/* logits (n, N_VOCAB) of tokens[0..n) at positions 0..n-1. */
static void ref_forward(const own_model *m, const int32_t *tokens, int n, double *logits) {
    double *x = calloc((size_t)n * N_EMBD, sizeof *x), *K = calloc((size_t)n * N_KV, sizeof *K);
    double *V = calloc((size_t)n * N_KV, sizeof *V), *q = calloc((size_t)n * N_Q, sizeof *q);
    double h[N_FF], a[N_Q], o[N_EMBD], g[N_FF], u[N_FF], s[256];
    for (int t = 0; t < n; t++)
        for (int i = 0; i < N_EMBD; i++)
            x[t * N_EMBD + i] = m->embd[(size_t)tokens[t] * N_EMBD + i];
    for (int il = 0; il < N_LAYER; il++) {
        for (int t = 0; t < n; t++) {
            ref_rms_norm(x + t * N_EMBD, m->attn_norm[il], h);
            ref_matvec(m->wq[il], h, q + t * N_Q, N_EMBD, N_Q);
            ref_matvec(m->wk[il], h, K + t * N_KV, N_EMBD, N_KV);
            ref_matvec(m->wv[il], h, V + t * N_KV, N_EMBD, N_KV);
            ref_rope(m, q + t * N_Q, N_HEAD, t);
            ref_rope(m, K + t * N_KV, N_HEAD_KV, t);
        }
        for (int t = 0; t < n; t++) {
            for (int hq = 0; hq < N_HEAD; hq++) {
                int kvh = hq * N_HEAD_KV / N_HEAD;
                double max = -INFINITY, sum = 0.0;
                for (int j = 0; j <= t; j++) {
                    double d = 0.0;
                    for (int i = 0; i < HEAD_DIM; i++)
                        d += q[t * N_Q + hq * HEAD_DIM + i] * K[j * N_KV + kvh * HEAD_DIM + i];
                    s[j] = d / sqrt((double)HEAD_DIM);
                    if (s[j] > max) max = s[j];
                }
                for (int j = 0; j <= t; j++)
                    sum += (s[j] = exp(s[j] - max));
                for (int i = 0; i < HEAD_DIM; i++) {
                    double acc = 0.0;
                    for (int j = 0; j <= t; j++)
                        acc += s[j] / sum * V[j * N_KV + kvh * HEAD_DIM + i];
                    a[hq * HEAD_DIM + i] = acc;
                }
            }
            ref_matvec(m->wo[il], a, o, N_Q, N_EMBD);
            for (int i = 0; i < N_EMBD; i++)
                x[t * N_EMBD + i] += o[i];
            ref_rms_norm(x + t * N_EMBD, m->ffn_norm[il], h);
            ref_matvec(m->gate[il], h, g, N_EMBD, N_FF);
            ref_matvec(m->up[il], h, u, N_EMBD, N_FF);
            for (int i = 0; i < N_FF; i++)
                g[i] = g[i] / (1.0 + exp(-g[i])) * u[i];
            ref_matvec(m->down[il], g, o, N_FF, N_EMBD);
            for (int i = 0; i < N_EMBD; i++)
                x[t * N_EMBD + i] += o[i];
        }
    }
    for (int t = 0; t < n; t++) {
        ref_rms_norm(x + t * N_EMBD, m->out_norm, h);
        ref_matvec(m->output ? m->output : m->embd, h, logits + (size_t)t * N_VOCAB, N_EMBD, N_VOCAB);
    }
    free(x);
    free(K);
    free(V);
    free(q);
}

/* ---- tests on the own model ------------------------------------------------------------------ */

enum { N_SEQ = 40 };

static void own_tokens(int32_t *tokens, int n) {
    for (int i = 0; i < n; i++)
        tokens[i] = (int32_t)((i * 37 + 11) % N_VOCAB);
}

static md_llama_model *own_load(const own_model *m) {
    md_gguf *g = NULL;
    md_llama_model *model = NULL;
    md_error err = {0};
    CHECK_MSG(md_gguf_open_memory(m->file.data, m->file.len, &g, &err) == MD_OK, "%s", err.message);
    if (!g) return NULL;
    CHECK_MSG(md_llama_load_gguf(g, md_llama_model_default_params(), &model, &err) == MD_OK, "%s", err.message);
    if (!model) md_gguf_close(g);
    return model;
}

static void own_unload(md_llama_model *model) {
    if (!model) return;
    md_gguf *g = (md_gguf *)md_llama_model_gguf(model); /* borrowed by the model, owned here */
    md_llama_free(model);
    md_gguf_close(g);
}

/* Decodes tokens in one call with logits_all and returns the worst row error. */
static double own_run(const md_llama_model *model, md_llama_ctx_params p, const int32_t *tokens, int n,
                      const double *ref, float *logits) {
    md_llama_ctx *ctx = NULL;
    md_error err = {0};
    p.logits_all = true;
    CHECK_MSG(md_llama_ctx_new(model, p, &ctx, &err) == MD_OK, "%s", err.message);
    if (!ctx) return INFINITY;
    CHECK_MSG(md_llama_decode(ctx, tokens, (size_t)n, 0, logits, &err) == MD_OK, "%s", err.message);
    md_llama_ctx_free(ctx);
    double worst = 0.0;
    for (int t = 0; t < n; t++) {
        double e = rel_l2_d(logits + (size_t)t * N_VOCAB, ref + (size_t)t * N_VOCAB, N_VOCAB);
        if (!(e <= worst)) worst = e;
    }
    return worst;
}

static void test_own_reference(void) {
    static const struct {
        const char *label;
        own_cfg cfg;
        double tol_ggml; /* engine's default path */
    } k_variants[] = {
        {"f32 untied", {.type = MD_TENSOR_TYPE_F32}, TOL_OWN},
        {"f32 tied rope_freqs base 5e5",
         {.tied = true, .rope_freqs = true, .freq_base = 500000.0f, .type = MD_TENSOR_TYPE_F32},
         TOL_OWN},
        {"f16", {.freq_base = 10000.0f, .type = MD_TENSOR_TYPE_F16}, TOL_OWN_GGML_F16},
        {"q8_0 tied", {.tied = true, .type = MD_TENSOR_TYPE_Q8_0}, TOL_OWN_GGML_Q8_0},
    };
    int32_t tokens[N_SEQ];
    own_tokens(tokens, N_SEQ);
    double *ref = malloc(sizeof(double) * N_SEQ * N_VOCAB);
    float *logits = malloc(sizeof(float) * N_SEQ * N_VOCAB);
    for (size_t v = 0; v < MD_ARRAY_LEN(k_variants); v++) {
        own_model m;
        own_build(&m, k_variants[v].cfg);
        md_llama_model *model = own_load(&m);
        if (!model) {
            own_free(&m);
            continue;
        }
        const md_llama_hparams *hp = md_llama_model_hparams(model);
        CHECK_EQ_INT(hp->n_vocab, N_VOCAB);
        CHECK_EQ_INT(hp->head_dim, HEAD_DIM);
        CHECK_EQ_INT(hp->n_head_kv, N_HEAD_KV);
        CHECK(hp->tied_output == k_variants[v].cfg.tied);
        CHECK(hp->has_rope_freqs == k_variants[v].cfg.rope_freqs);
        ref_forward(&m, tokens, N_SEQ, ref);

        md_llama_ctx_params p = md_llama_ctx_default_params();
        p.n_ctx = N_SEQ;
        double e_ggml = own_run(model, p, tokens, N_SEQ, ref, logits);
        p.matmul = MD_LLAMA_MATMUL_F32;
        double e_f32 = own_run(model, p, tokens, N_SEQ, ref, logits);
        p.matmul = MD_LLAMA_MATMUL_GGML;
        p.kv_type = MD_LLAMA_KV_TYPE_F16;
        double e_kv16 = own_run(model, p, tokens, N_SEQ, ref, logits);
        fprintf(stderr, "own model %-30s rel L2 vs float64: ggml path %.2e, f32 path %.2e, f16 KV %.2e\n",
                k_variants[v].label, e_ggml, e_f32, e_kv16);
        CHECK_MSG(e_f32 <= TOL_OWN, "%s: f32 path %.3e > %.0e", k_variants[v].label, e_f32, TOL_OWN);
        CHECK_MSG(e_ggml <= k_variants[v].tol_ggml, "%s: ggml path %.3e > %.0e", k_variants[v].label, e_ggml,
                  k_variants[v].tol_ggml);
        CHECK_MSG(e_kv16 <= k_variants[v].tol_ggml + TOL_OWN_KV_F16, "%s: f16 KV %.3e", k_variants[v].label, e_kv16);
        own_unload(model);
        own_free(&m);
    }
    free(ref);
    free(logits);
}

/* One call vs one token per call vs chunks of 7; then the context-full error, rewinding
 * and the argument checks. */
static void test_own_batching_and_limits(void) {
    own_model m;
    own_build(&m, (own_cfg){.rope_freqs = true, .type = MD_TENSOR_TYPE_F32});
    md_llama_model *model = own_load(&m);
    if (!model) {
        own_free(&m);
        return;
    }
    enum { N = 20 };
    int32_t tokens[N];
    own_tokens(tokens, N);
    float *batch = malloc(sizeof(float) * N * N_VOCAB), *single = malloc(sizeof(float) * N * N_VOCAB);
    float *chunked = malloc(sizeof(float) * N * N_VOCAB), *last = malloc(sizeof(float) * N_VOCAB);
    md_error err = {0};
    md_llama_ctx_params p = md_llama_ctx_default_params();
    p.n_ctx = N;
    p.logits_all = true;
    md_llama_ctx *ctx = NULL;
    CHECK(md_llama_ctx_new(model, p, &ctx, &err) == MD_OK);
    CHECK(md_llama_decode(ctx, tokens, N, 0, batch, &err) == MD_OK);
    CHECK_EQ_INT(md_llama_ctx_n_past(ctx), N);
    md_llama_ctx_truncate(ctx, 0);
    for (int t = 0; t < N; t++)
        CHECK(md_llama_decode(ctx, tokens + t, 1, (uint32_t)t, single + t * N_VOCAB, &err) == MD_OK);

    /* Context full: the call fails before touching anything, and the cache still works. */
    CHECK_EQ_INT(md_llama_decode(ctx, tokens, 1, N, last, &err), MD_ERR_LIMIT);
    CHECK_MSG(strstr(err.message, "context is full") != NULL, "message: %s", err.message);
    CHECK_EQ_INT(md_llama_ctx_n_past(ctx), N);
    CHECK_EQ_INT(md_llama_decode(ctx, tokens, 3, N - 2, last, &err), MD_ERR_LIMIT);
    CHECK_EQ_INT(md_llama_ctx_n_past(ctx), N);
    /* Rewind: decoding positions 12.. again reproduces the batch rows. */
    CHECK(md_llama_decode(ctx, tokens + 12, N - 12, 12, chunked + 12 * N_VOCAB, &err) == MD_OK);
    double worst_rewind = 0.0;
    for (int t = 12; t < N; t++) {
        double e = rel_l2(chunked + t * N_VOCAB, batch + t * N_VOCAB, N_VOCAB);
        if (!(e <= worst_rewind)) worst_rewind = e;
    }
    CHECK_MSG(worst_rewind <= TOL_BATCH, "rewind %.3e", worst_rewind);
    /* Arguments. */
    CHECK_EQ_INT(md_llama_decode(ctx, tokens, 1, N + 1, last, &err), MD_ERR_INVALID_ARG); /* gap */
    md_llama_ctx_truncate(ctx, 5);
    CHECK_EQ_INT(md_llama_decode(ctx, tokens, 1, 6, last, &err), MD_ERR_INVALID_ARG);
    int32_t bad[2] = {1, N_VOCAB};
    CHECK_EQ_INT(md_llama_decode(ctx, bad, 2, 5, last, &err), MD_ERR_INVALID_ARG);
    bad[1] = -1;
    CHECK_EQ_INT(md_llama_decode(ctx, bad, 2, 5, last, &err), MD_ERR_INVALID_ARG);
    CHECK_EQ_INT(md_llama_decode(ctx, tokens, 0, 5, last, &err), MD_ERR_INVALID_ARG);
    CHECK_EQ_INT(md_llama_ctx_n_past(ctx), 5);
    md_llama_ctx_free(ctx);

    /* Chunks of 7 (3 chunks), and last-only logits. */
    p.n_batch = 7;
    CHECK(md_llama_ctx_new(model, p, &ctx, &err) == MD_OK);
    CHECK(md_llama_decode(ctx, tokens, N, 0, chunked, &err) == MD_OK);
    md_llama_ctx_free(ctx);
    p.logits_all = false;
    CHECK(md_llama_ctx_new(model, p, &ctx, &err) == MD_OK);
    CHECK(md_llama_decode(ctx, tokens, N - 1, 0, NULL, &err) == MD_OK);
    CHECK(md_llama_decode(ctx, tokens + N - 1, 1, N - 1, last, &err) == MD_OK);
    md_llama_ctx_free(ctx);

    double worst_single = 0.0, worst_chunk = 0.0;
    for (int t = 0; t < N; t++) {
        double e1 = rel_l2(single + t * N_VOCAB, batch + t * N_VOCAB, N_VOCAB);
        double e2 = rel_l2(chunked + t * N_VOCAB, batch + t * N_VOCAB, N_VOCAB);
        if (!(e1 <= worst_single)) worst_single = e1;
        if (!(e2 <= worst_chunk)) worst_chunk = e2;
    }
    double e_last = rel_l2(last, batch + (N - 1) * N_VOCAB, N_VOCAB);
    fprintf(stderr, "own model: token-by-token vs batch %.2e, chunks of 7 vs batch %.2e, last-only %.2e\n",
            worst_single, worst_chunk, e_last);
    CHECK_MSG(worst_single <= TOL_BATCH, "token-by-token %.3e", worst_single);
    CHECK_MSG(worst_chunk <= TOL_BATCH, "chunked %.3e", worst_chunk);
    CHECK_MSG(e_last <= TOL_BATCH, "last-only %.3e", e_last);

    /* n_ctx 0 takes the model's context length. */
    p = md_llama_ctx_default_params();
    CHECK(md_llama_ctx_new(model, p, &ctx, &err) == MD_OK);
    CHECK_EQ_INT(md_llama_ctx_n_ctx(ctx), N_CTX_TRAIN);
    md_llama_ctx_free(ctx);
    p.n_ctx = MD_LLAMA_MAX_CTX + 1;
    CHECK_EQ_INT(md_llama_ctx_new(model, p, &ctx, &err), MD_ERR_INVALID_ARG);

    free(batch);
    free(single);
    free(chunked);
    free(last);
    own_unload(model);
    own_free(&m);
}

static void test_own_load_errors(void) {
    static const struct {
        fault fault;
        md_status status;
        const char *needle; /* the message names the culprit */
    } k_cases[] = {
        {FAULT_MISSING_TENSOR, MD_ERR_PARSE, "blk.1.ffn_up.weight"},
        {FAULT_BAD_SHAPE, MD_ERR_PARSE, "blk.0.attn_k.weight"},
        {FAULT_BAD_TYPE, MD_ERR_UNSUPPORTED, "blk.0.attn_v.weight"},
        {FAULT_ARCH, MD_ERR_UNSUPPORTED, "bert"},
        {FAULT_MISSING_KEY, MD_ERR_PARSE, "llama.embedding_length"},
        {FAULT_HEADS, MD_ERR_PARSE, "n_head_kv"},
    };
    for (size_t i = 0; i < MD_ARRAY_LEN(k_cases); i++) {
        own_model m;
        own_build(&m, (own_cfg){.type = MD_TENSOR_TYPE_F32, .fault = k_cases[i].fault});
        md_gguf *g = NULL;
        md_llama_model *model = NULL;
        md_error err = {0};
        CHECK(md_gguf_open_memory(m.file.data, m.file.len, &g, &err) == MD_OK);
        md_status st = md_llama_load_gguf(g, md_llama_model_default_params(), &model, &err);
        CHECK_MSG(st == k_cases[i].status, "case %zu: status %s, message %s", i, md_status_name(st), err.message);
        CHECK_MSG(strstr(err.message, k_cases[i].needle) != NULL, "case %zu: '%s' lacks '%s'", i, err.message,
                  k_cases[i].needle);
        CHECK(model == NULL);
        md_llama_free(model);
        md_gguf_close(g);
        own_free(&m);
    }
    /* Through a file: md_llama_load owns the mapping. */
    own_model m;
    own_build(&m, (own_cfg){.type = MD_TENSOR_TYPE_F32});
    char path[256];
    const char *tmp = getenv("TMPDIR");
    snprintf(path, sizeof path, "%s/medify_test_llama_%d.gguf", tmp && *tmp ? tmp : "/tmp", (int)getpid());
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    if (f) {
        CHECK(fwrite(m.file.data, 1, m.file.len, f) == m.file.len);
        fclose(f);
        md_llama_model *model = NULL;
        md_error err = {0};
        CHECK_MSG(md_llama_load(path, md_llama_model_default_params(), &model, &err) == MD_OK, "%s", err.message);
        md_llama_free(model);
        unlink(path);
        CHECK_EQ_INT(md_llama_load(path, md_llama_model_default_params(), &model, &err), MD_ERR_NOT_FOUND);
    }
    own_free(&m);
}

/* Every allocation of load and context creation failing in turn: an error, no leak. */
static void test_own_oom(void) {
    own_model m;
    own_build(&m, (own_cfg){.type = MD_TENSOR_TYPE_F32});
    md_gguf *g = NULL;
    md_error err = {0};
    CHECK(md_gguf_open_memory(m.file.data, m.file.len, &g, &err) == MD_OK);
    bool done = false;
    for (uint64_t n = 1; n < 64 && !done; n++) {
        md_llama_model *model = NULL;
        md_llama_ctx *ctx = NULL;
        md_alloc_fail_after(n, true);
        md_status st = md_llama_load_gguf(g, md_llama_model_default_params(), &model, &err);
        if (st == MD_OK) st = md_llama_ctx_new(model, md_llama_ctx_default_params(), &ctx, &err);
        done = !md_alloc_failed();
        md_alloc_fail_after(0, false);
        CHECK_MSG(done ? st == MD_OK : st == MD_ERR_NOMEM, "fail after %llu: %s", (unsigned long long)n,
                  md_status_name(st));
        md_llama_ctx_free(ctx);
        md_llama_free(model);
    }
    CHECK(done);
    md_gguf_close(g);
    own_free(&m);
}

/* ---- fixtures ----------------------------------------------------------------------------------- */

typedef struct fixture_type {
    const char *suffix;    /* of the model name */
    double tol;            /* README 4.1, activations rounded like ggml-cpu */
    double quantile;       /* this quantile of the row errors must be <= quantile_bound */
    double quantile_bound; /* NAN: not checked (fp16/bf16 rounding spreads the error) */
    double gap_threshold;  /* README 4.5 */
    bool has_exact;        /* *.logits.exact.f32 exist */
} fixture_type;

/* A sharp check beside the max (README 4.2): with ggml-style rounding most rows match
 * llama.cpp to ~1e-7, while a tiny upstream difference that moves one activation
 * across a Q8 rounding boundary lifts that row and, through the KV cache, every later
 * row of the sequence to ~1e-2 (tiny-llama-q8_0 seq64 flips at position 24, so 40 of
 * its 82 rows are ~1e-2). So for block-quantised types a quarter of the rows must
 * match to 1e-5, which any wrong kernel fails at once; F32 models have no rounding
 * flips and their median must. */
static const fixture_type k_fixture_types[] = {
    {"f32", 1e-4, 0.5, 1e-5, 0.01, false},   {"f16", 1e-2, 0.5, NAN, 0.02, true},
    {"bf16", 1e-2, 0.5, NAN, 0.1, true},     {"q8_0", 2e-2, 0.25, 1e-5, 0.1, true},
    {"q4_0", 2e-2, 0.25, 1e-5, 0.1, true},   {"q4_k_m", 5e-2, 0.25, 1e-5, 0.1, true},
    {"q5_k_m", 5e-2, 0.25, 1e-5, 0.1, true}, {"q6_k", 5e-2, 0.25, 1e-5, 0.1, true},
};

static const fixture_type *fixture_type_of(const char *model) {
    const char *dash = strrchr(model, '-');
    const char *suffix = dash ? dash + 1 : model;
    for (size_t i = 0; i < MD_ARRAY_LEN(k_fixture_types); i++)
        if (strcmp(k_fixture_types[i].suffix, suffix) == 0) return &k_fixture_types[i];
    return NULL;
}

/* Reads n floats from a raw little-endian file; NULL if it has another size. */
static float *read_f32_file(const char *path, size_t n) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    float *p = malloc(n * sizeof *p);
    size_t got = fread(p, sizeof *p, n, f);
    int extra = fgetc(f);
    fclose(f);
    if (got != n || extra != EOF) {
        free(p);
        return NULL;
    }
    return p;
}

static int32_t *json_ids(json_t *arr, size_t *n) {
    *n = json_array_size(arr);
    int32_t *ids = malloc((*n + 1) * sizeof *ids);
    for (size_t i = 0; i < *n; i++)
        ids[i] = (int32_t)json_integer_value(json_array_get(arr, i));
    return ids;
}

typedef struct err_stats {
    double *rows;
    size_t n, cap;
} err_stats;

static void stats_add(err_stats *s, double e) {
    if (s->n == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 256;
        s->rows = realloc(s->rows, s->cap * sizeof *s->rows);
    }
    s->rows[s->n++] = e;
}

/* Sorts the rows; max, median and the q-quantile (nearest rank). */
static void stats_summary(err_stats *s, double q, double *max, double *median, double *quantile) {
    *max = *median = *quantile = 0.0;
    if (s->n == 0) return;
    qsort(s->rows, s->n, sizeof *s->rows, cmp_double);
    *max = s->rows[s->n - 1];
    *median = s->n % 2 ? s->rows[s->n / 2] : 0.5 * (s->rows[s->n / 2 - 1] + s->rows[s->n / 2]);
    *quantile = s->rows[(size_t)(q * (double)(s->n - 1))];
}

/* Decodes ids from position 0 in a fresh cache with logits for every row and
 * compares them with ref (n rows); adds each row's error to stats. Returns the logits
 * (caller frees) or NULL. */
static float *decode_all(md_llama_ctx *ctx, const int32_t *ids, size_t n, uint32_t n_vocab) {
    md_error err = {0};
    float *logits = malloc(n * n_vocab * sizeof *logits);
    md_llama_ctx_truncate(ctx, 0);
    md_status st = md_llama_decode(ctx, ids, n, 0, logits, &err);
    CHECK_MSG(st == MD_OK, "decode: %s", err.message);
    if (st != MD_OK) {
        free(logits);
        return NULL;
    }
    return logits;
}

static void fixture_greedy(const char *dir, const char *name, const fixture_type *ft, const md_llama_model *model,
                           md_llama_ctx *ctx, err_stats *stats) {
    char path[1024];
    snprintf(path, sizeof path, "%s/ref/%s.greedy.json", dir, name);
    json_error_t jerr;
    json_t *g = json_load_file(path, 0, &jerr);
    CHECK_MSG(g != NULL, "%s: %s", path, jerr.text);
    if (!g) return;
    const uint32_t n_vocab = md_llama_model_hparams(model)->n_vocab;
    size_t n_prompt = 0, n_gen = 0;
    int32_t *prompt = json_ids(json_object_get(g, "prompt_ids"), &n_prompt);
    int32_t *gen_ids = json_ids(json_object_get(g, "generated_ids"), &n_gen);
    json_t *steps = json_object_get(g, "steps");
    snprintf(path, sizeof path, "%s/ref/%s.greedy.logits.f32", dir, name);
    float *ref = read_f32_file(path, n_gen * n_vocab);
    CHECK_MSG(ref != NULL && json_array_size(steps) == n_gen && n_prompt > 0 && n_gen > 0, "%s", path);
    if (!ref || json_array_size(steps) != n_gen || n_prompt == 0 || n_gen == 0) {
        free(ref);
        free(prompt);
        free(gen_ids);
        json_decref(g);
        return;
    }
    size_t first_low_gap = n_gen;
    for (size_t s = 0; s < n_gen && first_low_gap == n_gen; s++)
        if (json_real_value(json_object_get(json_array_get(steps, s), "gap")) < ft->gap_threshold) first_low_gap = s;

    /* Teacher-forced: prompt + generated[:-1] in one call; rows n_prompt-1.. are the
     * greedy rows. */
    size_t n_tf = n_prompt + n_gen - 1;
    int32_t *tf = malloc(n_tf * sizeof *tf);
    memcpy(tf, prompt, n_prompt * sizeof *tf);
    memcpy(tf + n_prompt, gen_ids, (n_gen - 1) * sizeof *tf);
    float *logits = decode_all(ctx, tf, n_tf, n_vocab);
    size_t argmax_checked = 0;
    for (size_t s = 0; logits && s < n_gen; s++) {
        const float *row = logits + (n_prompt - 1 + s) * n_vocab;
        double e = rel_l2(row, ref + s * n_vocab, n_vocab);
        stats_add(stats, e);
        CHECK_MSG(e <= ft->tol, "%s greedy step %zu: rel L2 %.3e > %.0e", name, s, e, ft->tol);
        double gap = json_real_value(json_object_get(json_array_get(steps, s), "gap"));
        if (gap >= ft->gap_threshold) {
            argmax_checked++;
            CHECK_MSG(argmax(row, n_vocab) == (size_t)gen_ids[s], "%s teacher-forced step %zu: argmax %zu, want %d",
                      name, s, argmax(row, n_vocab), gen_ids[s]);
        }
    }
    /* Free-running, one token per call, up to the first low-gap step: rewind the
     * cache to the end of the prompt (its rows are those of the teacher-forced run)
     * and start from the last prompt row's logits. */
    md_error err = {0};
    float *last = malloc(n_vocab * sizeof *last);
    memcpy(last, logits ? logits + (n_prompt - 1) * n_vocab : ref, n_vocab * sizeof *last);
    md_llama_ctx_truncate(ctx, (uint32_t)n_prompt);
    size_t s = 0;
    for (; s < first_low_gap; s++) {
        int32_t next = (int32_t)argmax(last, n_vocab);
        CHECK_MSG(next == gen_ids[s], "%s free-running step %zu: %d, want %d", name, s, next, gen_ids[s]);
        if (next != gen_ids[s]) break;
        if (md_llama_decode(ctx, &next, 1, (uint32_t)(n_prompt + s), last, &err) != MD_OK) break;
    }
    fprintf(stderr,
            "  %-22s greedy: free-running %zu/%zu steps identical (first gap < %.2g at step %zu), "
            "teacher-forced argmax checked on %zu steps\n",
            name, s, n_gen, ft->gap_threshold, first_low_gap, argmax_checked);
    free(logits);
    free(last);
    free(tf);
    free(ref);
    free(prompt);
    free(gen_ids);
    json_decref(g);
}

/* Compares decode(seq) with the reference file `<name>.<seq>.<kind>.f32` row by row. */
static void fixture_seq(const char *dir, const char *name, const char *seq, const char *kind, json_t *ids_json,
                        md_llama_ctx *ctx, uint32_t n_vocab, double tol, err_stats *stats) {
    char path[1024];
    snprintf(path, sizeof path, "%s/ref/%s.%s.%s.f32", dir, name, seq, kind);
    size_t n = 0;
    int32_t *ids = json_ids(ids_json, &n);
    float *ref = read_f32_file(path, n * n_vocab);
    CHECK_MSG(ref != NULL, "%s: missing or of the wrong size", path);
    float *logits = ref ? decode_all(ctx, ids, n, n_vocab) : NULL;
    for (size_t t = 0; logits && t < n; t++) {
        double e = rel_l2(logits + t * n_vocab, ref + t * n_vocab, n_vocab);
        stats_add(stats, e);
        CHECK_MSG(e <= tol, "%s %s (%s) row %zu: rel L2 %.3e > %.0e", name, seq, kind, t, e, tol);
    }
    free(logits);
    free(ref);
    free(ids);
}

static void test_fixtures(void) {
    const char *dir = getenv("MEDIFY_FIXTURES");
    char path[1024];
    snprintf(path, sizeof path, "%s/ref/index.json", dir ? dir : "");
    if (!dir || access(path, R_OK) != 0) {
        fprintf(stderr,
                "test_engine_llama: SKIP fixture checks: %s%s (set MEDIFY_FIXTURES to the shared fixtures "
                "directory)\n",
                dir ? path : "MEDIFY_FIXTURES is unset", dir ? " is not readable" : "");
        return;
    }
    json_error_t jerr;
    json_t *index = json_load_file(path, 0, &jerr);
    CHECK_MSG(index != NULL, "%s: %s", path, jerr.text);
    if (!index) return;
    /* The full tier adds seq512 of tiny-llama31-f32 (~10 s more under ASan). */
    const char *full_env = getenv("MEDIFY_TEST_FULL");
    const bool full = full_env && *full_env && strcmp(full_env, "0") != 0;
    if (!full) fprintf(stderr, "test_engine_llama: seq512 skipped (set MEDIFY_TEST_FULL=1 to run it)\n");
    json_t *sequences = json_object_get(index, "sequences"), *per_model = json_object_get(index, "sequences_per_model");
    const char *name;
    json_t *seqs;
    size_t n_models = 0;
    json_object_foreach(per_model, name, seqs) {
        const fixture_type *ft = fixture_type_of(name);
        CHECK_MSG(ft != NULL, "fixture model %s: unknown type", name);
        if (!ft) continue;
        snprintf(path, sizeof path, "%s/models/%s.gguf", dir, name);
        md_llama_model *model = NULL;
        md_error err = {0};
        CHECK_MSG(md_llama_load(path, md_llama_model_default_params(), &model, &err) == MD_OK, "%s: %s", path,
                  err.message);
        if (!model) continue;
        n_models++;
        const md_llama_hparams *hp = md_llama_model_hparams(model);
        CHECK_EQ_INT(hp->n_vocab, 512);
        CHECK(hp->has_rope_freqs == (strstr(name, "llama31") != NULL));
        CHECK(hp->tied_output == (strstr(name, "tied") != NULL));
        md_llama_ctx_params p = md_llama_ctx_default_params();
        p.n_ctx = 512;
        p.logits_all = true;
        md_llama_ctx *ctx = NULL;
        CHECK_MSG(md_llama_ctx_new(model, p, &ctx, &err) == MD_OK, "%s", err.message);
        err_stats stats = {0}, greedy_stats = {0}, exact_stats = {0};
        size_t i_seq;
        json_t *seq;
        json_array_foreach(seqs, i_seq, seq) {
            const char *seq_name = json_string_value(seq);
            if (strcmp(seq_name, "seq512") == 0 && (!full || strcmp(name, "tiny-llama31-f32") != 0)) continue;
            fixture_seq(dir, name, seq_name, "logits", json_object_get(sequences, seq_name), ctx, hp->n_vocab, ft->tol,
                        &stats);
        }
        fixture_greedy(dir, name, ft, model, ctx, &greedy_stats);
        md_llama_ctx_free(ctx);
        if (ft->has_exact) {
            p.matmul = MD_LLAMA_MATMUL_F32;
            CHECK(md_llama_ctx_new(model, p, &ctx, &err) == MD_OK);
            fixture_seq(dir, name, "seq17", "logits.exact", json_object_get(sequences, "seq17"), ctx, hp->n_vocab,
                        TOL_EXACT, &exact_stats);
            md_llama_ctx_free(ctx);
        }
        double max, median, quant, gmax, gmedian, gquant, emax, emedian, equant;
        size_t n_rows = stats.n, n_exact = exact_stats.n;
        stats_summary(&stats, ft->quantile, &max, &median, &quant);
        stats_summary(&greedy_stats, ft->quantile, &gmax, &gmedian, &gquant);
        stats_summary(&exact_stats, ft->quantile, &emax, &emedian, &equant);
        fprintf(stderr,
                "  %-22s vs llama.cpp: %3zu rows max %.2e median %.2e p%.0f %.2e (tol %.0e); greedy rows "
                "max %.2e median %.2e",
                name, n_rows, max, median, 100 * ft->quantile, quant, ft->tol, gmax, gmedian);
        if (n_exact) fprintf(stderr, "; f32 path vs exact: max %.2e", emax);
        fputc('\n', stderr);
        if (!isnan(ft->quantile_bound))
            CHECK_MSG(quant <= ft->quantile_bound, "%s: p%.0f row error %.3e > %.0e", name, 100 * ft->quantile, quant,
                      ft->quantile_bound);
        free(stats.rows);
        free(greedy_stats.rows);
        free(exact_stats.rows);
        md_llama_free(model);
    }
    CHECK_EQ_INT(n_models, 11);
    json_decref(index);
}

int main(void) {
    test_own_reference();
    test_own_batching_and_limits();
    test_own_load_errors();
    test_own_oom();
    test_fixtures();
    return check_report("test_engine_llama");
}
