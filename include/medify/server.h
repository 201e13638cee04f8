/* medify server: the HTTP/JSON service (`medify serve`) over libmicrohttpd.
 *
 * What this slice serves (docs/openapi.yaml is the contract, also served at
 * GET /v1/openapi.yaml):
 *
 *   POST /v1/parse, /v1/triage, /v1/diagnosis   the assessment object of
 *                                               `medify assess --json` (docs/cli.md)
 *   POST /v1/explain                            evidence for and against one condition
 *   POST /v1/suggest                            the next observations worth asking about
 *   GET  /v1/conditions, /v1/symptoms           the knowledge-base catalogue
 *   GET  /v1/openapi.yaml                       the API description
 *   GET  /healthz, /readyz, /metrics            liveness, readiness, Prometheus text
 *   /v1/auth/..., /v1/users, /v1/api-keys, /v1/audit, /v1/interviews, /v1/reports,
 *   /v1/patients                                the product: accounts, interviews,
 *                                               reports and the clinician's review,
 *                                               over the store in params.data_dir
 *
 * Requests are validated strictly: malformed JSON, wrong types, unknown fields,
 * invalid UTF-8, oversized bodies, unknown ids, unknown routes and wrong methods each
 * get their own error, always `{"error":{"code":"...","message":"..."}}` with the
 * HTTP status of the base status table. Every response carries X-Request-Id (the
 * caller's, when it is a short token, otherwise a generated one). Access logs are JSON
 * lines with method, route, status, duration and request id: never bodies, never
 * patient text.
 *
 * Threads: libmicrohttpd's internal thread pool (params.n_threads); each request runs
 * start to finish on one pool thread with its own arena. The knowledge base is shared
 * read-only. Shutdown: md_server_stop stops accepting, lets in-flight requests finish
 * within a grace period, then closes everything.
 */
#ifndef MEDIFY_SERVER_H
#define MEDIFY_SERVER_H

#include "medify/base.h"
#include "medify/clinical.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A request body is JSON of a few hundred bytes. 64 KiB equals the clinical parser's
 * own text limit (MD_CLINICAL_MAX_TEXT_BYTES): JSON unescaping only shrinks a string,
 * so text inside an accepted body is never too large for the parser. */
#define MD_SERVER_DEFAULT_MAX_BODY_BYTES (64 * 1024)
/* libmicrohttpd's per-connection memory pool holds the request line, the headers and
 * the read buffer; a request whose headers do not fit is answered 431 by the library. */
#define MD_SERVER_DEFAULT_MAX_HEADER_BYTES   (32 * 1024)
#define MD_SERVER_DEFAULT_PORT               8080
#define MD_SERVER_DEFAULT_THREADS            2
#define MD_SERVER_DEFAULT_MAX_CONNECTIONS    1024
#define MD_SERVER_DEFAULT_IDLE_TIMEOUT_S     30    /* a connection silent this long is closed */
#define MD_SERVER_DEFAULT_REQUEST_TIMEOUT_MS 30000 /* a body still arriving after this is refused */
#define MD_SERVER_DEFAULT_GRACE_MS           10000 /* SIGTERM → in-flight requests get this long */

typedef struct md_server_params {
    const char *host;        /* address to bind, default "127.0.0.1" */
    int port;                /* default 8080; 0 lets the kernel pick (see md_server_port) */
    int n_threads;           /* worker threads, default 2 */
    size_t max_body_bytes;   /* larger request bodies get 413 too_large */
    size_t max_header_bytes; /* per-connection header memory (libmicrohttpd pool) */
    int max_connections;     /* concurrent connections */
    int idle_timeout_s;      /* close a connection idle this long */
    int request_timeout_ms;  /* a request body must arrive within this */
    const char *cors_origin; /* NULL or "": CORS off; else the Access-Control-Allow-Origin */
    md_logger log;           /* access and lifecycle logs (component "server") */
    /* The product (accounts, interviews, reports; accounts.h, records.h). */
    const char *data_dir;    /* the store; NULL: no store, the product routes answer 503 */
    bool insecure_cookies;   /* omit the cookie's Secure attribute (plain http://127.0.0.1) */
    int64_t session_ttl_ms;  /* default MD_SESSION_DEFAULT_TTL_MS */
    double rate_ip_per_s;    /* token bucket per client address; 0: off */
    double rate_ip_burst;
    double rate_user_per_s;  /* token bucket per signed-in user or API key; 0: off */
    double rate_user_burst;
    uint32_t password_memory_kib; /* Argon2id cost of new passwords (0: the default) */
    uint32_t password_iterations;
} md_server_params;

md_server_params md_server_default_params(void);

typedef struct md_server md_server;

/* Creates a server over `kb` (borrowed: it must outlive the server). Strings in
 * params are copied. Nothing listens yet. Free with md_server_free. */
md_status md_server_new(const md_kb *kb, md_server_params params, md_server **out, md_error *err);

/* Binds, listens and starts the worker threads. MD_ERR_IO when the address cannot be
 * bound (with the reason in err). */
md_status md_server_start(md_server *s, md_error *err);

/* The port actually bound (useful with params.port = 0); 0 before start. */
int md_server_port(const md_server *s);

/* Graceful stop: stops accepting new connections at once, answers every request
 * already received (responses carry "Connection: close"), waits up to grace_ms for
 * them, then stops the threads and closes every socket. Returns MD_OK when all
 * in-flight requests completed, MD_ERR_TIMEOUT when the grace period ran out first.
 * Safe to call once; md_server_free calls it with grace 0 if needed. */
md_status md_server_stop(md_server *s, uint32_t grace_ms);

/* Requests currently being handled (received, not yet answered and sent). */
size_t md_server_n_in_flight(const md_server *s);

void md_server_free(md_server *s);

#ifdef __cplusplus
}
#endif

#endif /* MEDIFY_SERVER_H */
