/* medify llm info|tokenize: inspect a GGUF model file and run its tokenizer.
 *
 *   medify llm info --model M.gguf [--json]
 *   medify llm tokenize --model M.gguf --text T [--add-special] [--parse-special] [--json]
 *
 * M may be a vocab-only GGUF (llama.cpp's ggml-vocab-*.gguf). Text comes from --text or,
 * when absent, stdin. `llm logits` lives in cmd_llm_decode.c; generate, embed and bench
 * come with the sampler, the encoder and the fast kernels. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "medify/gguf.h"
#include "medify/tokenizer.h"

int llm_logits_main(int argc, char **argv); /* cmd_llm_decode.c */
int llm_generate_main(int argc, char **argv); /* cmd_llm_generate.c */
int llm_embed_main(int argc, char **argv);  /* cmd_llm_embed.c */
int llm_bench_main(int argc, char **argv);  /* cmd_llm_bench.c */

static const char k_usage[] =
    "usage: medify llm info --model M.gguf [--json]\n"
    "       medify llm tokenize --model M.gguf [--text T] [--add-special] [--parse-special] [--json]\n"
    "       medify llm logits --model M.gguf --tokens \"1 2 3\" [--kv f16] [--reference] [--json]\n"
    "       medify llm generate --model M.gguf (--prompt T | --chat T) [--max-tokens N] [--url URL] [--stream] [--json]\n"
    "       medify llm embed --model E.gguf [--text T] [--pooling mean|cls|last] [--json]\n"
    "       medify llm bench --model M.gguf [-p 512] [-n 128] [-t THREADS] [--json]\n"
    "info prints the file's version, metadata keys and tensors; tokenize prints the token\n"
    "ids of T (or of stdin) with the model's own tokenizer; logits runs the decoder over the\n"
    "tokens and prints the logits of every position.\n";

typedef struct llm_opts {
    const char *model;
    const char *text;
    bool json, add_special, parse_special;
} llm_opts;

static int parse(int argc, char **argv, llm_opts *o) {
    memset(o, 0, sizeof *o);
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--model") == 0 && val) o->model = argv[++i];
        else if (strcmp(a, "--text") == 0 && val) o->text = argv[++i];
        else if (strcmp(a, "--json") == 0) o->json = true;
        else if (strcmp(a, "--add-special") == 0) o->add_special = true;
        else if (strcmp(a, "--parse-special") == 0) o->parse_special = true;
        else {
            fprintf(stderr, "medify: unknown or incomplete option '%s'\n%s", a, k_usage);
            return md_status_exit_code(MD_ERR_INVALID_ARG);
        }
    }
    if (!o->model) {
        fprintf(stderr, "medify: llm needs --model FILE\n%s", k_usage);
        return md_status_exit_code(MD_ERR_INVALID_ARG);
    }
    return 0;
}

static int llm_info(const llm_opts *o, const md_gguf *g) {
    md_buf b;
    md_buf_init(&b);
    const char *arch = NULL;
    size_t n_arch = 0;
    md_gguf_get_str(g, "general.architecture", &arch, &n_arch);
    if (o->json) {
        md_buf_appendf(&b, "{\"version\":%u,\"architecture\":", md_gguf_version(g));
        if (arch) md_buf_append_json_str(&b, arch, n_arch);
        else md_buf_append_str(&b, "null");
        md_buf_appendf(&b, ",\"n_kv\":%zu,\"tensors\":[", md_gguf_n_kv(g));
        for (size_t i = 0; i < md_gguf_n_tensors(g); i++) {
            const md_gguf_tensor *t = md_gguf_tensor_at(g, i);
            md_buf_append_str(&b, i ? ",{\"name\":" : "{\"name\":");
            md_buf_append_json_str(&b, t->name, strlen(t->name));
            md_buf_appendf(&b, ",\"type\":%u,\"shape\":[", t->type);
            for (uint32_t d = 0; d < t->n_dims; d++) md_buf_appendf(&b, "%s%llu", d ? "," : "", (unsigned long long)t->ne[d]);
            md_buf_appendf(&b, "],\"bytes\":%llu}", (unsigned long long)t->n_bytes);
        }
        md_buf_append_str(&b, "]}\n");
    } else {
        md_buf_appendf(&b, "GGUF v%u, architecture %.*s, %zu metadata keys, %zu tensors\n", md_gguf_version(g),
                       (int)n_arch, arch ? arch : "?", md_gguf_n_kv(g), md_gguf_n_tensors(g));
        for (size_t i = 0; i < md_gguf_n_kv(g); i++) md_buf_appendf(&b, "  %s\n", md_gguf_key_at(g, i));
        for (size_t i = 0; i < md_gguf_n_tensors(g); i++) {
            const md_gguf_tensor *t = md_gguf_tensor_at(g, i);
            md_buf_appendf(&b, "  tensor %-32s type %2u [", t->name, t->type);
            for (uint32_t d = 0; d < t->n_dims; d++) md_buf_appendf(&b, "%s%llu", d ? " x " : "", (unsigned long long)t->ne[d]);
            md_buf_append_str(&b, "]\n");
        }
    }
    int rc = 0;
    if (md_buf_ok(&b)) fputs(b.data, stdout);
    else rc = md_status_exit_code(MD_ERR_NOMEM);
    md_buf_free(&b);
    return rc;
}

static int llm_tokenize(const llm_opts *o, const md_gguf *g) {
    md_error err = {0};
    char *stdin_text = NULL;
    size_t n_text = 0;
    const char *text = o->text;
    if (text) {
        n_text = strlen(text);
    } else {
        if (md_read_stream(stdin, 16u << 20, &stdin_text, &n_text, &err) != MD_OK) return cli_fail(&err, o->json);
        text = stdin_text;
    }
    md_tokenizer *tok = NULL;
    int32_t *ids = NULL;
    size_t n_ids = 0;
    md_status st = md_tokenizer_load(g, &tok, &err);
    if (st == MD_OK) {
        st = md_tokenize(tok, text, n_text, o->add_special, o->parse_special, NULL, 0, &n_ids);
        if (st == MD_ERR_LIMIT || st == MD_OK) {
            ids = md_calloc(n_ids + 1, sizeof *ids);
            st = ids ? md_tokenize(tok, text, n_text, o->add_special, o->parse_special, ids, n_ids + 1, &n_ids)
                     : MD_ERR_NOMEM;
        }
        if (st != MD_OK && !err.message[0]) md_error_set(&err, st, "tokenizing failed");
    }
    if (st == MD_OK) {
        md_buf b;
        md_buf_init(&b);
        md_buf_append_str(&b, o->json ? "{\"tokens\":[" : "");
        for (size_t i = 0; i < n_ids; i++) md_buf_appendf(&b, o->json ? "%s%d" : "%s%d", i ? (o->json ? "," : " ") : "", ids[i]);
        md_buf_append_str(&b, o->json ? "]}\n" : "\n");
        if (md_buf_ok(&b)) fputs(b.data, stdout);
        else st = md_error_set(&err, MD_ERR_NOMEM, "out of memory");
        md_buf_free(&b);
    }
    md_free(ids);
    md_tokenizer_free(tok);
    md_free(stdin_text);
    return st == MD_OK ? 0 : cli_fail(&err, o->json);
}

int cmd_llm(int argc, char **argv) {
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        printf("%s", k_usage);
        return argc < 2 ? md_status_exit_code(MD_ERR_INVALID_ARG) : 0;
    }
    if (strcmp(argv[1], "logits") == 0) return llm_logits_main(argc, argv);
    if (strcmp(argv[1], "generate") == 0) return llm_generate_main(argc, argv);
    if (strcmp(argv[1], "embed") == 0) return llm_embed_main(argc, argv);
    if (strcmp(argv[1], "bench") == 0) return llm_bench_main(argc, argv);
    bool info = strcmp(argv[1], "info") == 0, tokenize = strcmp(argv[1], "tokenize") == 0;
    if (!info && !tokenize) {
        fprintf(stderr, "medify: unknown llm command '%s'\n%s", argv[1], k_usage);
        return md_status_exit_code(MD_ERR_INVALID_ARG);
    }
    llm_opts o;
    int rc = parse(argc, argv, &o);
    if (rc) return rc;
    md_gguf *g = NULL;
    md_error err = {0};
    if (md_gguf_open(o.model, &g, &err) != MD_OK) return cli_fail(&err, o.json);
    rc = info ? llm_info(&o, g) : llm_tokenize(&o, g);
    md_gguf_close(g);
    return rc;
}
