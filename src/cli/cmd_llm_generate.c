/* medify llm generate: text generation through the llm module, local or remote.
 *
 *   medify llm generate --model M.gguf (--prompt T | --chat T [--system S])
 *       [--max-tokens N] [--temperature F] [--top-k K] [--top-p P] [--min-p P]
 *       [--repeat-penalty F] [--seed S] [--stop STR ...] [--n-ctx N] [--threads N]
 *       [--url URL] [--stream] [--json]
 *
 * Without --url the model file is run in-process; with --url the request goes to an
 * OpenAI-compatible server and --model (optional) names the model there. With neither,
 * MEDIFY_LLM_MODEL / MEDIFY_LLM_URL decide (md_llm_open_from_env). --stream prints
 * the text as it is generated; --json prints {"text", "finish_reason", "usage"} at the
 * end (with --stream, first one {"piece": ...} line per piece). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "medify/llm.h"

int llm_generate_main(int argc, char **argv);

static const char k_usage[] =
    "usage: medify llm generate --model M.gguf (--prompt T | --chat T [--system S]) [--max-tokens N]\n"
    "         [--temperature F] [--top-k K] [--top-p P] [--min-p P] [--repeat-penalty F] [--seed S]\n"
    "         [--stop STR ...] [--n-ctx N] [--threads N] [--url URL] [--stream] [--json]\n"
    "generates text with a local GGUF model, or with the OpenAI-compatible server at URL (then\n"
    "--model names the server's model). --prompt is completed as is; --chat is a user message\n"
    "rendered with the model's chat template. --temperature 0 is greedy decoding.\n";

typedef struct gen_opts {
    const char *model, *url, *prompt, *chat, *system;
    md_llm_sampling sampling;
    uint32_t n_ctx;
    int n_threads;
    size_t n_stop;
    bool stream, json;
} gen_opts;

static int usage_error(const char *what, const char *arg) {
    fprintf(stderr, "medify: %s%s%s%s\n%s", what, arg ? " '" : "", arg ? arg : "", arg ? "'" : "", k_usage);
    return md_status_exit_code(MD_ERR_INVALID_ARG);
}

static bool parse_float(const char *s, float lo, float hi, float *out) {
    char *end = NULL;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end || errno || !isfinite(v) || v < lo || v > hi) return false;
    *out = (float)v;
    return true;
}

static bool parse_u64(const char *s, uint64_t max, uint64_t *out) {
    char *end = NULL;
    errno = 0;
    if (*s == '-') return false;
    unsigned long long v = strtoull(s, &end, 10);
    if (end == s || *end || errno || v > max) return false;
    *out = v;
    return true;
}

static int parse(int argc, char **argv, gen_opts *o) {
    memset(o, 0, sizeof *o);
    o->sampling = md_llm_sampling_default();
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        uint64_t u = 0;
        bool flag = strcmp(a, "--stream") == 0 || strcmp(a, "--json") == 0;
        if (!flag && !val) return usage_error("missing value after", a);
        if (strcmp(a, "--stream") == 0)
            o->stream = true;
        else if (strcmp(a, "--json") == 0)
            o->json = true;
        else if (strcmp(a, "--model") == 0)
            o->model = argv[++i];
        else if (strcmp(a, "--url") == 0)
            o->url = argv[++i];
        else if (strcmp(a, "--prompt") == 0)
            o->prompt = argv[++i];
        else if (strcmp(a, "--chat") == 0)
            o->chat = argv[++i];
        else if (strcmp(a, "--system") == 0)
            o->system = argv[++i];
        else if (strcmp(a, "--temperature") == 0) {
            if (!parse_float(argv[++i], 0.0f, 100.0f, &o->sampling.temperature))
                return usage_error("bad --temperature", val);
        } else if (strcmp(a, "--top-p") == 0) {
            if (!parse_float(argv[++i], 0.0f, 1.0f, &o->sampling.top_p)) return usage_error("bad --top-p", val);
        } else if (strcmp(a, "--min-p") == 0) {
            if (!parse_float(argv[++i], 0.0f, 1.0f, &o->sampling.min_p)) return usage_error("bad --min-p", val);
        } else if (strcmp(a, "--repeat-penalty") == 0) {
            if (!parse_float(argv[++i], 0.01f, 100.0f, &o->sampling.repeat_penalty))
                return usage_error("bad --repeat-penalty", val);
        } else if (strcmp(a, "--top-k") == 0) {
            if (!parse_u64(argv[++i], INT32_MAX, &u)) return usage_error("bad --top-k", val);
            o->sampling.top_k = (int32_t)u;
        } else if (strcmp(a, "--max-tokens") == 0) {
            if (!parse_u64(argv[++i], UINT32_MAX, &u)) return usage_error("bad --max-tokens", val);
            o->sampling.max_tokens = (uint32_t)u;
        } else if (strcmp(a, "--n-ctx") == 0) {
            if (!parse_u64(argv[++i], UINT32_MAX, &u)) return usage_error("bad --n-ctx", val);
            o->n_ctx = (uint32_t)u;
        } else if (strcmp(a, "--threads") == 0) {
            if (!parse_u64(argv[++i], 4096, &u)) return usage_error("bad --threads", val);
            o->n_threads = (int)u;
        } else if (strcmp(a, "--seed") == 0) {
            if (!parse_u64(argv[++i], UINT64_MAX, &u)) return usage_error("bad --seed", val);
            o->sampling.seed = u;
        } else if (strcmp(a, "--stop") == 0) {
            if (o->n_stop == MD_LLM_MAX_STOP) return usage_error("too many --stop strings (at most 8)", NULL);
            if (!val[0]) return usage_error("--stop needs a non-empty string", NULL);
            o->sampling.stop[o->n_stop++] = argv[++i];
        } else {
            return usage_error("unknown option", a);
        }
    }
    if (!o->prompt == !o->chat) return usage_error("give exactly one of --prompt and --chat", NULL);
    if (o->system && !o->chat) return usage_error("--system goes with --chat", NULL);
    return 0;
}

typedef struct gen_out {
    bool stream, json;
} gen_out;

static bool on_piece(const char *piece, size_t len, void *ctx) {
    const gen_out *g = ctx;
    if (g->json) {
        md_buf b;
        md_buf_init(&b);
        md_buf_append_str(&b, "{\"piece\":");
        md_buf_append_json_str(&b, piece, len);
        md_buf_append_str(&b, "}\n");
        if (md_buf_ok(&b)) fwrite(b.data, 1, b.len, stdout);
        md_buf_free(&b);
    } else {
        fwrite(piece, 1, len, stdout);
    }
    fflush(stdout);
    return !ferror(stdout);
}

int llm_generate_main(int argc, char **argv) {
    if (argc >= 3 && (strcmp(argv[2], "--help") == 0 || strcmp(argv[2], "-h") == 0)) {
        printf("%s", k_usage);
        return 0;
    }
    gen_opts o;
    int rc = parse(argc, argv, &o);
    if (rc) return rc;
    md_error err = {0};
    md_llm *llm = NULL;
    md_status st;
    if (o.url) {
        md_llm_remote_params rp = md_llm_remote_default_params();
        rp.model = o.model;
        rp.api_key = getenv("MEDIFY_LLM_API_KEY");
        st = md_llm_open_remote(o.url, &rp, &llm, &err);
    } else if (o.model) {
        md_llm_local_params lp = md_llm_local_default_params();
        lp.n_ctx = o.n_ctx;
        lp.n_threads = o.n_threads;
        st = md_llm_open_local(o.model, &lp, &llm, &err);
    } else {
        st = md_llm_open_from_env(&llm, &err);
        if (st == MD_OK && !llm) return usage_error("give --model FILE or --url URL (or set MEDIFY_LLM_MODEL)", NULL);
    }
    if (st != MD_OK) return cli_fail(&err, o.json);

    gen_out g = {o.stream, o.json};
    md_buf text;
    md_buf_init(&text);
    md_llm_usage usage;
    if (o.chat) {
        md_llm_message msgs[2];
        size_t n = 0;
        if (o.system) msgs[n++] = (md_llm_message){"system", o.system};
        msgs[n++] = (md_llm_message){"user", o.chat};
        st = md_llm_chat(llm, msgs, n, &o.sampling, o.stream ? on_piece : NULL, &g, &text, &usage, &err);
    } else {
        st = md_llm_complete(llm, o.prompt, &o.sampling, o.stream ? on_piece : NULL, &g, &text, &usage, &err);
    }
    if (st == MD_OK) {
        md_buf b;
        md_buf_init(&b);
        if (o.json) {
            md_buf_append_str(&b, "{\"text\":");
            md_buf_append_json_str(&b, text.data ? text.data : "", text.len);
            md_buf_append_str(&b, ",\"finish_reason\":");
            md_buf_append_json_str(&b, usage.finish_reason, strlen(usage.finish_reason));
            md_buf_appendf(&b,
                           ",\"usage\":{\"prompt_tokens\":%u,\"completion_tokens\":%u,\"total_tokens\":%u,"
                           "\"prompt_ms\":%.3f,\"generation_ms\":%.3f},\"model\":",
                           usage.prompt_tokens, usage.completion_tokens, usage.prompt_tokens + usage.completion_tokens,
                           usage.prompt_ms, usage.generation_ms);
            md_buf_append_json_str(&b, md_llm_name(llm), strlen(md_llm_name(llm)));
            md_buf_append_str(&b, "}\n");
        } else if (!o.stream) {
            md_buf_append(&b, text.data ? text.data : "", text.len);
            md_buf_append_char(&b, '\n');
        } else {
            md_buf_append_char(&b, '\n');
        }
        if (md_buf_ok(&b))
            fwrite(b.data, 1, b.len, stdout);
        else
            st = md_error_set(&err, MD_ERR_NOMEM, "out of memory");
        md_buf_free(&b);
    }
    md_buf_free(&text);
    md_llm_free(llm);
    return st == MD_OK ? 0 : cli_fail(&err, o.json);
}
