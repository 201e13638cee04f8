/* medify llm embed: the sentence embedding of a text with a BERT-family encoder.
 *
 *   medify llm embed --model E.gguf [--text T] [--pooling mean|cls|last] [--no-normalize]
 *                    [--reference] [--json]
 *
 * The text (from --text, else stdin) is tokenized with [CLS] ... [SEP], cut to the
 * model's context (512 tokens at most) and encoded; the pooled vector (the model's
 * pooling unless --pooling is given) is L2-normalised unless --no-normalize. Text
 * output: the values on one line separated by spaces; --json: {"embedding":[...]}.
 * Values are printed with 9 significant digits, enough to read back the same float.
 * --reference uses the f32 matmul path (weights dequantised, activations never
 * rounded). */
#ifndef MEDIFY_NO_ENGINE /* without the engine (MEDIFY_ENGINE=OFF) there is no encoder */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "medify/bert.h"

int llm_embed_main(int argc, char **argv);

#define LLM_EMBED_MAX_TEXT_BYTES (16u << 20)

static const char k_usage[] =
    "usage: medify llm embed --model E.gguf [--text T] [--pooling mean|cls|last] [--no-normalize]\n"
    "                        [--reference] [--json]\n"
    "prints the sentence embedding of T (or of stdin) computed by a BERT-family encoder.\n";

typedef struct embed_opts {
    const char *model;
    const char *text;
    md_bert_pooling pooling;
    bool json, reference, no_normalize;
} embed_opts;

static int usage_error(const char *what, const char *arg) {
    if (arg)
        fprintf(stderr, "medify: %s '%s'\n%s", what, arg, k_usage);
    else
        fprintf(stderr, "medify: %s\n%s", what, k_usage);
    return md_status_exit_code(MD_ERR_INVALID_ARG);
}

static int parse(int argc, char **argv, embed_opts *o) {
    memset(o, 0, sizeof *o);
    o->pooling = MD_BERT_POOLING_MODEL;
    static const struct {
        const char *name;
        md_bert_pooling pooling;
    } k_poolings[] = {{"mean", MD_BERT_POOLING_MEAN}, {"cls", MD_BERT_POOLING_CLS}, {"last", MD_BERT_POOLING_LAST}};
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--model") == 0 && val) {
            o->model = argv[++i];
        } else if (strcmp(a, "--text") == 0 && val) {
            o->text = argv[++i];
        } else if (strcmp(a, "--json") == 0) {
            o->json = true;
        } else if (strcmp(a, "--reference") == 0) {
            o->reference = true;
        } else if (strcmp(a, "--no-normalize") == 0) {
            o->no_normalize = true;
        } else if (strcmp(a, "--pooling") == 0 && val) {
            size_t k = 0;
            while (k < MD_ARRAY_LEN(k_poolings) && strcmp(val, k_poolings[k].name) != 0)
                k++;
            if (k == MD_ARRAY_LEN(k_poolings)) return usage_error("--pooling must be mean, cls or last, not", val);
            o->pooling = k_poolings[k].pooling;
            i++;
        } else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            printf("%s", k_usage);
            return -1;
        } else {
            return usage_error("unknown or incomplete option", a);
        }
    }
    if (!o->model) return usage_error("llm embed needs --model FILE", NULL);
    return 0;
}

int llm_embed_main(int argc, char **argv) {
    embed_opts o;
    int rc = parse(argc, argv, &o);
    if (rc) return rc < 0 ? 0 : rc;
    md_error err = {0};
    char *stdin_text = NULL;
    size_t n_text = 0;
    md_bert_model *model = NULL;
    md_bert_ctx *ctx = NULL;
    float *vec = NULL;
    md_buf b;
    md_buf_init(&b);
    md_status st = MD_OK;
    const char *text = o.text;
    if (!text) {
        st = md_read_stream(stdin, LLM_EMBED_MAX_TEXT_BYTES, &stdin_text, &n_text, &err);
        text = stdin_text;
    }
    if (st == MD_OK && text && strlen(text) != (o.text ? strlen(o.text) : n_text))
        st = md_error_set(&err, MD_ERR_INVALID_ARG, "the text contains a NUL byte");
    if (st == MD_OK && !md_utf8_valid(text, strlen(text), NULL))
        st = md_error_set(&err, MD_ERR_UTF8, "the text is not valid UTF-8");
    if (st == MD_OK && strspn(text, " \t\r\n") == strlen(text))
        st = md_error_set(&err, MD_ERR_EMPTY, "the text is empty");
    if (st == MD_OK) st = md_bert_load(o.model, md_bert_model_default_params(), &model, &err);
    if (st == MD_OK) {
        md_bert_ctx_params p = md_bert_ctx_default_params();
        p.pooling = o.pooling;
        p.normalize = !o.no_normalize;
        p.matmul = o.reference ? MD_BERT_MATMUL_F32 : MD_BERT_MATMUL_GGML;
        st = md_bert_ctx_new(model, p, &ctx, &err);
    }
    if (st == MD_OK && md_bert_ctx_pooling(ctx) == MD_BERT_POOLING_NONE)
        st = md_error_set(&err, MD_ERR_INVALID_ARG, "the model has no pooling (pooling_type NONE): pass --pooling");
    size_t dim = 0;
    if (st == MD_OK) {
        dim = md_bert_ctx_n_embd(ctx);
        vec = md_calloc(dim, sizeof *vec);
        st = vec ? md_bert_embed_texts(ctx, &text, 1, vec, &err) : md_error_set(&err, MD_ERR_NOMEM, "out of memory");
    }
    if (st == MD_OK) {
        md_buf_append_str(&b, o.json ? "{\"embedding\":[" : "");
        for (size_t i = 0; i < dim; i++)
            md_buf_appendf(&b, "%s%.9g", i ? (o.json ? "," : " ") : "", (double)vec[i]);
        md_buf_append_str(&b, o.json ? "]}\n" : "\n");
        if (!md_buf_ok(&b))
            st = md_error_set(&err, MD_ERR_NOMEM, "out of memory");
        else if (fwrite(b.data, 1, b.len, stdout) != b.len)
            st = md_error_set(&err, MD_ERR_IO, "writing the embedding failed");
    }
    md_buf_free(&b);
    md_free(vec);
    md_bert_ctx_free(ctx);
    md_bert_free(model);
    md_free(stdin_text);
    return st == MD_OK ? 0 : cli_fail(&err, o.json);
}

#else
typedef int md_cli_llm_embed_unavailable; /* ISO C forbids an empty translation unit */
#endif
