/* md_gen_tiny_llama: writes a small, deterministic Llama-architecture GGUF with a working
 * tokenizer and a Llama 3 chat template, for tests that need a model end to end
 * (`medify model serve`, the llm module) on machines without ../shared/fixtures.
 *
 *   md_gen_tiny_llama OUT.gguf [SEED [N_CTX]]
 *
 * N_CTX (default 512) is the context length written into the file: the weights do
 * not depend on it (RoPE has no position table), so a test that sends long prompts,
 * such as a report's, can ask for more.
 *
 * The tokenizer is byte-level BPE ("gpt2", pre-tokenizer "llama-bpe") over the 256
 * byte tokens of GPT-2's byte-to-unicode alphabet (Radford et al. 2019, the
 * `bytes_to_unicode` table of the released encoder) with no merges, plus the Llama 3
 * control tokens, so every text tokenizes to its bytes. The weights are f32 from a
 * fixed-seed xorshift64* generator (Vigna 2016) with a Box-Muller normal: the same
 * seed gives the same bytes on every machine. The output rows of the control tokens
 * are zero, so their logits are 0 while the byte tokens' spread around it: greedy
 * decoding rarely ends a turn by itself and generations run to their max_tokens,
 * which keeps test timings predictable. The model writes nonsense; it exists to be
 * loaded, run and served.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "medify/base.h"
#include "medify/gguf.h"

#define N_BYTE_TOKENS 256
#define N_VOCAB       (N_BYTE_TOKENS + 5)
#define N_EMBD        128
#define N_LAYER       2
#define N_HEAD        4
#define N_HEAD_KV     2
#define HEAD_DIM      (N_EMBD / N_HEAD)
#define N_FF          256
#define N_CTX_TRAIN   512 /* default; the third argument may raise it */
#define TOKEN_TYPE_NORMAL  1 /* llama.cpp's LLAMA_TOKEN_TYPE_* */
#define TOKEN_TYPE_CONTROL 3

static const char *const k_specials[N_VOCAB - N_BYTE_TOKENS] = {
    "<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>",
};

static const char k_chat_template[] =
    "{% for message in messages %}{{ '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n' + "
    "message['content'] | trim + '<|eot_id|>' }}{% endfor %}{% if add_generation_prompt %}"
    "{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}";

typedef struct rng {
    uint64_t s;
} rng;

static uint64_t rng_next(rng *r) {
    r->s ^= r->s >> 12;
    r->s ^= r->s << 25;
    r->s ^= r->s >> 27;
    return r->s * 0x2545F4914F6CDD1DULL;
}

static double rng_uniform(rng *r) { return ((double)(rng_next(r) >> 11) + 0.5) / 9007199254740992.0; }

static float rng_normal(rng *r, float mean, float sigma) {
    double u1 = rng_uniform(r), u2 = rng_uniform(r);
    return mean + sigma * (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}

static bool add_matrix(md_gguf_writer *w, rng *r, const char *name, uint64_t n_in, uint64_t n_out, float mean,
                       float sigma, uint64_t n_zero_rows_from) {
    size_t n = (size_t)(n_in * n_out);
    float *data = malloc(n * sizeof *data);
    if (!data) return false;
    for (size_t i = 0; i < n; i++)
        data[i] = i / n_in >= n_zero_rows_from ? 0.0f : rng_normal(r, mean, sigma);
    uint64_t ne[2] = {n_in, n_out};
    bool ok = md_gguf_writer_add_tensor(w, name, MD_TENSOR_TYPE_F32, n_out == 1 ? 1 : 2, ne, data,
                                        n * sizeof *data) == MD_OK;
    free(data);
    return ok;
}

/* GPT-2's byte-to-unicode map: printable Latin-1 bytes stand for themselves, the rest
 * for code points from 256 up, in byte order. */
static void byte_tokens(char text[N_BYTE_TOKENS][5]) {
    uint32_t next = 256;
    for (uint32_t b = 0; b < N_BYTE_TOKENS; b++) {
        bool printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
        uint32_t cp = printable ? b : next++;
        size_t n = md_utf8_encode(cp, text[b]);
        text[b][n] = '\0';
    }
}

static bool write_model(md_gguf_writer *w, uint64_t seed, uint32_t n_ctx) {
    bool ok = md_gguf_writer_set_str(w, "general.architecture", "llama") == MD_OK &&
              md_gguf_writer_set_str(w, "general.name", "medify-tiny-llama") == MD_OK &&
              md_gguf_writer_set_u32(w, "llama.context_length", n_ctx) == MD_OK &&
              md_gguf_writer_set_u32(w, "llama.embedding_length", N_EMBD) == MD_OK &&
              md_gguf_writer_set_u32(w, "llama.block_count", N_LAYER) == MD_OK &&
              md_gguf_writer_set_u32(w, "llama.feed_forward_length", N_FF) == MD_OK &&
              md_gguf_writer_set_u32(w, "llama.attention.head_count", N_HEAD) == MD_OK &&
              md_gguf_writer_set_u32(w, "llama.attention.head_count_kv", N_HEAD_KV) == MD_OK &&
              md_gguf_writer_set_u32(w, "llama.rope.dimension_count", HEAD_DIM) == MD_OK &&
              md_gguf_writer_set_f32(w, "llama.rope.freq_base", 500000.0f) == MD_OK &&
              md_gguf_writer_set_f32(w, "llama.attention.layer_norm_rms_epsilon", 1e-5f) == MD_OK &&
              md_gguf_writer_set_u32(w, "llama.vocab_size", N_VOCAB) == MD_OK;

    static char bytes[N_BYTE_TOKENS][5];
    byte_tokens(bytes);
    const char *tokens[N_VOCAB];
    int32_t types[N_VOCAB];
    for (int i = 0; i < N_VOCAB; i++) {
        tokens[i] = i < N_BYTE_TOKENS ? bytes[i] : k_specials[i - N_BYTE_TOKENS];
        types[i] = i < N_BYTE_TOKENS ? TOKEN_TYPE_NORMAL : TOKEN_TYPE_CONTROL;
    }
    ok = ok && md_gguf_writer_set_str(w, "tokenizer.ggml.model", "gpt2") == MD_OK &&
         md_gguf_writer_set_str(w, "tokenizer.ggml.pre", "llama-bpe") == MD_OK &&
         md_gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", tokens, N_VOCAB) == MD_OK &&
         md_gguf_writer_set_arr_i32(w, "tokenizer.ggml.token_type", types, N_VOCAB) == MD_OK &&
         md_gguf_writer_set_arr_str(w, "tokenizer.ggml.merges", NULL, 0) == MD_OK &&
         md_gguf_writer_set_u32(w, "tokenizer.ggml.bos_token_id", N_BYTE_TOKENS) == MD_OK &&
         md_gguf_writer_set_u32(w, "tokenizer.ggml.eos_token_id", N_BYTE_TOKENS + 1) == MD_OK &&
         md_gguf_writer_set_str(w, "tokenizer.chat_template", k_chat_template) == MD_OK;

    rng r = {.s = seed ? seed : 1};
    char name[64];
    ok = ok && add_matrix(w, &r, "token_embd.weight", N_EMBD, N_VOCAB, 0.0f, 0.5f, N_VOCAB);
    for (int il = 0; ok && il < N_LAYER; il++) {
#define MATRIX(suffix, n_in, n_out, mean, sigma)                                                                       \
    (snprintf(name, sizeof name, "blk.%d." suffix ".weight", il),                                                      \
     add_matrix(w, &r, name, n_in, n_out, mean, sigma, (uint64_t)(n_out)))
        ok = MATRIX("attn_norm", N_EMBD, 1, 1.0f, 0.1f) && MATRIX("attn_q", N_EMBD, N_EMBD, 0.0f, 0.15f) &&
             MATRIX("attn_k", N_EMBD, N_HEAD_KV * HEAD_DIM, 0.0f, 0.15f) &&
             MATRIX("attn_v", N_EMBD, N_HEAD_KV * HEAD_DIM, 0.0f, 0.15f) &&
             MATRIX("attn_output", N_EMBD, N_EMBD, 0.0f, 0.15f) && MATRIX("ffn_norm", N_EMBD, 1, 1.0f, 0.1f) &&
             MATRIX("ffn_gate", N_EMBD, N_FF, 0.0f, 0.15f) && MATRIX("ffn_up", N_EMBD, N_FF, 0.0f, 0.15f) &&
             MATRIX("ffn_down", N_FF, N_EMBD, 0.0f, 0.1f);
#undef MATRIX
    }
    ok = ok && add_matrix(w, &r, "output_norm.weight", N_EMBD, 1, 1.0f, 0.1f, 1);
    /* control tokens (rows N_BYTE_TOKENS..) get zero output rows: see the top comment */
    ok = ok && add_matrix(w, &r, "output.weight", N_EMBD, N_VOCAB, 0.0f, 0.15f, N_BYTE_TOKENS);
    return ok;
}

int main(int argc, char **argv) {
    if (argc < 2 || argc > 4) {
        fprintf(stderr, "usage: md_gen_tiny_llama OUT.gguf [SEED [N_CTX]]\n");
        return 64;
    }
    uint64_t seed = argc >= 3 ? strtoull(argv[2], NULL, 10) : 20261208;
    unsigned long n_ctx = argc == 4 ? strtoul(argv[3], NULL, 10) : N_CTX_TRAIN;
    if (n_ctx < 16 || n_ctx > (1ul << 20)) {
        fprintf(stderr, "md_gen_tiny_llama: N_CTX must be between 16 and 1048576\n");
        return 64;
    }
    md_gguf_writer *w = md_gguf_writer_new();
    if (!w || !write_model(w, seed, (uint32_t)n_ctx)) {
        fprintf(stderr, "md_gen_tiny_llama: out of memory\n");
        md_gguf_writer_free(w);
        return 70;
    }
    md_error err = {0};
    md_status st = md_gguf_writer_save(w, argv[1], &err);
    md_gguf_writer_free(w);
    if (st != MD_OK) {
        fprintf(stderr, "md_gen_tiny_llama: %s\n", err.message);
        return md_status_exit_code(st);
    }
    return 0;
}
