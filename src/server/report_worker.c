/* report_worker.c: reports written by an LLM, off the request threads, and their
 * server-sent event streams.
 *
 * When the environment configures a model (md_llm_open_from_env), finishing an
 * interview stores its report with status "generating" and queues it here; /finish
 * answers at once. One worker thread takes jobs in order, runs the analysis module
 * (which streams the model's pieces to us) and, under the store lock, writes the
 * finished report (status pending_review, a "generated" history entry). Reports whose
 * generation fails are written by the deterministic generator inside the analysis
 * module, so a job always ends with a report.
 *
 * Streams: GET /v1/reports/{id}/stream on a report this process is writing follows
 * it live: every piece as `event: piece`, then `event: done` with the stored report.
 * The response is a libmicrohttpd callback that waits on the job's condition
 * variable (at most POLL_MS at a time, so a stopping server ends it). A report being
 * written by another process is followed by polling the store until it is done.
 *
 * Live jobs are reference counted: the worker holds one reference, each stream one;
 * the job is freed by the last.
 */
#include <errno.h>
#include <microhttpd.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "server/product.h"

#define POLL_MS 500
#define STREAM_MAX_MS (10 * 60 * 1000) /* a stream ends after this even if the report is not done */
#define SSE_BLOCK_BYTES 4096

typedef struct job {
    struct job *next;
    int64_t report_id;
    md_case *c;
    md_buf pieces;   /* all text streamed so far */
    size_t n_refs;
    bool done;
    pthread_cond_t changed;
} job;

struct srv_worker {
    md_server *srv;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    job *queue_head, *queue_tail; /* waiting */
    bool stop;
};

/* Jobs being written or waiting, for streams to find: a small fixed table. */
#define MAX_LIVE 256

typedef struct live_table {
    job *jobs[MAX_LIVE];
} live_table;

/* Drops a reference; the caller holds w->lock. */
static void job_release(srv_worker *w, job *j) {
    (void)w;
    if (--j->n_refs > 0) return;
    md_case_free(j->c);
    md_buf_free(&j->pieces);
    pthread_cond_destroy(&j->changed);
    md_free(j);
}

/* ---- the live table lives inside the worker allocation ---- */

typedef struct worker_alloc {
    struct srv_worker w;
    live_table live;
} worker_alloc;

static live_table *live_of(srv_worker *w) { return &((worker_alloc *)w)->live; }

static void live_add(srv_worker *w, job *j) {
    live_table *t = live_of(w);
    for (size_t i = 0; i < MAX_LIVE; i++)
        if (!t->jobs[i]) {
            t->jobs[i] = j;
            j->n_refs++;
            return;
        }
    /* Table full: the job still runs; its streams fall back to polling the store. */
}

static void live_remove(srv_worker *w, job *j) {
    live_table *t = live_of(w);
    for (size_t i = 0; i < MAX_LIVE; i++)
        if (t->jobs[i] == j) {
            t->jobs[i] = NULL;
            job_release(w, j);
            return;
        }
}

static job *live_find(srv_worker *w, int64_t report_id) {
    live_table *t = live_of(w);
    for (size_t i = 0; i < MAX_LIVE; i++)
        if (t->jobs[i] && t->jobs[i]->report_id == report_id) return t->jobs[i];
    return NULL;
}

/* ------------------------------------------------------------ the worker ---- */

typedef struct piece_ctx {
    srv_worker *w;
    job *j;
} piece_ctx;

static bool append_piece(const char *piece, size_t len, void *ctx) {
    piece_ctx *pc = ctx;
    pthread_mutex_lock(&pc->w->lock);
    md_buf_append(&pc->j->pieces, piece, len);
    pthread_cond_broadcast(&pc->j->changed);
    pthread_mutex_unlock(&pc->w->lock);
    return true;
}

/* Writes report_id from case c and stores it (status pending_review). */
static void write_report(md_server *s, int64_t report_id, const md_case *c, md_analysis_piece_fn on_piece,
                         void *piece_ctx_) {
    uint64_t t0 = md_clock_monotonic_ns();
    md_report rep;
    md_error err = {0};
    md_status st = md_analysis_report(s->analysis, c, on_piece, piece_ctx_, &rep, &err);
    md_buf body;
    md_buf_init(&body);
    char *sections = NULL, *similar = NULL, *usage = NULL;
    if (st == MD_OK) st = srv_report_columns(&rep, &body, &sections, &similar, &usage, &err);
    pthread_mutex_lock(&s->store_lock);
    md_arena a;
    md_arena_init(&a, 0);
    md_report_record rec;
    md_status st2 = md_records_report_get(s->store, report_id, &a, &rec, &err);
    if (st == MD_OK && st2 == MD_OK && strcmp(rec.status, "generating") == 0) {
        rec.status = "pending_review";
        rec.generator = rep.generator ? rep.generator : rec.generator;
        rec.sections_json = sections;
        rec.similar_json = similar;
        rec.usage_json = usage;
        rec.body_json = body.data;
        st = md_records_report_update(s->store, &rec, 0, "generated", NULL, &err);
    } else if (st == MD_OK) {
        st = st2;
    }
    pthread_mutex_unlock(&s->store_lock);
    if (st == MD_OK)
        srv_metrics_report(&s->metrics, md_clock_monotonic_ns() - t0, rep.usage.prompt_tokens,
                           rep.usage.completion_tokens);
    else
        md_log(&s->params.log, MD_LOG_LEVEL_ERROR, "report generation failed", MD_LOG_INT("report_id", report_id),
               MD_LOG_STR("error", md_status_name(st)));
    md_arena_free(&a);
    free(sections);
    free(similar);
    free(usage);
    md_buf_free(&body);
    md_report_free(&rep);
}

static void *worker_main(void *arg) {
    srv_worker *w = arg;
    pthread_mutex_lock(&w->lock);
    for (;;) {
        while (!w->stop && !w->queue_head) pthread_cond_wait(&w->wake, &w->lock);
        if (w->stop) break;
        job *j = w->queue_head;
        w->queue_head = j->next;
        if (!w->queue_head) w->queue_tail = NULL;
        pthread_mutex_unlock(&w->lock);
        piece_ctx pc = {w, j};
        write_report(w->srv, j->report_id, j->c, append_piece, &pc);
        pthread_mutex_lock(&w->lock);
        j->done = true;
        pthread_cond_broadcast(&j->changed);
        live_remove(w, j);
        job_release(w, j); /* the queue's reference */
    }
    pthread_mutex_unlock(&w->lock);
    return NULL;
}

md_status srv_worker_start(md_server *s, srv_worker **out) {
    worker_alloc *wa = md_calloc(1, sizeof *wa);
    if (!wa) return MD_ERR_NOMEM;
    srv_worker *w = &wa->w;
    w->srv = s;
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->wake, NULL);
    if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
        pthread_mutex_destroy(&w->lock);
        pthread_cond_destroy(&w->wake);
        md_free(wa);
        return MD_ERR_INTERNAL;
    }
    *out = w;
    return MD_OK;
}

void srv_worker_stop(srv_worker *w) {
    if (!w) return;
    pthread_mutex_lock(&w->lock);
    w->stop = true;
    pthread_cond_broadcast(&w->wake);
    pthread_mutex_unlock(&w->lock);
    pthread_join(w->thread, NULL);
    pthread_mutex_lock(&w->lock);
    while (w->queue_head) {
        job *j = w->queue_head;
        w->queue_head = j->next;
        live_remove(w, j);
        job_release(w, j);
    }
    for (size_t i = 0; i < MAX_LIVE; i++)
        if (live_of(w)->jobs[i]) live_remove(w, live_of(w)->jobs[i]);
    pthread_mutex_unlock(&w->lock);
    pthread_mutex_destroy(&w->lock);
    pthread_cond_destroy(&w->wake);
    md_free(w);
}

md_status srv_worker_submit(srv_worker *w, int64_t report_id, const md_case *c) {
    job *j = md_calloc(1, sizeof *j);
    if (!j) return MD_ERR_NOMEM;
    j->c = md_case_clone(c);
    if (!j->c) {
        md_free(j);
        return MD_ERR_NOMEM;
    }
    j->report_id = report_id;
    j->n_refs = 1; /* the queue's */
    md_buf_init(&j->pieces);
    pthread_cond_init(&j->changed, NULL);
    pthread_mutex_lock(&w->lock);
    live_add(w, j);
    if (w->queue_tail) w->queue_tail->next = j;
    else w->queue_head = j;
    w->queue_tail = j;
    pthread_cond_signal(&w->wake);
    pthread_mutex_unlock(&w->lock);
    return MD_OK;
}

/* --------------------------------------------------------------- streams ---- */

struct srv_sse {
    md_server *srv;
    job *j;           /* the live job, or NULL (poll the store) */
    int64_t report_id;
    size_t n_sent;    /* bytes of j->pieces already turned into events */
    md_buf out;       /* formatted events not yet handed to libmicrohttpd */
    size_t out_pos;
    bool finished;    /* the done event is in out */
    uint64_t t0_ns;
};

void srv_sse_free(srv_sse *x) {
    if (!x) return;
    if (x->j) {
        srv_worker *w = x->srv->worker;
        pthread_mutex_lock(&w->lock);
        job_release(w, x->j);
        pthread_mutex_unlock(&w->lock);
    }
    md_buf_free(&x->out);
    md_free(x);
}

/* Appends the done event with the stored report; false while it is still generating. */
static bool add_done(srv_sse *x) {
    md_server *s = x->srv;
    md_arena a;
    md_arena_init(&a, 0);
    md_error err = {0};
    md_report_record rec;
    pthread_mutex_lock(&s->store_lock);
    md_status st = md_records_report_get(s->store, x->report_id, &a, &rec, &err);
    bool ready = st != MD_OK || strcmp(rec.status, "generating") != 0;
    if (ready) {
        /* The stream's request context is gone; a minimal request carries the server. */
        srv_request r;
        memset(&r, 0, sizeof r);
        r.srv = s;
        md_buf_append_str(&x->out, "event: done\ndata: ");
        if (st == MD_OK) {
            md_buf b;
            md_buf_init(&b);
            if (srv_report_json(&r, &rec, &b, &err) == MD_OK) md_buf_append(&x->out, b.data, b.len);
            else md_buf_append_str(&x->out, "null");
            md_buf_free(&b);
        } else {
            md_buf_append_str(&x->out, "null");
        }
        md_buf_append_str(&x->out, "\n\n");
        x->finished = true;
    }
    pthread_mutex_unlock(&s->store_lock);
    md_arena_free(&a);
    return ready;
}

static void add_piece(srv_sse *x, const char *text, size_t n) {
    md_buf_append_str(&x->out, "event: piece\ndata: {\"text\":");
    md_buf_append_json_str(&x->out, text, n);
    md_buf_append_str(&x->out, "}\n\n");
}

static void sleep_ms(unsigned ms) {
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* Fills x->out with the next events, waiting at most POLL_MS. */
static void refill(srv_sse *x) {
    md_server *s = x->srv;
    if (x->j) {
        srv_worker *w = s->worker;
        pthread_mutex_lock(&w->lock);
        if (x->j->pieces.len == x->n_sent && !x->j->done) {
            struct timespec until;
            clock_gettime(CLOCK_REALTIME, &until);
            until.tv_nsec += (long)POLL_MS * 1000000L;
            until.tv_sec += until.tv_nsec / 1000000000L;
            until.tv_nsec %= 1000000000L;
            pthread_cond_timedwait(&x->j->changed, &w->lock, &until);
        }
        /* Pieces end at a UTF-8 boundary only where the model's did: send whole
         * characters only, keeping a partial one for the next event. */
        size_t end = x->j->pieces.len;
        while (end > x->n_sent && ((unsigned char)x->j->pieces.data[end - 1] & 0xC0) == 0x80) end--;
        if (end > x->n_sent && ((unsigned char)x->j->pieces.data[end - 1] & 0x80) && !x->j->done) end--;
        if (x->j->done) end = x->j->pieces.len;
        if (end > x->n_sent) {
            size_t bad = 0;
            const char *p = x->j->pieces.data + x->n_sent;
            size_t n = end - x->n_sent;
            if (!md_utf8_valid(p, n, &bad)) n = bad;
            add_piece(x, p, n);
            x->n_sent += n > 0 ? n : end - x->n_sent;
        }
        bool done = x->j->done;
        pthread_mutex_unlock(&w->lock);
        if (done) add_done(x);
        return;
    }
    if (add_done(x)) return;
    sleep_ms(POLL_MS);
    md_buf_append_str(&x->out, ": waiting\n\n"); /* a comment keeps proxies from timing out */
}

static ssize_t sse_read(void *cls, uint64_t pos, char *buf, size_t max) {
    (void)pos;
    srv_sse *x = cls;
    while (x->out_pos >= x->out.len) {
        if (x->finished) return MHD_CONTENT_READER_END_OF_STREAM;
        bool expired = (md_clock_monotonic_ns() - x->t0_ns) / 1000000u > STREAM_MAX_MS;
        if (atomic_load(&x->srv->draining) || expired) return MHD_CONTENT_READER_END_OF_STREAM;
        md_buf_clear(&x->out);
        x->out_pos = 0;
        refill(x);
        if (!md_buf_ok(&x->out)) return MHD_CONTENT_READER_END_WITH_ERROR;
    }
    size_t n = x->out.len - x->out_pos;
    if (n > max) n = max;
    memcpy(buf, x->out.data + x->out_pos, n);
    x->out_pos += n;
    return (ssize_t)n;
}

static void sse_free_cb(void *cls) { srv_sse_free(cls); }

struct MHD_Response *srv_sse_response(srv_sse *x) {
    return MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, SSE_BLOCK_BYTES, sse_read, x, sse_free_cb);
}

md_status srv_sse_report(srv_request *r, int64_t report_id, md_error *err) {
    srv_sse *x = md_calloc(1, sizeof *x);
    if (!x) return md_error_set(err, MD_ERR_NOMEM, "out of memory");
    x->srv = r->srv;
    x->report_id = report_id;
    x->t0_ns = md_clock_monotonic_ns();
    md_buf_init(&x->out);
    srv_worker *w = r->srv->worker;
    if (w) {
        pthread_mutex_lock(&w->lock);
        x->j = live_find(w, report_id);
        if (x->j) x->j->n_refs++;
        pthread_mutex_unlock(&w->lock);
    }
    r->sse = x;
    r->resp_content_type = "text/event-stream";
    return MD_OK;
}

/* ---------------------------------------------------------------- resume ---- */

typedef struct stuck {
    int64_t report_id, interview_id;
} stuck;

typedef struct stuck_list {
    stuck items[64];
    size_t n;
} stuck_list;

static bool collect_stuck(const md_report_record *rec, void *ctx) {
    stuck_list *l = ctx;
    if (l->n >= MD_ARRAY_LEN(l->items)) return false;
    l->items[l->n++] = (stuck){rec->id, rec->interview_id};
    return true;
}

void srv_worker_resume(md_server *s) {
    if (!s->store || !s->analysis) return;
    md_error err = {0};
    stuck_list l = {.n = 0};
    pthread_mutex_lock(&s->store_lock);
    md_status st = md_records_report_each(s->store, 0, "generating", 0, collect_stuck, &l, &err);
    pthread_mutex_unlock(&s->store_lock);
    for (size_t i = 0; st == MD_OK && i < l.n; i++) {
        md_arena a;
        md_arena_init(&a, 0);
        md_interview_record rec;
        md_case *c = NULL;
        pthread_mutex_lock(&s->store_lock);
        md_status st1 = md_records_interview_get(s->store, l.items[i].interview_id, &a, &rec, &err);
        pthread_mutex_unlock(&s->store_lock);
        if (st1 == MD_OK) st1 = srv_interview_case(s->kb, &rec, &c, &err);
        if (st1 == MD_OK && s->worker) st1 = srv_worker_submit(s->worker, l.items[i].report_id, c);
        else if (st1 == MD_OK) write_report(s, l.items[i].report_id, c, NULL, NULL);
        md_log(&s->params.log, st1 == MD_OK ? MD_LOG_LEVEL_INFO : MD_LOG_LEVEL_ERROR, "report resumed",
               MD_LOG_INT("report_id", l.items[i].report_id), MD_LOG_STR("outcome", md_status_name(st1)));
        md_case_free(c);
        md_arena_free(&a);
    }
}
