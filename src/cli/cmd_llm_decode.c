/* medify llm logits: run the Llama decoder over given token ids and print the logits
 * of every position.
 *
 *   medify llm logits --model M.gguf --tokens "1 2 3" [--kv f32|f16] [--reference] [--json]
 *
 * The tokens (decimal ids separated by spaces or commas) are decoded in one call from
 * position 0 of a fresh context just large enough for them. Row i is the prediction
 * after tokens[0..i]. Text output: one line per position, the logits separated by
 * spaces; --json: {"logits":[[...],...]}. Values are printed with 9 significant digits,
 * enough to read back the same float. --reference uses the f32 matmul path (weights
 * dequantised, activations never rounded) instead of ggml-style rounding. */
#ifndef MEDIFY_NO_ENGINE /* without the engine (MEDIFY_ENGINE=OFF) there is no decoder */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "medify/llama.h"

int llm_logits_main(int argc, char **argv);

/* Most tokens one invocation takes (the ids are given on the command line). */
#define LLM_LOGITS_MAX_TOKENS 8192u

static const char k_usage[] =
    "usage: medify llm logits --model M.gguf --tokens \"1 2 3\" [--kv f32|f16] [--reference] [--json]\n"
    "prints the logits after each prefix of the token ids (one row per position).\n";

typedef struct logits_opts {
    const char *model;
    const char *tokens;
    bool json, reference, kv_f16;
} logits_opts;

static int usage_error(const char *what, const char *arg) {
    if (arg)
        fprintf(stderr, "medify: %s '%s'\n%s", what, arg, k_usage);
    else
        fprintf(stderr, "medify: %s\n%s", what, k_usage);
    return md_status_exit_code(MD_ERR_INVALID_ARG);
}

/* Parses ids separated by spaces or commas into a new array (free with md_free). */
static md_status parse_tokens(const char *s, int32_t **out, size_t *n_out, md_error *err) {
    size_t cap = 16, n = 0;
    int32_t *ids = md_malloc(cap * sizeof *ids);
    if (!ids) return md_error_set(err, MD_ERR_NOMEM, "out of memory");
    const char *p = s;
    for (;;) {
        while (*p == ' ' || *p == ',' || *p == '\t' || *p == '\n')
            p++;
        if (!*p) break;
        char *end = NULL;
        errno = 0;
        long v = strtol(p, &end, 10);
        if (end == p || errno != 0 || v < 0 || v > INT32_MAX ||
            (*end && *end != ' ' && *end != ',' && *end != '\t' && *end != '\n')) {
            md_free(ids);
            return md_error_set(err, MD_ERR_INVALID_ARG, "--tokens: '%.20s' is not a token id", p);
        }
        if (n == LLM_LOGITS_MAX_TOKENS) {
            md_free(ids);
            return md_error_set(err, MD_ERR_TOO_LARGE, "--tokens: more than %u ids", LLM_LOGITS_MAX_TOKENS);
        }
        if (n == cap) {
            int32_t *grown = md_realloc(ids, 2 * cap * sizeof *ids);
            if (!grown) {
                md_free(ids);
                return md_error_set(err, MD_ERR_NOMEM, "out of memory");
            }
            ids = grown;
            cap *= 2;
        }
        ids[n++] = (int32_t)v;
        p = end;
    }
    if (n == 0) {
        md_free(ids);
        return md_error_set(err, MD_ERR_EMPTY, "--tokens: no token ids");
    }
    *out = ids;
    *n_out = n;
    return MD_OK;
}

static int parse(int argc, char **argv, logits_opts *o) {
    memset(o, 0, sizeof *o);
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--model") == 0 && val)
            o->model = argv[++i];
        else if (strcmp(a, "--tokens") == 0 && val)
            o->tokens = argv[++i];
        else if (strcmp(a, "--json") == 0)
            o->json = true;
        else if (strcmp(a, "--reference") == 0)
            o->reference = true;
        else if (strcmp(a, "--kv") == 0 && val && (strcmp(val, "f32") == 0 || strcmp(val, "f16") == 0)) {
            o->kv_f16 = strcmp(val, "f16") == 0;
            i++;
        } else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            printf("%s", k_usage);
            return -1;
        } else
            return usage_error("unknown or incomplete option", a);
    }
    if (!o->model) return usage_error("llm logits needs --model FILE", NULL);
    if (!o->tokens) return usage_error("llm logits needs --tokens IDS", NULL);
    return 0;
}

static md_status print_logits(const float *logits, size_t n_tokens, size_t n_vocab, bool json, md_error *err) {
    md_buf b;
    md_buf_init(&b);
    if (json) md_buf_append_str(&b, "{\"logits\":[");
    for (size_t t = 0; t < n_tokens; t++) {
        if (json) md_buf_append_str(&b, t ? ",[" : "[");
        for (size_t i = 0; i < n_vocab; i++)
            md_buf_appendf(&b, "%s%.9g", i ? (json ? "," : " ") : "", (double)logits[t * n_vocab + i]);
        md_buf_append_str(&b, json ? "]" : "\n");
    }
    if (json) md_buf_append_str(&b, "]}\n");
    md_status st = MD_OK;
    if (!md_buf_ok(&b))
        st = md_error_set(err, MD_ERR_NOMEM, "out of memory");
    else if (fwrite(b.data, 1, b.len, stdout) != b.len)
        st = md_error_set(err, MD_ERR_IO, "writing the logits failed");
    md_buf_free(&b);
    return st;
}

int llm_logits_main(int argc, char **argv) {
    logits_opts o;
    int rc = parse(argc, argv, &o);
    if (rc) return rc < 0 ? 0 : rc;
    md_error err = {0};
    int32_t *ids = NULL;
    size_t n_ids = 0;
    md_llama_model *model = NULL;
    md_llama_ctx *ctx = NULL;
    float *logits = NULL;
    md_status st = parse_tokens(o.tokens, &ids, &n_ids, &err);
    if (st == MD_OK) st = md_llama_load(o.model, md_llama_model_default_params(), &model, &err);
    if (st == MD_OK) {
        md_llama_ctx_params p = md_llama_ctx_default_params();
        p.n_ctx = (uint32_t)n_ids; /* n_ids <= LLM_LOGITS_MAX_TOKENS */
        p.logits_all = true;
        p.kv_type = o.kv_f16 ? MD_LLAMA_KV_TYPE_F16 : MD_LLAMA_KV_TYPE_F32;
        p.matmul = o.reference ? MD_LLAMA_MATMUL_F32 : MD_LLAMA_MATMUL_GGML;
        st = md_llama_ctx_new(model, p, &ctx, &err);
    }
    if (st == MD_OK) {
        size_t n_vocab = md_llama_model_hparams(model)->n_vocab;
        logits = md_calloc(n_ids * n_vocab, sizeof *logits);
        st = logits ? md_llama_decode(ctx, ids, n_ids, 0, logits, &err)
                    : md_error_set(&err, MD_ERR_NOMEM, "out of memory for %zu x %zu logits", n_ids, n_vocab);
        if (st == MD_OK) st = print_logits(logits, n_ids, n_vocab, o.json, &err);
    }
    md_free(logits);
    md_llama_ctx_free(ctx);
    md_llama_free(model);
    md_free(ids);
    return st == MD_OK ? 0 : cli_fail(&err, o.json);
}

#else
typedef int md_cli_llm_decode_unavailable; /* ISO C forbids an empty translation unit */
#endif
