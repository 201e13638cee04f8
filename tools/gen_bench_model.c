/* md_gen_bench_model: writes a random-weight Llama GGUF with the shape of a real model,
 * for speed measurements (bench/llm.sh) only; its outputs mean nothing.
 *
 *   md_gen_bench_model --shape 1b|8b --type f16|q8_0|q4_k_m --out FILE [--seed N]
 *
 * Shapes: "1b" = Llama-3.2-1B (n_embd 2048, 16 layers, 32 heads over 8 KV heads, n_ff
 * 8192, vocab 128256, output tied to token_embd, rope_freqs); "8b" = Llama-3-8B (4096,
 * 32 layers, 32/8 heads, n_ff 14336, vocab 128256, separate output matrix).
 * Types: every matrix in F16 or Q8_0, or the Q4_K_M mix of llama.cpp's llama-quant
 * rules: Q4_K everywhere except Q6_K for the output matrix (token_embd when tied) and
 * for attn_v and ffn_down in the first and last eighth of the layers and every third
 * layer between them.
 *
 * Quantised blocks are random bytes with sane fp16 scales written in place (the
 * scalar quantiser would take hours on 8B weights, and speed does not depend on the
 * values); F16 values are random in ±[2^-7, 2^-3]; norms are 1. The file is streamed
 * (header, then each tensor through a 4 MiB buffer), so memory stays small. The
 * vocabulary is a minimal SentencePiece-style one (specials, the 256 byte tokens,
 * then "t<id>" pieces) so tokenizer loaders accept the file.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "medify/gguf.h"
#include "medify/tensor.h"

#define GGUF_ALIGN      32u
#define CHUNK_BYTES     (4u << 20)
#define N_SPECIAL       3 /* <unk> <s> </s> */
#define N_BYTE_TOKENS   256

typedef struct shape {
    const char *name;
    uint32_t n_embd, n_layer, n_head, n_head_kv, n_ff, n_vocab;
    bool tied;
    float rope_base;
} shape;

static const shape k_shapes[] = {
    {"1b", 2048, 16, 32, 8, 8192, 128256, true, 500000.0f},
    {"8b", 4096, 32, 32, 8, 14336, 128256, false, 500000.0f},
};

typedef enum mix { MIX_F16, MIX_Q8_0, MIX_Q4_K_M } mix;

typedef struct tensor_spec {
    char name[64];
    md_tensor_type type;
    uint32_t n_dims;
    uint64_t ne[2];
    uint64_t n_bytes, offset;
} tensor_spec;

static uint64_t g_rng;

static inline uint64_t rng_next(void) { /* xorshift64* */
    g_rng ^= g_rng >> 12;
    g_rng ^= g_rng << 25;
    g_rng ^= g_rng >> 27;
    return g_rng * 2685821657736338717ull;
}

/* ---- streaming GGUF output ------------------------------------------------------------ */

static bool put(FILE *f, const void *p, size_t n) { return fwrite(p, 1, n, f) == n; }
static bool put_u32(FILE *f, uint32_t v) { return put(f, &v, 4); }
static bool put_u64(FILE *f, uint64_t v) { return put(f, &v, 8); }
static bool put_str(FILE *f, const char *s) { return put_u64(f, strlen(s)) && put(f, s, strlen(s)); }

static bool kv_u32(FILE *f, const char *k, uint32_t v) {
    return put_str(f, k) && put_u32(f, MD_GGUF_TYPE_UINT32) && put_u32(f, v);
}
static bool kv_f32(FILE *f, const char *k, float v) {
    return put_str(f, k) && put_u32(f, MD_GGUF_TYPE_FLOAT32) && put(f, &v, 4);
}
static bool kv_str(FILE *f, const char *k, const char *v) {
    return put_str(f, k) && put_u32(f, MD_GGUF_TYPE_STRING) && put_str(f, v);
}

static void token_text(uint32_t id, char *buf, size_t n) {
    static const char *const k_special[N_SPECIAL] = {"<unk>", "<s>", "</s>"};
    if (id < N_SPECIAL) snprintf(buf, n, "%s", k_special[id]);
    else if (id < N_SPECIAL + N_BYTE_TOKENS) snprintf(buf, n, "<0x%02X>", id - N_SPECIAL);
    else snprintf(buf, n, "t%u", id);
}

static bool write_vocab(FILE *f, uint32_t n_vocab) {
    bool ok = kv_str(f, "tokenizer.ggml.model", "llama");
    ok = ok && put_str(f, "tokenizer.ggml.tokens") && put_u32(f, MD_GGUF_TYPE_ARRAY) &&
         put_u32(f, MD_GGUF_TYPE_STRING) && put_u64(f, n_vocab);
    char buf[32];
    for (uint32_t i = 0; ok && i < n_vocab; i++) {
        token_text(i, buf, sizeof buf);
        ok = put_str(f, buf);
    }
    ok = ok && put_str(f, "tokenizer.ggml.scores") && put_u32(f, MD_GGUF_TYPE_ARRAY) &&
         put_u32(f, MD_GGUF_TYPE_FLOAT32) && put_u64(f, n_vocab);
    for (uint32_t i = 0; ok && i < n_vocab; i++) {
        float s = i < N_SPECIAL + N_BYTE_TOKENS ? 0.0f : -(float)i;
        ok = put(f, &s, 4);
    }
    ok = ok && put_str(f, "tokenizer.ggml.token_type") && put_u32(f, MD_GGUF_TYPE_ARRAY) &&
         put_u32(f, MD_GGUF_TYPE_INT32) && put_u64(f, n_vocab);
    for (uint32_t i = 0; ok && i < n_vocab; i++) {
        int32_t t = i == 0 ? 2 : i < N_SPECIAL ? 3 : i < N_SPECIAL + N_BYTE_TOKENS ? 6 : 1;
        ok = put(f, &t, 4);
    }
    return ok && kv_u32(f, "tokenizer.ggml.unknown_token_id", 0) && kv_u32(f, "tokenizer.ggml.bos_token_id", 1) &&
           kv_u32(f, "tokenizer.ggml.eos_token_id", 2);
}
#define N_VOCAB_KV 7 /* model, tokens, scores, token_type, unk, bos, eos */

/* ---- tensors ------------------------------------------------------------------------------ */

/* llama.cpp's Q4_K_M keeps these layers' attn_v and ffn_down in Q6_K. */
static bool more_bits(uint32_t il, uint32_t n_layer) {
    return il < n_layer / 8 || il >= 7 * n_layer / 8 || (il - n_layer / 8) % 3 == 2;
}

static md_tensor_type matrix_type(mix m, bool output, bool sensitive) {
    switch (m) {
    case MIX_F16: return MD_TENSOR_TYPE_F16;
    case MIX_Q8_0: return MD_TENSOR_TYPE_Q8_0;
    case MIX_Q4_K_M: return output || sensitive ? MD_TENSOR_TYPE_Q6_K : MD_TENSOR_TYPE_Q4_K;
    }
    return MD_TENSOR_TYPE_F16;
}

static size_t add_spec(tensor_spec *specs, size_t n, const char *name, md_tensor_type type, uint64_t n_in,
                       uint64_t n_out) {
    tensor_spec *t = &specs[n];
    snprintf(t->name, sizeof t->name, "%s", name);
    t->type = type;
    t->n_dims = n_out == 1 ? 1 : 2;
    t->ne[0] = n_in;
    t->ne[1] = n_out;
    uint64_t row = 0;
    md_tensor_row_bytes((uint32_t)type, n_in, &row);
    t->n_bytes = row * n_out;
    return n + 1;
}

static size_t build_specs(const shape *s, mix m, tensor_spec *specs) {
    const uint64_t hd = s->n_embd / s->n_head, n_kv = hd * s->n_head_kv;
    size_t n = 0;
    n = add_spec(specs, n, "token_embd.weight", matrix_type(m, s->tied, false), s->n_embd, s->n_vocab);
    if (s->tied) n = add_spec(specs, n, "rope_freqs.weight", MD_TENSOR_TYPE_F32, hd / 2, 1);
    for (uint32_t il = 0; il < s->n_layer; il++) {
        char name[64];
        const bool more = more_bits(il, s->n_layer);
#define ADD(suffix, type, n_in, n_out)                                  \
    snprintf(name, sizeof name, "blk.%u." suffix ".weight", il);        \
    n = add_spec(specs, n, name, type, n_in, n_out)
        ADD("attn_norm", MD_TENSOR_TYPE_F32, s->n_embd, 1);
        ADD("attn_q", matrix_type(m, false, false), s->n_embd, s->n_embd);
        ADD("attn_k", matrix_type(m, false, false), s->n_embd, n_kv);
        ADD("attn_v", matrix_type(m, false, more), s->n_embd, n_kv);
        ADD("attn_output", matrix_type(m, false, false), s->n_embd, s->n_embd);
        ADD("ffn_norm", MD_TENSOR_TYPE_F32, s->n_embd, 1);
        ADD("ffn_gate", matrix_type(m, false, false), s->n_embd, s->n_ff);
        ADD("ffn_up", matrix_type(m, false, false), s->n_embd, s->n_ff);
        ADD("ffn_down", matrix_type(m, false, more), s->n_ff, s->n_embd);
#undef ADD
    }
    n = add_spec(specs, n, "output_norm.weight", MD_TENSOR_TYPE_F32, s->n_embd, 1);
    if (!s->tied) n = add_spec(specs, n, "output.weight", matrix_type(m, true, false), s->n_embd, s->n_vocab);
    return n;
}

static void put_fp16_at(uint8_t *p, float v) {
    uint16_t h = md_f32_to_fp16(v);
    memcpy(p, &h, 2);
}

/* Fills n_bytes (a whole number of blocks of `type`) with random content. */
static void fill_random(md_tensor_type type, uint8_t *buf, size_t n_bytes) {
    if (type == MD_TENSOR_TYPE_F32) { /* norms, rope_freqs: all ones */
        const float one = 1.0f;
        for (size_t i = 0; i + 4 <= n_bytes; i += 4)
            memcpy(buf + i, &one, 4);
        return;
    }
    size_t i = 0;
    for (; i + 8 <= n_bytes; i += 8) {
        uint64_t r = rng_next();
        memcpy(buf + i, &r, 8);
    }
    for (; i < n_bytes; i++)
        buf[i] = (uint8_t)rng_next();
    const md_tensor_traits *t = md_tensor_traits_get((uint32_t)type);
    if (type == MD_TENSOR_TYPE_F16) { /* sign, exponent 8..12 of 15 (2^-7..2^-3), mantissa */
        for (size_t k = 0; k + 2 <= n_bytes; k += 2) {
            uint16_t h;
            memcpy(&h, buf + k, 2);
            h = (uint16_t)((h & 0x83FFu) | ((8u + (h >> 10 & 0x1Fu) % 5u) << 10));
            memcpy(buf + k, &h, 2);
        }
        return;
    }
    for (size_t b = 0; b + t->block_bytes <= n_bytes; b += t->block_bytes) {
        uint8_t *blk = buf + b;
        const float d = 1.0e-3f * (1.0f + (float)(blk[3] & 0xF) / 16.0f);
        switch (type) {
        case MD_TENSOR_TYPE_Q8_0: put_fp16_at(blk, d * 0.1f); break;
        case MD_TENSOR_TYPE_Q4_K:
            put_fp16_at(blk, d);
            put_fp16_at(blk + 2, d * 0.5f);
            break;
        case MD_TENSOR_TYPE_Q6_K: put_fp16_at(blk + 208, d * 0.05f); break;
        default: break;
        }
    }
}

static int usage(void) {
    fprintf(stderr, "usage: md_gen_bench_model --shape 1b|8b --type f16|q8_0|q4_k_m --out FILE [--seed N]\n");
    return 64;
}

int main(int argc, char **argv) {
    const char *shape_name = NULL, *type_name = NULL, *out = NULL;
    uint64_t seed = 20251208;
    for (int i = 1; i < argc; i++) {
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(argv[i], "--shape") == 0 && val) shape_name = argv[++i];
        else if (strcmp(argv[i], "--type") == 0 && val) type_name = argv[++i];
        else if (strcmp(argv[i], "--out") == 0 && val) out = argv[++i];
        else if (strcmp(argv[i], "--seed") == 0 && val) seed = strtoull(argv[++i], NULL, 10);
        else return usage();
    }
    if (!shape_name || !type_name || !out) return usage();
    const shape *s = NULL;
    for (size_t i = 0; i < sizeof k_shapes / sizeof k_shapes[0]; i++)
        if (strcmp(shape_name, k_shapes[i].name) == 0) s = &k_shapes[i];
    mix m;
    if (strcmp(type_name, "f16") == 0) m = MIX_F16;
    else if (strcmp(type_name, "q8_0") == 0) m = MIX_Q8_0;
    else if (strcmp(type_name, "q4_k_m") == 0) m = MIX_Q4_K_M;
    else return usage();
    if (!s) return usage();
    g_rng = seed ? seed : 1;

    tensor_spec *specs = calloc(16 + 9 * (size_t)s->n_layer, sizeof *specs);
    uint8_t *buf = malloc(CHUNK_BYTES);
    if (!specs || !buf) {
        fprintf(stderr, "md_gen_bench_model: out of memory\n");
        return 70;
    }
    const size_t n_tensors = build_specs(s, m, specs);
    uint64_t off = 0;
    for (size_t i = 0; i < n_tensors; i++) {
        specs[i].offset = off;
        off = (off + specs[i].n_bytes + GGUF_ALIGN - 1) / GGUF_ALIGN * GGUF_ALIGN;
    }

    FILE *f = fopen(out, "wb");
    if (!f) {
        fprintf(stderr, "md_gen_bench_model: cannot create %s: %s\n", out, strerror(errno));
        return 73;
    }
    const uint32_t hd = s->n_embd / s->n_head;
    bool ok = put(f, "GGUF", 4) && put_u32(f, 3) && put_u64(f, n_tensors) && put_u64(f, 12 + N_VOCAB_KV);
    ok = ok && kv_str(f, "general.architecture", "llama") && kv_str(f, "general.name", "medify-bench-random") &&
         kv_u32(f, "llama.context_length", 8192) && kv_u32(f, "llama.embedding_length", s->n_embd) &&
         kv_u32(f, "llama.block_count", s->n_layer) && kv_u32(f, "llama.feed_forward_length", s->n_ff) &&
         kv_u32(f, "llama.attention.head_count", s->n_head) &&
         kv_u32(f, "llama.attention.head_count_kv", s->n_head_kv) && kv_u32(f, "llama.rope.dimension_count", hd) &&
         kv_f32(f, "llama.rope.freq_base", s->rope_base) &&
         kv_f32(f, "llama.attention.layer_norm_rms_epsilon", 1e-5f) && kv_u32(f, "llama.vocab_size", s->n_vocab);
    ok = ok && write_vocab(f, s->n_vocab);
    for (size_t i = 0; ok && i < n_tensors; i++) {
        const tensor_spec *t = &specs[i];
        ok = put_str(f, t->name) && put_u32(f, t->n_dims) && put(f, t->ne, 8 * (size_t)t->n_dims) &&
             put_u32(f, (uint32_t)t->type) && put_u64(f, t->offset);
    }
    static const uint8_t k_zero[GGUF_ALIGN];
    long pos = ok ? ftell(f) : -1;
    ok = ok && pos >= 0 && put(f, k_zero, (GGUF_ALIGN - (uint64_t)pos % GGUF_ALIGN) % GGUF_ALIGN);
    uint64_t written = 0;
    for (size_t i = 0; ok && i < n_tensors; i++) {
        const tensor_spec *t = &specs[i];
        ok = put(f, k_zero, t->offset - written);
        const md_tensor_traits *tr = md_tensor_traits_get((uint32_t)t->type);
        const size_t chunk = CHUNK_BYTES / tr->block_bytes * tr->block_bytes;
        for (uint64_t done = 0; ok && done < t->n_bytes; done += chunk) {
            const size_t n = t->n_bytes - done < chunk ? (size_t)(t->n_bytes - done) : chunk;
            fill_random(t->type, buf, n);
            ok = put(f, buf, n);
        }
        written = t->offset + t->n_bytes;
    }
    if (fclose(f) != 0) ok = false;
    if (!ok) {
        fprintf(stderr, "md_gen_bench_model: writing %s failed: %s\n", out, strerror(errno));
        remove(out);
    } else {
        fprintf(stderr, "md_gen_bench_model: %s: %s %s, %zu tensors, %.2f GB of weights\n", out, s->name, type_name,
                n_tensors, (double)written / 1e9);
    }
    free(specs);
    free(buf);
    return ok ? 0 : 74;
}
