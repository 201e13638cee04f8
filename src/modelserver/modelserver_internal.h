/* Private parts of the model server, shared by its files:
 *
 *   modelserver.c      libmicrohttpd glue: lifecycle, routes, body upload, limits,
 *                      request ids, errors, access log, graceful stop
 *   fifo_queue.c       the bounded FIFO in front of the model
 *   openai_request.c   OpenAI request bodies → messages/prompt + md_llm_sampling
 *   generate.c         /v1/chat/completions and /v1/completions, whole answers
 *   stream.c           the same as server-sent events: producer thread + ring buffer
 *   embeddings.c       /v1/embeddings
 *   ms_metrics.c       counters and histograms, Prometheus text; ops and /v1/models
 */
#ifndef MEDIFY_MODELSERVER_INTERNAL_H
#define MEDIFY_MODELSERVER_INTERNAL_H

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>

#include "medify/modelserver.h"

struct MHD_Daemon;
struct MHD_Connection;

/* ---------------------------------------------------------------- queue ---- */

/* A ticket lock with a bound: tickets are served in the order they were taken, and
 * no ticket is handed out while max_waiting tickets already wait behind the running
 * one. Every admitted ticket must be waited for (ms_fifo_wait) and then ended
 * (ms_fifo_done) exactly once, or the tickets behind it never run. */
typedef struct ms_fifo {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    uint64_t next_ticket; /* the next ticket handed out */
    uint64_t serving;     /* the ticket that may run now */
    size_t max_waiting;
} ms_fifo;

void ms_fifo_init(ms_fifo *q, size_t max_waiting);
void ms_fifo_destroy(ms_fifo *q);
/* False when the queue is full (nothing taken). */
bool ms_fifo_admit(ms_fifo *q, uint64_t *ticket);
/* Waits for the ticket's turn. A request that no longer wants the model (its client
 * left, the server is stopping) still takes its turn and ends it at once: the order
 * of the tickets behind it never depends on who gave up. */
void ms_fifo_wait(ms_fifo *q, uint64_t ticket);
/* Ends the ticket's turn; the next ticket runs. */
void ms_fifo_done(ms_fifo *q, uint64_t ticket);
/* Tickets waiting (admitted, not yet running). */
size_t ms_fifo_n_waiting(ms_fifo *q);

/* -------------------------------------------------------------- metrics ---- */

/* Latency buckets in seconds, for whole requests and time to first token: generation
 * takes seconds, so the range reaches two minutes. */
#define MS_N_BUCKETS 14
extern const double ms_bucket_bounds[MS_N_BUCKETS];
#define MS_N_STATUS 13
extern const int ms_status_codes[MS_N_STATUS]; /* last entry 0 = other */

typedef struct ms_hist {
    atomic_uint_fast64_t count;
    atomic_uint_fast64_t sum_us;
    atomic_uint_fast64_t buckets[MS_N_BUCKETS]; /* non-cumulative; summed when rendered */
} ms_hist;

#define MS_N_ROUTES 7
enum { MS_FINISH_STOP, MS_FINISH_LENGTH, MS_FINISH_CANCELLED, MS_FINISH_ERROR, MS_N_FINISH };

typedef struct ms_metrics {
    ms_hist requests[MS_N_ROUTES + 1][MS_N_STATUS]; /* last route: unmatched */
    ms_hist ttft;
    atomic_uint_fast64_t prompt_tokens;
    atomic_uint_fast64_t completion_tokens;
    atomic_uint_fast64_t embedded_tokens;
    atomic_uint_fast64_t generations[MS_N_FINISH];
} ms_metrics;

void ms_hist_observe(ms_hist *h, uint64_t duration_ns);
void ms_metrics_request(ms_metrics *m, size_t route, int http_status, uint64_t duration_ns);
/* One finished generation: tokens and how it ended ("stop", "length", "cancelled"; NULL
 * for an error). */
void ms_metrics_generation(ms_metrics *m, const md_llm_usage *u, bool failed);

/* --------------------------------------------------------------- server ---- */

typedef struct ms_route ms_route;
typedef struct ms_stream ms_stream;

/* One request from the first byte to the response; lives in the connection context. */
typedef struct ms_request {
    md_modelserver *srv;
    struct MHD_Connection *conn;
    const ms_route *route;    /* NULL: no route for the path and method */
    size_t route_index;       /* metrics index; MS_N_ROUTES for unmatched */
    const char *allow;        /* path known under other methods: the Allow header */
    const char *method;
    md_buf body;
    size_t n_body_bytes_seen;
    char request_id[72];
    uint64_t t0_ns;
    bool responded;
    const char *abort_reason;
    /* response */
    int http_status;
    const char *error_code;
    const char *resp_content_type;
    bool retry_after;  /* 503 on a full queue */
    md_buf resp;
    ms_stream *stream; /* set by a handler that answers with an event stream */
    uint32_t prompt_tokens, completion_tokens;
} ms_request;

struct md_modelserver {
    md_llm *llm;
    md_modelserver_params params;
    char *host, *model_id, *embed_model_id;
    struct MHD_Daemon *daemon;
    int listen_fd;
    int port;
    long created; /* unix time the server was made: /v1/models "created" */
    atomic_bool draining; /* stop requested: readyz 503, Connection: close */
    atomic_bool aborting; /* grace over: generations cancel (streams still get their tail) */
    atomic_bool closing;  /* cancellation had its moment: streams end, writes refused */
    atomic_bool stopped;
    atomic_size_t n_in_flight;
    atomic_size_t n_producers; /* stream producer threads alive */
    atomic_uint_fast64_t n_requests;
    char id_prefix[12];
    ms_fifo fifo;
    ms_metrics metrics;
};

typedef md_status (*ms_handler)(ms_request *r, md_error *err);

struct ms_route {
    const char *method;
    const char *path;
    ms_handler handler;
    bool json_body;
};

extern const ms_route ms_routes[MS_N_ROUTES];

/* Writes {"error":{"code","message","type"}} into r->resp with the HTTP status. */
void ms_render_error(ms_request *r, int http_status, const char *code, const char *message);

/* ------------------------------------------------------------- requests ---- */

/* A decoded chat or completion request. Strings point into root (or arena). */
typedef struct ms_gen {
    json_t *root;
    md_arena arena;
    bool chat;
    bool stream;
    bool include_usage; /* stream_options.include_usage */
    md_llm_message *msgs;
    size_t n_msgs;
    const char *prompt;
    md_llm_sampling sampling;
} ms_gen;

/* Decodes a body. Errors: MD_ERR_EMPTY, MD_ERR_UTF8, MD_ERR_PARSE (malformed JSON),
 * MD_ERR_INVALID_ARG naming the field. Free with ms_gen_free (also after an error). */
md_status ms_gen_decode(const char *body, size_t n_bytes, bool chat, ms_gen *g, md_error *err);
void ms_gen_free(ms_gen *g);

/* Helpers of the OpenAI answers. */
const char *ms_json_type_name(const json_t *v);
void ms_append_usage(md_buf *b, const md_llm_usage *u);
/* An md_llm error as the HTTP answer: a prompt over the context is the client's fault. */
void ms_render_llm_error(ms_request *r, md_status st, const char *message);

/* ------------------------------------------------------------- handlers ---- */

md_status ms_handle_chat(ms_request *r, md_error *err);
md_status ms_handle_completions(ms_request *r, md_error *err);
md_status ms_handle_embeddings(ms_request *r, md_error *err);
md_status ms_handle_models(ms_request *r, md_error *err);
md_status ms_handle_healthz(ms_request *r, md_error *err);
md_status ms_handle_readyz(ms_request *r, md_error *err);
md_status ms_handle_metrics(ms_request *r, md_error *err);

/* Starts a streamed generation for g (ownership of g's contents moves to the stream;
 * the caller's g is left empty) whose ticket was admitted. On MD_OK r->stream is set. */
md_status ms_stream_start(ms_request *r, ms_gen *g, uint64_t ticket, md_error *err);
/* libmicrohttpd's content reader and free callbacks for r->stream. */
ssize_t ms_stream_read(void *cls, uint64_t pos, char *buf, size_t max);
void ms_stream_release(void *cls);
/* Token counts of a finished stream (0 while it runs), for the access log. */
void ms_stream_usage(ms_stream *st, uint32_t *prompt_tokens, uint32_t *completion_tokens);

/* True when the peer of conn has closed its end (a non-blocking peek reads EOF). */
bool ms_conn_peer_closed(struct MHD_Connection *conn);

/* "chatcmpl-..." / "cmpl-..." ids derive from the request id. */
void ms_completion_id(const ms_request *r, bool chat, char out[96]);

#endif /* MEDIFY_MODELSERVER_INTERNAL_H */
