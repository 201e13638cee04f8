/* The Llama decoder on several threads (llama.h n_threads): logits with 2 and 3
 * threads equal the logits with 1 thread (TOL_THREADS), for a prompt decoded as one
 * batch and for token-by-token generation after it, on the project's own small
 * models in Q4_K/Q6_K (the Q4_K_M mix), Q8_0 and F16 with several heads per KV head,
 * and, with MEDIFY_FIXTURES, on every llama.cpp-made tiny decoder there (F32, F16,
 * BF16, Q4_0, Q4_K_M, Q5_K_M, Q6_K, Q8_0, tied). Also: n_threads outside 0..256 is
 * refused, 0 means every CPU. */
#include "check.h"
#include "medify/gguf.h"
#include "medify/llama.h"
#include "medify/tensor.h"
#include "medify/threadpool.h"

#include <dirent.h>
#include <stdlib.h>
#include <string.h>

/* Each output element is one dot computed by one thread in a fixed order, whatever
 * the thread count (llama.c, matmul.c): the logits must be bit-identical. */
#define TOL_THREADS 0.0

#define OWN_EMBD  256
#define OWN_HEAD  4
#define OWN_KV    2
#define OWN_HD    (OWN_EMBD / OWN_HEAD)
#define OWN_FF    512
#define OWN_LAYER 2
#define OWN_VOCAB 320
#define N_PROMPT  19
#define N_GEN     5

static uint64_t rng_state = 7;

static float rng_normal(float sigma) {
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    double u = ((double)(rng_state >> 11) + 0.5) / 9007199254740992.0;
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    double v = ((double)(rng_state >> 11) + 0.5) / 9007199254740992.0;
    return sigma * (float)(sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v));
}

static void add(md_gguf_writer *w, const char *name, md_tensor_type type, uint64_t n_in, uint64_t n_out, float mean,
                float sigma) {
    uint64_t row_bytes = 0;
    CHECK(md_tensor_row_bytes(type, n_in, &row_bytes));
    float *row = malloc(n_in * sizeof *row);
    uint8_t *q = malloc(row_bytes * n_out);
    for (uint64_t r = 0; r < n_out; r++) {
        for (uint64_t i = 0; i < n_in; i++)
            row[i] = mean + rng_normal(sigma);
        CHECK(md_quantize_row(type, row, q + r * row_bytes, (int64_t)n_in) == MD_OK);
    }
    uint64_t ne[2] = {n_in, n_out};
    CHECK(md_gguf_writer_add_tensor(w, name, type, n_out == 1 ? 1 : 2, ne, q, row_bytes * n_out) == MD_OK);
    free(q);
    free(row);
}

/* A small Llama GGUF in memory: `main` for most matrices, `down` for ffn_down and the
 * output matrix (as llama.cpp's Q4_K_M keeps them in Q6_K). */
static void own_build(md_buf *file, md_tensor_type main, md_tensor_type down) {
    md_gguf_writer *w = md_gguf_writer_new();
    CHECK(w != NULL);
    md_gguf_writer_set_str(w, "general.architecture", "llama");
    md_gguf_writer_set_u32(w, "llama.context_length", 256);
    md_gguf_writer_set_u32(w, "llama.embedding_length", OWN_EMBD);
    md_gguf_writer_set_u32(w, "llama.block_count", OWN_LAYER);
    md_gguf_writer_set_u32(w, "llama.feed_forward_length", OWN_FF);
    md_gguf_writer_set_u32(w, "llama.attention.head_count", OWN_HEAD);
    md_gguf_writer_set_u32(w, "llama.attention.head_count_kv", OWN_KV);
    md_gguf_writer_set_u32(w, "llama.rope.dimension_count", OWN_HD);
    md_gguf_writer_set_f32(w, "llama.attention.layer_norm_rms_epsilon", 1e-5f);
    md_gguf_writer_set_u32(w, "llama.vocab_size", OWN_VOCAB);
    const md_tensor_type f32 = MD_TENSOR_TYPE_F32;
    add(w, "token_embd.weight", main, OWN_EMBD, OWN_VOCAB, 0.0f, 0.5f);
    for (int il = 0; il < OWN_LAYER; il++) {
        char name[64];
#define T(suffix, type, n_in, n_out, mean, sigma)                        \
    snprintf(name, sizeof name, "blk.%d." suffix ".weight", il);         \
    add(w, name, type, n_in, n_out, mean, sigma)
        T("attn_norm", f32, OWN_EMBD, 1, 1.0f, 0.1f);
        T("attn_q", main, OWN_EMBD, OWN_EMBD, 0.0f, 0.08f);
        T("attn_k", main, OWN_EMBD, OWN_KV * OWN_HD, 0.0f, 0.08f);
        T("attn_v", down, OWN_EMBD, OWN_KV * OWN_HD, 0.0f, 0.08f);
        T("attn_output", main, OWN_EMBD, OWN_EMBD, 0.0f, 0.08f);
        T("ffn_norm", f32, OWN_EMBD, 1, 1.0f, 0.1f);
        T("ffn_gate", main, OWN_EMBD, OWN_FF, 0.0f, 0.08f);
        T("ffn_up", main, OWN_EMBD, OWN_FF, 0.0f, 0.08f);
        T("ffn_down", down, OWN_FF, OWN_EMBD, 0.0f, 0.06f);
#undef T
    }
    add(w, "output_norm.weight", f32, OWN_EMBD, 1, 1.0f, 0.1f);
    add(w, "output.weight", down, OWN_EMBD, OWN_VOCAB, 0.0f, 0.08f);
    md_buf_init(file);
    md_error err = {0};
    CHECK_MSG(md_gguf_writer_write_buf(w, file, &err) == MD_OK, "%s", err.message);
    md_gguf_writer_free(w);
}

/* Prompt (one batch, every row's logits) then N_GEN single-token steps, on n_threads;
 * out: (N_PROMPT + N_GEN) × n_vocab logits. */
static bool run(const md_llama_model *model, int n_threads, float *out) {
    const uint32_t n_vocab = md_llama_model_hparams(model)->n_vocab;
    md_llama_ctx_params p = md_llama_ctx_default_params();
    p.n_ctx = 64;
    p.n_threads = n_threads;
    p.logits_all = true;
    md_llama_ctx *ctx = NULL;
    md_error err = {0};
    CHECK_MSG(md_llama_ctx_new(model, p, &ctx, &err) == MD_OK, "%s", err.message);
    if (!ctx) return false;
    int32_t tokens[N_PROMPT + N_GEN];
    for (int i = 0; i < N_PROMPT + N_GEN; i++)
        tokens[i] = (int32_t)(((uint32_t)i * 37u + 11u) % n_vocab);
    bool ok = md_llama_decode(ctx, tokens, N_PROMPT, 0, out, &err) == MD_OK;
    for (int g = 0; ok && g < N_GEN; g++)
        ok = md_llama_decode(ctx, tokens + N_PROMPT + g, 1, (uint32_t)(N_PROMPT + g),
                             out + (size_t)(N_PROMPT + g) * n_vocab, &err) == MD_OK;
    CHECK_MSG(ok, "decode: %s", err.message);
    md_llama_ctx_free(ctx);
    return ok;
}

static void compare_threads(const char *label, const md_llama_model *model) {
    const size_t n = (size_t)(N_PROMPT + N_GEN) * md_llama_model_hparams(model)->n_vocab;
    float *one = malloc(n * sizeof *one), *many = malloc(n * sizeof *many);
    if (run(model, 1, one)) {
        for (int nt = 2; nt <= 3; nt++) {
            if (!run(model, nt, many)) continue;
            double worst = 0.0;
            for (size_t i = 0; i < n; i++) {
                double d = fabs((double)many[i] - (double)one[i]);
                if (!(d <= worst)) worst = d;
            }
            CHECK_MSG(worst <= TOL_THREADS, "%s: %d threads differ from 1 by %.3g", label, nt, worst);
        }
    }
    free(one);
    free(many);
}

static void test_own_models(void) {
    static const struct {
        const char *label;
        md_tensor_type main, down;
    } k_mixes[] = {
        {"own Q4_K_M", MD_TENSOR_TYPE_Q4_K, MD_TENSOR_TYPE_Q6_K},
        {"own Q8_0", MD_TENSOR_TYPE_Q8_0, MD_TENSOR_TYPE_Q8_0},
        {"own F16", MD_TENSOR_TYPE_F16, MD_TENSOR_TYPE_F16},
    };
    for (size_t i = 0; i < MD_ARRAY_LEN(k_mixes); i++) {
        md_buf file;
        own_build(&file, k_mixes[i].main, k_mixes[i].down);
        md_gguf *g = NULL;
        md_llama_model *model = NULL;
        md_error err = {0};
        CHECK_MSG(md_gguf_open_memory(file.data, file.len, &g, &err) == MD_OK, "%s", err.message);
        if (g) CHECK_MSG(md_llama_load_gguf(g, md_llama_model_default_params(), &model, &err) == MD_OK, "%s", err.message);
        if (model) {
            compare_threads(k_mixes[i].label, model);
            if (i == 0) {
                md_llama_ctx_params p = md_llama_ctx_default_params();
                md_llama_ctx *ctx = NULL;
                p.n_ctx = 16;
                p.n_threads = -1;
                CHECK(md_llama_ctx_new(model, p, &ctx, NULL) == MD_ERR_INVALID_ARG && ctx == NULL);
                p.n_threads = MD_POOL_MAX_THREADS + 1;
                CHECK(md_llama_ctx_new(model, p, &ctx, NULL) == MD_ERR_INVALID_ARG && ctx == NULL);
                p.n_threads = 0;
                CHECK(md_llama_ctx_new(model, p, &ctx, NULL) == MD_OK && ctx != NULL);
                md_llama_ctx_free(ctx);
            }
            md_llama_free(model);
        }
        md_gguf_close(g);
        md_buf_free(&file);
    }
}

static void test_fixture_models(void) {
    const char *dir = getenv("MEDIFY_FIXTURES");
    char path[4096];
    snprintf(path, sizeof path, "%s/models", dir ? dir : "");
    DIR *d = dir ? opendir(path) : NULL;
    if (!d) {
        fprintf(stderr, "fixtures: MEDIFY_FIXTURES/models not found, llama.cpp-made models skipped\n");
        return;
    }
    struct dirent *e;
    int n_models = 0;
    while ((e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, "tiny-llama", 10) != 0 || !strstr(e->d_name, ".gguf")) continue;
        char file[4400];
        snprintf(file, sizeof file, "%s/%s", path, e->d_name);
        md_llama_model *model = NULL;
        md_error err = {0};
        CHECK_MSG(md_llama_load(file, md_llama_model_default_params(), &model, &err) == MD_OK, "%s: %s", e->d_name,
                  err.message);
        if (!model) continue;
        compare_threads(e->d_name, model);
        md_llama_free(model);
        n_models++;
    }
    closedir(d);
    CHECK(n_models > 0);
    fprintf(stderr, "fixtures: %d llama.cpp-made models compared\n", n_models);
}

int main(void) {
    test_own_models();
    test_fixture_models();
    return check_report("test_engine_llama_threads");
}
