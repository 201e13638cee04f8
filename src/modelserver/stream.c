/* stream.c: streamed answers as server-sent events
 * (https://html.spec.whatwg.org/multipage/server-sent-events.html), the way OpenAI
 * streams them: one `data: {json}\n\n` event per piece of text, a last chunk with the
 * finish_reason, a usage chunk when stream_options.include_usage asked for one, then
 * `data: [DONE]\n\n`. An error after the headers went out becomes a
 * `data: {"error":{...}}` event before [DONE].
 *
 * Two threads meet in one ms_stream:
 *
 *   producer   a thread of its own per streamed request: waits for its FIFO turn,
 *              runs md_llm_chat / md_llm_complete and turns each piece into an
 *              event written into the ring buffer, blocking while the ring is full.
 *   consumer   libmicrohttpd's content callback on the connection's thread: takes
 *              what the ring holds, blocking while it is empty; after KEEPALIVE_MS
 *              with nothing to send it sends an SSE comment, which keeps proxies
 *              from timing out and finds out whether the client is still there.
 *
 * The ring is RING_BYTES: memory per stream is fixed however fast the model and
 * however slow the client. An event that fits is written whole; a larger one (a long
 * piece released at once) is written in parts, and no keep-alive comment is slipped
 * between them (`in_event`). When the client goes, MHD frees the response, the
 * release callback marks the consumer gone and the producer's next piece callback
 * returns false: the generation is cancelled. A stop past its grace period first
 * cancels (`aborting`: the stream still ends with an error event and [DONE]), then
 * closes (`closing`: both sides give up); waits are sliced (WAIT_SLICE_MS) so they
 * notice.
 *
 * Events are formatted by the llm module's SSE writer (src/llm/sse.h), the same code
 * whose parser reads them back in the remote backend.
 *
 * Lifetime: three references (producer, MHD response, request); the last one frees.
 */
#include <errno.h>
#include <microhttpd.h>
#include <string.h>
#include <time.h>

#include "llm/sse.h"
#include "modelserver/modelserver_internal.h"

#define RING_BYTES    16384 /* a few hundred events; the client reads far faster than a CPU model writes */
#define KEEPALIVE_MS  2000
#define WAIT_SLICE_MS 100

static const char k_keepalive[] = ": keep-alive\n\n";

struct ms_stream {
    pthread_mutex_t mu;
    pthread_cond_t cv; /* ring changed, or a side left */
    char ring[RING_BYTES];
    size_t head; /* first unread byte */
    size_t n;    /* unread bytes */
    bool in_event;
    bool producer_done;
    bool consumer_gone;
    int refs;
    uint64_t last_out_ns;
    /* producer side */
    md_modelserver *srv;
    ms_gen g;
    uint64_t ticket;
    uint64_t t0_ns;
    long created;
    char id[96];
    bool first_seen;
    md_buf json; /* the chunk object being built; grows to the largest piece */
    md_buf ev;   /* the same as an SSE event (md_sse_write_event) */
    md_llm_usage usage;
};

static void stream_free(ms_stream *st) {
    ms_gen_free(&st->g);
    md_buf_free(&st->json);
    md_buf_free(&st->ev);
    pthread_cond_destroy(&st->cv);
    pthread_mutex_destroy(&st->mu);
    md_free(st);
}

static void unref_locked_and_unlock(ms_stream *st) {
    bool last = --st->refs == 0;
    pthread_mutex_unlock(&st->mu);
    if (last) stream_free(st);
}

static void timed_wait(ms_stream *st) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += (long)WAIT_SLICE_MS * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    (void)pthread_cond_timedwait(&st->cv, &st->mu, &ts);
}

/* Copies bytes into the ring (must fit in the free space). */
static void ring_put(ms_stream *st, const char *p, size_t n) {
    size_t tail = (st->head + st->n) % RING_BYTES;
    size_t first = n < RING_BYTES - tail ? n : RING_BYTES - tail;
    memcpy(st->ring + tail, p, first);
    memcpy(st->ring, p + first, n - first);
    st->n += n;
}

/* Writes one event; false when the consumer is gone or the server is closing. */
static bool ring_write(ms_stream *st, const char *p, size_t n) {
    pthread_mutex_lock(&st->mu);
    bool ok = true;
    while (n > 0) {
        if (st->consumer_gone || atomic_load(&st->srv->closing)) {
            ok = false;
            break;
        }
        size_t n_free = RING_BYTES - st->n;
        size_t k = n <= RING_BYTES ? (n_free >= n ? n : 0) : n_free; /* whole when it can be */
        if (k == 0) {
            timed_wait(st);
            continue;
        }
        ring_put(st, p, k);
        p += k;
        n -= k;
        st->in_event = n > 0;
        pthread_cond_broadcast(&st->cv);
    }
    st->in_event = false;
    pthread_mutex_unlock(&st->mu);
    return ok;
}

/* {"id":..,"object":..,"created":..,"model":..,"choices":[ */
static void event_begin(ms_stream *st) {
    md_buf *b = &st->json;
    const char *model = st->srv->model_id;
    md_buf_clear(b);
    md_buf_appendf(b, "{\"id\":\"%s\",\"object\":\"%s\",\"created\":%ld,\"model\":", st->id,
                   st->g.chat ? "chat.completion.chunk" : "text_completion", st->created);
    md_buf_append_json_str(b, model, strlen(model));
    md_buf_append_str(b, ",\"choices\":[");
}

/* One choice with text (may be NULL: the role chunk or the last chunk). */
static void event_choice(ms_stream *st, const char *text, size_t n, const char *finish) {
    md_buf *b = &st->json;
    if (st->g.chat) {
        md_buf_append_str(b, "{\"index\":0,\"delta\":{");
        if (text) {
            md_buf_append_str(b, "\"content\":");
            md_buf_append_json_str(b, text, n);
        } else if (!finish) {
            md_buf_append_str(b, "\"role\":\"assistant\",\"content\":\"\"");
        }
        md_buf_append_str(b, "},\"logprobs\":null,\"finish_reason\":");
    } else {
        md_buf_append_str(b, "{\"text\":");
        md_buf_append_json_str(b, text ? text : "", text ? n : 0);
        md_buf_append_str(b, ",\"index\":0,\"logprobs\":null,\"finish_reason\":");
    }
    if (finish)
        md_buf_appendf(b, "\"%s\"}", finish);
    else
        md_buf_append_str(b, "null}");
}

/* Sends st->json as one event. The JSON has no raw line breaks, so it is one data line. */
static bool event_send(ms_stream *st) {
    if (!md_buf_ok(&st->json)) return false;
    md_buf_clear(&st->ev);
    md_sse_write_event(&st->ev, NULL, st->json.data, st->json.len);
    if (!md_buf_ok(&st->ev)) return false;
    return ring_write(st, st->ev.data, st->ev.len);
}

static bool on_piece_stream(const char *piece, size_t len, void *ctx) {
    ms_stream *st = ctx;
    if (atomic_load(&st->srv->aborting)) return false;
    if (!st->first_seen) {
        st->first_seen = true;
        ms_hist_observe(&st->srv->metrics.ttft, md_clock_monotonic_ns() - st->t0_ns);
    }
    size_t bad = 0;
    if (!md_utf8_valid(piece, len, &bad)) len = bad; /* keep the JSON valid whatever the model does */
    event_begin(st);
    event_choice(st, piece, len, NULL);
    md_buf_append_str(&st->json, "]}");
    return event_send(st);
}

static void send_tail(ms_stream *st, md_status rc, const md_error *err) {
    if (rc != MD_OK) {
        ms_request fake = {0}; /* ms_render_llm_error writes into a request's buffer */
        md_buf_init(&fake.resp);
        ms_render_llm_error(&fake, rc, err->message);
        md_buf_clear(&st->json);
        md_buf_append(&st->json, fake.resp.data ? fake.resp.data : "{}", fake.resp.len ? fake.resp.len : 2);
        md_buf_free(&fake.resp);
        if (!event_send(st)) return;
    } else {
        const char *finish = strcmp(st->usage.finish_reason, "length") == 0 ? "length" : "stop";
        event_begin(st);
        event_choice(st, NULL, 0, finish);
        md_buf_append_str(&st->json, "]}");
        if (!event_send(st)) return;
        if (st->g.include_usage) {
            event_begin(st);
            md_buf_append_str(&st->json, "],\"usage\":");
            ms_append_usage(&st->json, &st->usage);
            md_buf_append_char(&st->json, '}');
            if (!event_send(st)) return;
        }
    }
    md_buf_clear(&st->json);
    md_buf_append_str(&st->json, "[DONE]");
    event_send(st);
}

static void *producer_main(void *arg) {
    ms_stream *st = arg;
    md_modelserver *s = st->srv;
    if (st->g.chat) { /* OpenAI's first chunk names the role */
        event_begin(st);
        event_choice(st, NULL, 0, NULL);
        md_buf_append_str(&st->json, "]}");
        event_send(st);
    }
    ms_fifo_wait(&s->fifo, st->ticket);
    md_error err = {0};
    md_status rc = MD_OK;
    pthread_mutex_lock(&st->mu);
    bool skip = st->consumer_gone;
    pthread_mutex_unlock(&st->mu);
    if (atomic_load(&s->aborting)) {
        rc = md_error_set(&err, MD_ERR_UNAVAILABLE, "the server is shutting down");
    } else if (skip) {
        snprintf(st->usage.finish_reason, sizeof st->usage.finish_reason, "cancelled");
    } else if (st->g.chat) {
        rc = md_llm_chat(s->llm, st->g.msgs, st->g.n_msgs, &st->g.sampling, on_piece_stream, st, NULL, &st->usage,
                         &err);
    } else {
        rc = md_llm_complete(s->llm, st->g.prompt, &st->g.sampling, on_piece_stream, st, NULL, &st->usage, &err);
    }
    ms_fifo_done(&s->fifo, st->ticket);
    ms_metrics_generation(&s->metrics, &st->usage, rc != MD_OK);
    if (rc == MD_OK && strcmp(st->usage.finish_reason, "cancelled") == 0 && !skip)
        rc = md_error_set(&err, MD_ERR_UNAVAILABLE, "generation cancelled: the client left or the server is stopping");
    send_tail(st, rc, &err);
    pthread_mutex_lock(&st->mu);
    st->producer_done = true;
    pthread_cond_broadcast(&st->cv);
    unref_locked_and_unlock(st);
    atomic_fetch_sub(&s->n_producers, 1);
    return NULL;
}

md_status ms_stream_start(ms_request *r, ms_gen *g, uint64_t ticket, md_error *err) {
    md_modelserver *s = r->srv;
    ms_stream *st = md_calloc(1, sizeof *st);
    if (!st) return md_error_set(err, MD_ERR_NOMEM, "out of memory");
    pthread_mutex_init(&st->mu, NULL);
    pthread_cond_init(&st->cv, NULL);
    md_buf_init(&st->json);
    md_buf_init(&st->ev);
    st->refs = 3;
    st->srv = s;
    st->g = *g;
    st->ticket = ticket;
    st->t0_ns = r->t0_ns;
    st->created = (long)time(NULL);
    st->last_out_ns = md_clock_monotonic_ns();
    ms_completion_id(r, g->chat, st->id);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    atomic_fetch_add(&s->n_producers, 1);
    pthread_t th;
    int rc = pthread_create(&th, &attr, producer_main, st);
    pthread_attr_destroy(&attr);
    if (rc != 0) {
        atomic_fetch_sub(&s->n_producers, 1);
        st->g = (ms_gen){0}; /* the caller keeps its request */
        stream_free(st);
        return md_error_set(err, MD_ERR_UNAVAILABLE, "cannot start a generation thread: %s", strerror(rc));
    }
    memset(g, 0, sizeof *g); /* moved into the stream */
    r->stream = st;
    return MD_OK;
}

ssize_t ms_stream_read(void *cls, uint64_t pos, char *buf, size_t max) {
    (void)pos;
    ms_stream *st = cls;
    pthread_mutex_lock(&st->mu);
    ssize_t out;
    for (;;) {
        if (st->n > 0) {
            size_t k = st->n < max ? st->n : max;
            size_t first = k < RING_BYTES - st->head ? k : RING_BYTES - st->head;
            memcpy(buf, st->ring + st->head, first);
            memcpy(buf + first, st->ring, k - first);
            st->head = (st->head + k) % RING_BYTES;
            st->n -= k;
            st->last_out_ns = md_clock_monotonic_ns();
            pthread_cond_broadcast(&st->cv);
            out = (ssize_t)k;
            break;
        }
        if (st->producer_done) {
            out = MHD_CONTENT_READER_END_OF_STREAM;
            break;
        }
        if (atomic_load(&st->srv->closing)) {
            out = MHD_CONTENT_READER_END_WITH_ERROR;
            break;
        }
        uint64_t now = md_clock_monotonic_ns();
        if (!st->in_event && max >= sizeof k_keepalive - 1 &&
            now - st->last_out_ns >= (uint64_t)KEEPALIVE_MS * 1000000u) {
            memcpy(buf, k_keepalive, sizeof k_keepalive - 1);
            st->last_out_ns = now;
            out = (ssize_t)(sizeof k_keepalive - 1);
            break;
        }
        timed_wait(st);
    }
    pthread_mutex_unlock(&st->mu);
    return out;
}

void ms_stream_release(void *cls) {
    ms_stream *st = cls;
    pthread_mutex_lock(&st->mu);
    st->consumer_gone = true;
    pthread_cond_broadcast(&st->cv);
    unref_locked_and_unlock(st);
}

void ms_stream_usage(ms_stream *st, uint32_t *prompt_tokens, uint32_t *completion_tokens) {
    pthread_mutex_lock(&st->mu);
    if (st->producer_done) {
        *prompt_tokens = st->usage.prompt_tokens;
        *completion_tokens = st->usage.completion_tokens;
    }
    pthread_mutex_unlock(&st->mu);
}
