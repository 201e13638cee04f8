/* medify model serve: the OpenAI-compatible model server (src/modelserver,
 * docs/model-server.md).
 *
 *   medify model serve --model M.gguf [--embed-model E.gguf] [--host H] [--port P]
 *                      [--threads T] [--max-queue N] [--ctx N] [--OPTION VALUE]
 *
 * Settings come from the table below, in rising precedence: defaults, a config file
 * (--config FILE or MEDIFY_CONFIG), MEDIFY_* environment variables, flags. The model
 * is loaded before the port is bound, so a bad file is an error exit, not a server
 * that answers 500. SIGTERM and SIGINT start a graceful stop (cmd_serve.c explains
 * the signal handling): exit 0, or 75 when requests had to be cut off.
 */
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "medify/bert.h"
#include "medify/llm.h"
#include "medify/modelserver.h"
#include "medify/tokenizer.h"

static const char k_usage[] =
    "usage: medify model serve --model M.gguf [--embed-model E.gguf] [--host 127.0.0.1] [--port 8081]\n"
    "                          [--threads T] [--max-queue N] [--ctx N] [--config FILE] [--OPTION VALUE]\n"
    "Serves M over the OpenAI API (/v1/chat/completions, /v1/completions, /v1/embeddings with\n"
    "--embed-model, /v1/models) plus /healthz, /readyz and /metrics until SIGTERM or SIGINT.\n";

static const md_config_option k_model_options[] = {
    {"model", MD_CONFIG_TYPE_STRING, NULL, 0, -1, "GGUF decoder model to serve (required)"},
    {"model-id", MD_CONFIG_TYPE_STRING, NULL, 0, -1, "id in /v1/models and answers (default: the file name)"},
    {"embed-model", MD_CONFIG_TYPE_STRING, NULL, 0, -1, "GGUF BERT encoder for /v1/embeddings (default: none)"},
    {"host", MD_CONFIG_TYPE_STRING, "127.0.0.1", 0, -1, "address to listen on"},
    {"port", MD_CONFIG_TYPE_INT, "8081", 0, 65535, "TCP port (0: any free port, printed in the 'listening' log line)"},
    {"threads", MD_CONFIG_TYPE_INT, "0", 0, 256, "inference threads (0: all cores)"},
    {"ctx", MD_CONFIG_TYPE_INT, "0", 0, 1048576, "context window in tokens (0: min(model's, 8192))"},
    {"max-queue", MD_CONFIG_TYPE_INT, "16", 0, 4096, "requests that may wait for the model (more: 503)"},
    {"max-body-bytes", MD_CONFIG_TYPE_INT, "1048576", 1024, 67108864, "largest request body (larger: 413)"},
    {"max-connections", MD_CONFIG_TYPE_INT, "256", 1, 65536, "concurrent connections (one thread each)"},
    {"idle-timeout-s", MD_CONFIG_TYPE_INT, "60", 1, 3600, "close a connection silent this long"},
    {"request-timeout-ms", MD_CONFIG_TYPE_INT, "30000", 100, 600000, "a request body must arrive within this"},
    {"shutdown-grace-ms", MD_CONFIG_TYPE_INT, "30000", 0, 600000, "time in-flight requests get after SIGTERM"},
    {"log-level", MD_CONFIG_TYPE_STRING, "info", 0, -1, "debug, info, warn, error or off (JSON lines on stderr)"},
};

static int usage_error(const char *fmt, const char *arg) {
    fprintf(stderr, "medify: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n%s", k_usage);
    return md_status_exit_code(MD_ERR_INVALID_ARG);
}

static void print_help(void) {
    printf("%s\nSettings (flags > MEDIFY_* environment > config file > defaults):\n", k_usage);
    for (size_t k = 0; k < MD_ARRAY_LEN(k_model_options); k++) {
        const md_config_option *o = &k_model_options[k];
        printf("  --%-20s %s%s%s%s\n", o->name, o->help, o->default_value ? " [" : "",
               o->default_value ? o->default_value : "", o->default_value ? "]" : "");
    }
}

/* ---- the embedder: a BERT encoder behind md_modelserver_embed_fn ------------------ */

typedef struct bert_embedder {
    md_bert_model *model;
    md_bert_ctx *ctx;
} bert_embedder;

static md_status bert_embed(void *ctx, const char *text, size_t n_bytes, float *out, uint32_t *n_tokens,
                            md_error *err) {
    bert_embedder *e = ctx;
    size_t n_tok = 0;
    /* A size query: the tokenizer answers MD_ERR_LIMIT with the count it needs. */
    md_status st = md_tokenize(md_bert_model_tokenizer(e->model), text, n_bytes, true, false, NULL, 0, &n_tok);
    if (st != MD_OK && st != MD_ERR_LIMIT) return md_error_set(err, st, "cannot tokenize an input");
    uint32_t n_ctx = md_bert_ctx_n_ctx(e->ctx);
    *n_tokens = (uint32_t)(n_tok < n_ctx ? n_tok : n_ctx); /* longer texts are cut to the context */
    return md_bert_embed_texts(e->ctx, &text, 1, out, err);
}

static md_status embedder_open(const char *path, bert_embedder *e, md_error *err) {
    md_status st = md_bert_load(path, md_bert_model_default_params(), &e->model, err);
    if (st == MD_OK) st = md_bert_ctx_new(e->model, md_bert_ctx_default_params(), &e->ctx, err);
    return st;
}

static void embedder_close(bert_embedder *e) {
    md_bert_ctx_free(e->ctx);
    md_bert_free(e->model);
}

static const char *base_name(const char *path) {
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

static int serve(md_config *cfg) {
    md_error err = {0};
    md_logger log = md_logger_default();
    log.component = "modelserver";
    const char *lv = md_config_get_str(cfg, "log-level");
    if (lv && !md_log_level_parse(lv, &log.min_level)) {
        md_error_set(&err, MD_ERR_CONFIG, "log-level must be debug, info, warn, error or off, got '%s'", lv);
        return cli_fail(&err, false);
    }
    /* Block the stop signals before any thread exists (the model's worker pool starts
     * while loading), so every thread inherits the mask and only sigwait sees them; a
     * signal during loading waits there. */
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGTERM);
    sigaddset(&stop_signals, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);
    signal(SIGPIPE, SIG_IGN);
    const char *model_path = md_config_get_str(cfg, "model");
    if (!model_path || !*model_path) return usage_error("%s", "--model M.gguf is required");
    const char *embed_path = md_config_get_str(cfg, "embed-model");

    md_llm_local_params lp = md_llm_local_default_params();
    lp.n_ctx = (uint32_t)md_config_get_int(cfg, "ctx");
    lp.n_threads = (int)md_config_get_int(cfg, "threads");
    uint64_t t0 = md_clock_monotonic_ns();
    md_llm *llm = NULL;
    md_status st = md_llm_open_local(model_path, &lp, &llm, &err);
    if (st != MD_OK) return cli_fail(&err, false);
    bert_embedder emb = {0};
    if (embed_path && *embed_path) {
        st = embedder_open(embed_path, &emb, &err);
        if (st != MD_OK) {
            embedder_close(&emb);
            md_llm_free(llm);
            return cli_fail(&err, false);
        }
    }
    md_log(&log, MD_LOG_LEVEL_INFO, "models loaded", MD_LOG_STR("model", base_name(model_path)),
           MD_LOG_STR("embed_model", emb.ctx ? base_name(embed_path) : ""),
           MD_LOG_DOUBLE("ms", (double)(md_clock_monotonic_ns() - t0) / 1e6));

    md_modelserver_params p = md_modelserver_default_params();
    p.log = log;
    p.host = md_config_get_str(cfg, "host");
    p.port = (int)md_config_get_int(cfg, "port");
    const char *id = md_config_get_str(cfg, "model-id");
    p.model_id = id && *id ? id : base_name(model_path);
    p.max_queue = (int)md_config_get_int(cfg, "max-queue");
    p.max_body_bytes = (size_t)md_config_get_int(cfg, "max-body-bytes");
    p.max_connections = (int)md_config_get_int(cfg, "max-connections");
    p.idle_timeout_s = (int)md_config_get_int(cfg, "idle-timeout-s");
    p.request_timeout_ms = (int)md_config_get_int(cfg, "request-timeout-ms");
    if (emb.ctx) {
        p.embed = bert_embed;
        p.embed_ctx = &emb;
        p.embed_n_dim = md_bert_ctx_n_embd(emb.ctx);
        p.embed_model_id = base_name(embed_path);
    }
    uint32_t grace_ms = (uint32_t)md_config_get_int(cfg, "shutdown-grace-ms");

    md_modelserver *srv = NULL;
    st = md_modelserver_new(llm, p, &srv, &err);
    if (st == MD_OK) st = md_modelserver_start(srv, &err);
    if (st != MD_OK) {
        md_modelserver_free(srv);
        embedder_close(&emb);
        md_llm_free(llm);
        return cli_fail(&err, false);
    }
    int sig = 0;
    while (sigwait(&stop_signals, &sig) != 0) {
    }
    md_log(&log, MD_LOG_LEVEL_INFO, "stopping", MD_LOG_STR("signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"),
           MD_LOG_INT("in_flight", md_modelserver_n_in_flight(srv)), MD_LOG_INT("grace_ms", grace_ms));
    st = md_modelserver_stop(srv, grace_ms);
    md_modelserver_free(srv);
    embedder_close(&emb);
    md_llm_free(llm);
    return st == MD_OK ? 0 : md_status_exit_code(st);
}

int cmd_model(int argc, char **argv) {
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
        print_help();
        return argc < 2 ? md_status_exit_code(MD_ERR_INVALID_ARG) : 0;
    }
    if (strcmp(argv[1], "serve") != 0) return usage_error("unknown subcommand 'model %s'", argv[1]);
    md_config *cfg = md_config_new(k_model_options, MD_ARRAY_LEN(k_model_options));
    if (!cfg) {
        fprintf(stderr, "medify: error: out of memory\n");
        return md_status_exit_code(MD_ERR_NOMEM);
    }
    bool help = false;
    int rc = cli_load_settings(argc - 1, argv + 1, cfg, NULL, k_usage, &help);
    if (rc == 0 && help)
        print_help();
    else if (rc == 0)
        rc = serve(cfg);
    md_config_free(cfg);
    return rc;
}
