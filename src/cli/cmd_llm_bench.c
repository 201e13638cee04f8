/* medify llm bench: speed of the Llama decoder on one model file.
 *
 *   medify llm bench --model M.gguf [-p 512] [-n 128] [-t THREADS] [--json]
 *
 * Measures, as llama.cpp's llama-bench does for pp/tg:
 *   load        md_llama_load (header, hyperparameters, mapping; weights are paged in
 *               by a one-token warm-up decode that is not timed)
 *   prompt      one md_llama_decode of p tokens at position 0 (one batch, n_batch = p)
 *   generation  n single-token decodes from an empty cache, each next token the argmax
 *               of the previous logits (greedy, no sampler)
 * and prints tokens/s for both, the peak resident set size, the model bytes one
 * generated token reads (every weight matrix once; of token_embd only one row unless it
 * doubles as the output matrix) and the bandwidth that implies (bytes × tokens/s).
 * Each phase also reports the process CPU time it used (all threads): on a shared
 * machine, wall-clock rates fall with the CPU share the process gets, and
 * tokens per CPU-second (× threads) shows what the code does with the CPU it got.
 * Token ids are a fixed pattern over the vocabulary, so the file needs no tokenizer.
 * --json prints one JSON object on one line. */
#ifndef MEDIFY_NO_ENGINE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "cli/cli.h"
#include "engine/kernels.h"
#include "medify/gguf.h"
#include "medify/llama.h"
#include "medify/threadpool.h"

int llm_bench_main(int argc, char **argv);

#define BENCH_DEFAULT_PROMPT 512
#define BENCH_DEFAULT_GEN    128
#define BENCH_MAX_TOKENS     65536 /* p + n: a context this large is allocated */

static const char k_usage[] =
    "usage: medify llm bench --model M.gguf [-p N_PROMPT] [-n N_GEN] [-t THREADS] [--json]\n"
    "times one batched decode of N_PROMPT tokens (default 512) and N_GEN single-token\n"
    "decodes (default 128, greedy) on THREADS threads (default: all CPUs); prints tokens/s,\n"
    "load time, peak RSS and the model bytes read per generated token. MEDIFY_CPU=scalar|\n"
    "avx2|avx512 caps the kernels.\n";

typedef struct bench_opts {
    const char *model;
    long n_prompt, n_gen, n_threads;
    bool json;
} bench_opts;

static int usage_error(const char *what, const char *arg) {
    fprintf(stderr, "medify: %s '%s'\n%s", what, arg, k_usage);
    return md_status_exit_code(MD_ERR_INVALID_ARG);
}

static bool parse_long(const char *s, long lo, long hi, long *out) {
    char *end = NULL;
    long v = strtol(s, &end, 10);
    if (!s[0] || *end || v < lo || v > hi) return false;
    *out = v;
    return true;
}

static int parse(int argc, char **argv, bench_opts *o) {
    *o = (bench_opts){.n_prompt = BENCH_DEFAULT_PROMPT, .n_gen = BENCH_DEFAULT_GEN, .n_threads = 0};
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            printf("%s", k_usage);
            return -1;
        } else if (strcmp(a, "--model") == 0 && val) {
            o->model = argv[++i];
        } else if ((strcmp(a, "-p") == 0 || strcmp(a, "--n-prompt") == 0) && val) {
            if (!parse_long(argv[++i], 0, BENCH_MAX_TOKENS, &o->n_prompt)) return usage_error("bad -p", val);
        } else if ((strcmp(a, "-n") == 0 || strcmp(a, "--n-gen") == 0) && val) {
            if (!parse_long(argv[++i], 0, BENCH_MAX_TOKENS, &o->n_gen)) return usage_error("bad -n", val);
        } else if ((strcmp(a, "-t") == 0 || strcmp(a, "--threads") == 0) && val) {
            if (!parse_long(argv[++i], 0, MD_POOL_MAX_THREADS, &o->n_threads)) return usage_error("bad -t", val);
        } else if (strcmp(a, "--json") == 0) {
            o->json = true;
        } else {
            return usage_error("unknown or incomplete option", a);
        }
    }
    if (!o->model) {
        fprintf(stderr, "medify: llm bench needs --model FILE\n%s", k_usage);
        return md_status_exit_code(MD_ERR_INVALID_ARG);
    }
    if (o->n_prompt + o->n_gen > BENCH_MAX_TOKENS || o->n_prompt + o->n_gen == 0) {
        fprintf(stderr, "medify: llm bench needs 1..%d tokens in total (-p + -n)\n", BENCH_MAX_TOKENS);
        return md_status_exit_code(MD_ERR_INVALID_ARG);
    }
    return 0;
}

/* Bytes of weights one generated token reads: every tensor except the embedding table,
 * of which one row is read, unless the output matrix is the embedding table (tied). */
static uint64_t bytes_per_token(const md_gguf *g, const md_llama_hparams *hp) {
    uint64_t total = 0;
    for (size_t i = 0; i < md_gguf_n_tensors(g); i++) {
        const md_gguf_tensor *t = md_gguf_tensor_at(g, i);
        if (strcmp(t->name, "token_embd.weight") == 0) {
            total += hp->tied_output ? t->n_bytes : (hp->n_vocab ? t->n_bytes / hp->n_vocab : 0);
        } else {
            total += t->n_bytes;
        }
    }
    return total;
}

static size_t argmax(const float *v, size_t n) {
    size_t best = 0;
    for (size_t i = 1; i < n; i++)
        if (v[i] > v[best]) best = i;
    return best;
}

static double seconds_since(uint64_t t0) { return (double)(md_clock_monotonic_ns() - t0) / 1e9; }

/* CPU time of the whole process (every thread), in seconds. */
static double cpu_seconds(void) {
    struct timespec ts;
    if (clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts) != 0) return 0.0;
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int llm_bench_main(int argc, char **argv) {
    bench_opts o;
    int rc = parse(argc, argv, &o);
    if (rc) return rc < 0 ? 0 : rc;
    md_error err = {0};
    md_llama_model *model = NULL;
    md_llama_ctx *ctx = NULL;
    float *logits = NULL;
    int32_t *tokens = NULL;
    double load_s = 0, prompt_s = 0, gen_s = 0, prompt_cpu = 0, gen_cpu = 0;

    uint64_t t0 = md_clock_monotonic_ns();
    md_status st = md_llama_load(o.model, md_llama_model_default_params(), &model, &err);
    load_s = seconds_since(t0);
    const md_llama_hparams *hp = model ? md_llama_model_hparams(model) : NULL;
    const size_t n_tok = (size_t)(o.n_prompt > o.n_gen ? o.n_prompt : o.n_gen);
    if (st == MD_OK) {
        md_llama_ctx_params p = md_llama_ctx_default_params();
        p.n_ctx = (uint32_t)(o.n_prompt + o.n_gen + 1);
        p.n_batch = (uint32_t)(o.n_prompt > 0 ? o.n_prompt : 1);
        p.n_threads = (int)o.n_threads;
        st = md_llama_ctx_new(model, p, &ctx, &err);
    }
    if (st == MD_OK) {
        logits = md_calloc(hp->n_vocab, sizeof *logits);
        tokens = md_calloc(n_tok, sizeof *tokens);
        if (!logits || !tokens) st = md_error_set(&err, MD_ERR_NOMEM, "out of memory");
    }
    if (st == MD_OK) {
        for (size_t i = 0; i < n_tok; i++)
            tokens[i] = (int32_t)((i * 7919u + 13u) % hp->n_vocab);
        st = md_llama_decode(ctx, tokens, 1, 0, logits, &err); /* warm-up: pages the weights in */
    }
    if (st == MD_OK && o.n_prompt > 0) {
        const double c0 = cpu_seconds();
        t0 = md_clock_monotonic_ns();
        st = md_llama_decode(ctx, tokens, (size_t)o.n_prompt, 0, logits, &err);
        prompt_s = seconds_since(t0);
        prompt_cpu = cpu_seconds() - c0;
    }
    if (st == MD_OK && o.n_gen > 0) {
        md_llama_ctx_truncate(ctx, 0);
        int32_t next = tokens[0];
        const double c0 = cpu_seconds();
        t0 = md_clock_monotonic_ns();
        for (long i = 0; st == MD_OK && i < o.n_gen; i++) {
            st = md_llama_decode(ctx, &next, 1, (uint32_t)i, logits, &err);
            next = (int32_t)argmax(logits, hp->n_vocab);
        }
        gen_s = seconds_since(t0);
        gen_cpu = cpu_seconds() - c0;
    }
    if (st == MD_OK) {
        struct rusage ru;
        memset(&ru, 0, sizeof ru);
        getrusage(RUSAGE_SELF, &ru);
        const double rss_mb = (double)ru.ru_maxrss / 1024.0; /* ru_maxrss is in KiB on Linux */
        const double pp = prompt_s > 0 ? (double)o.n_prompt / prompt_s : 0.0;
        const double tg = gen_s > 0 ? (double)o.n_gen / gen_s : 0.0;
        const uint64_t bpt = bytes_per_token(md_llama_model_gguf(model), hp);
        const double gbs = (double)bpt * tg / 1e9;
        const int n_threads = o.n_threads ? (int)o.n_threads : md_pool_n_cpus();
        const char *kern = md_kernels_get()->name;
        if (o.json) {
            md_buf b;
            md_buf_init(&b);
            md_buf_append_str(&b, "{\"bench\":\"llm\",\"model\":");
            md_buf_append_json_str(&b, o.model, strlen(o.model));
            md_buf_appendf(&b,
                           ",\"kernels\":\"%s\",\"n_threads\":%d,\"n_prompt\":%ld,\"n_gen\":%ld,\"load_ms\":%.1f,"
                           "\"prompt_tok_s\":%.2f,\"gen_tok_s\":%.3f,\"peak_rss_mb\":%.1f,\"bytes_per_token\":%llu,"
                           "\"gen_gb_s\":%.2f,\"prompt_cpu_s\":%.3f,\"gen_cpu_s\":%.3f}\n",
                           kern, n_threads, o.n_prompt, o.n_gen, load_s * 1e3, pp, tg, rss_mb,
                           (unsigned long long)bpt, gbs, prompt_cpu, gen_cpu);
            if (md_buf_ok(&b)) fwrite(b.data, 1, b.len, stdout);
            md_buf_free(&b);
        } else {
            printf("model        %s\n", o.model);
            printf("kernels      %s, %d threads\n", kern, n_threads);
            printf("load         %.1f ms\n", load_s * 1e3);
            printf("prompt       %ld tokens in %.3f s: %.2f tokens/s (%.3f s CPU)\n", o.n_prompt, prompt_s, pp,
                   prompt_cpu);
            printf("generation   %ld tokens in %.3f s: %.3f tokens/s (%.3f s CPU)\n", o.n_gen, gen_s, tg, gen_cpu);
            printf("peak RSS     %.1f MB\n", rss_mb);
            printf("weights read %.1f MB per generated token: %.2f GB/s\n", (double)bpt / 1e6, gbs);
        }
    }
    md_free(tokens);
    md_free(logits);
    md_llama_ctx_free(ctx);
    md_llama_free(model);
    return st == MD_OK ? 0 : cli_fail(&err, o.json);
}

#else
typedef int md_cli_llm_bench_unavailable; /* ISO C forbids an empty translation unit */
#endif
