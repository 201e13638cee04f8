/* medify modelserver: an OpenAI-compatible HTTP server over one md_llm (`medify model
 * serve`), so any OpenAI client, and medify's own remote backend, can use a local GGUF
 * model.
 *
 *   POST /v1/chat/completions   chat.completion, or with "stream":true a
 *                               text/event-stream of chat.completion.chunk objects
 *                               ending with `data: [DONE]`
 *   POST /v1/completions        text_completion, streamed the same way
 *   POST /v1/embeddings         the OpenAI embedding list (when an embedder is set;
 *                               otherwise 404 not_found)
 *   GET  /v1/models             the model list
 *   GET  /healthz, /readyz, /metrics   liveness, readiness, Prometheus text
 *
 * Requests follow the OpenAI schema: fields medify does not use ("user", "logit_bias",
 * "n":1, ...) are ignored, as OpenAI clients expect; fields it uses are checked for type
 * and range (a bad one is 400 naming the field); "n" above 1 is refused. Errors are
 * `{"error":{"code","message","type"}}`: the project's code and message plus the
 * OpenAI error type. Every response carries X-Request-Id. Access logs are JSON lines
 * (route, status, duration, token counts): never prompts, never generated text.
 *
 * Scheduling: the model runs one generation at a time. Admitted requests wait for it
 * in FIFO order; when max_queue requests are already waiting, a new one gets 503
 * with Retry-After. A streamed generation runs on its own producer thread that hands
 * text to the connection through a fixed-size ring buffer (back-pressure, never an
 * unbounded buffer); a client that disconnects cancels its generation at the next
 * piece. Shutdown: md_modelserver_stop stops accepting, lets in-flight requests finish
 * within a grace period, then cancels what is left.
 */
#ifndef MEDIFY_MODELSERVER_H
#define MEDIFY_MODELSERVER_H

#include "medify/base.h"
#include "medify/llm.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A chat request with a long conversation is tens of KiB; 1 MiB leaves room for
 * embedding batches while bounding what one request can make the server hold. */
#define MD_MODELSERVER_DEFAULT_MAX_BODY_BYTES (1024 * 1024)
#define MD_MODELSERVER_DEFAULT_PORT           8081
#define MD_MODELSERVER_DEFAULT_MAX_QUEUE      16
#define MD_MODELSERVER_DEFAULT_MAX_CONNECTIONS 256
#define MD_MODELSERVER_DEFAULT_IDLE_TIMEOUT_S 60
#define MD_MODELSERVER_DEFAULT_REQUEST_TIMEOUT_MS 30000 /* a body still arriving after this is refused */
#define MD_MODELSERVER_DEFAULT_RETRY_AFTER_S  1 /* Retry-After on a full queue (RFC 9110, sec. 10.2.3) */
#define MD_MODELSERVER_MAX_EMBED_INPUTS       256

/* An embedder: writes the n_dim floats of text's embedding into out and the number of
 * tokens it read into *n_tokens. Called one input at a time, never concurrently. */
typedef md_status (*md_modelserver_embed_fn)(void *ctx, const char *text, size_t n_bytes, float *out,
                                             uint32_t *n_tokens, md_error *err);

typedef struct md_modelserver_params {
    const char *host;        /* default "127.0.0.1" */
    int port;                /* default 8081; 0 lets the kernel pick (md_modelserver_port) */
    const char *model_id;    /* the id in /v1/models and in answers; required */
    size_t max_body_bytes;   /* larger bodies: 413 */
    int max_queue;           /* requests waiting for the model beyond the running one; 0..4096 */
    int max_connections;     /* concurrent connections (one thread each) */
    int idle_timeout_s;      /* close a connection silent this long */
    int request_timeout_ms;  /* a request body must arrive within this (0: no limit) */
    /* Embeddings (optional): embed NULL turns /v1/embeddings off. */
    md_modelserver_embed_fn embed;
    void *embed_ctx;
    uint32_t embed_n_dim;
    const char *embed_model_id;
    md_logger log; /* access and lifecycle logs (component "modelserver") */
} md_modelserver_params;

md_modelserver_params md_modelserver_default_params(void);

typedef struct md_modelserver md_modelserver;

/* Creates a server over `llm` (borrowed: it must outlive the server). Strings in params
 * are copied. Nothing listens yet. Free with md_modelserver_free. Errors:
 * MD_ERR_INVALID_ARG (no llm), MD_ERR_CONFIG (a parameter out of range). */
md_status md_modelserver_new(md_llm *llm, md_modelserver_params params, md_modelserver **out, md_error *err);

/* Binds, listens and starts serving. MD_ERR_IO when the address cannot be bound. */
md_status md_modelserver_start(md_modelserver *s, md_error *err);

/* The port actually bound; 0 before start. */
int md_modelserver_port(const md_modelserver *s);

/* Requests received and not yet answered (streams count until their last byte). */
size_t md_modelserver_n_in_flight(const md_modelserver *s);

/* Graceful stop: stops accepting at once, /readyz answers 503, requests already
 * received finish within grace_ms; then running generations are cancelled and every
 * connection closed. MD_OK, or MD_ERR_TIMEOUT when some had to be cut off. */
md_status md_modelserver_stop(md_modelserver *s, uint32_t grace_ms);

/* Stops (grace 0) if running, then frees. NULL is a no-op. */
void md_modelserver_free(md_modelserver *s);

#ifdef __cplusplus
}
#endif

#endif /* MEDIFY_MODELSERVER_H */
