/* generate.c: POST /v1/chat/completions and POST /v1/completions.
 *
 * Both decode the body (openai_request.c), take a place in the model's FIFO (a full
 * queue is 503 with Retry-After), and then either hand over to stream.c
 * ("stream":true) or generate the whole answer here, on the connection's thread:
 *
 *   chat.completion   {"id","object","created","model","choices":[{"index":0,
 *                     "message":{"role":"assistant","content"},"logprobs":null,
 *                     "finish_reason"}],"usage":{prompt/completion/total_tokens}}
 *   text_completion   the same with choices[{"text","index","logprobs","finish_reason"}]
 *
 * While generating, the piece callback notes the time to first token (measured from
 * the request's arrival, queue wait included: what the client waits) and every
 * PEER_CHECK_MS asks whether the client is still there; a client gone or a stop past
 * its grace period cancels the generation.
 */
#include <string.h>
#include <time.h>

#include "modelserver/modelserver_internal.h"

#define PEER_CHECK_MS 50

void ms_append_usage(md_buf *b, const md_llm_usage *u) {
    md_buf_appendf(b, "{\"prompt_tokens\":%u,\"completion_tokens\":%u,\"total_tokens\":%u}", u->prompt_tokens,
                   u->completion_tokens, u->prompt_tokens + u->completion_tokens);
}

void ms_render_llm_error(ms_request *r, md_status st, const char *message) {
    const char *msg = message && *message ? message : md_status_message(st);
    if (st == MD_ERR_LIMIT) /* the prompt does not fit the context: OpenAI answers 400 */
        ms_render_error(r, 400, "context_length_exceeded", msg);
    else
        ms_render_error(r, md_status_http(st), md_status_name(st), msg);
}

typedef struct whole_ctx {
    ms_request *r;
    bool first_seen;
    bool client_gone;
    uint64_t last_check_ns;
} whole_ctx;

static bool on_piece_whole(const char *piece, size_t len, void *ctx) {
    (void)piece;
    (void)len;
    whole_ctx *w = ctx;
    md_modelserver *s = w->r->srv;
    uint64_t now = md_clock_monotonic_ns();
    if (!w->first_seen) {
        w->first_seen = true;
        ms_hist_observe(&s->metrics.ttft, now - w->r->t0_ns);
    }
    if (atomic_load(&s->aborting)) return false;
    if (now - w->last_check_ns >= (uint64_t)PEER_CHECK_MS * 1000000u) {
        w->last_check_ns = now;
        if (ms_conn_peer_closed(w->r->conn)) {
            w->client_gone = true;
            return false;
        }
    }
    return true;
}

static md_status run_llm(md_llm *llm, ms_gen *g, md_llm_piece_fn fn, void *ctx, md_buf *out, md_llm_usage *u,
                         md_error *err) {
    if (g->chat) return md_llm_chat(llm, g->msgs, g->n_msgs, &g->sampling, fn, ctx, out, u, err);
    return md_llm_complete(llm, g->prompt, &g->sampling, fn, ctx, out, u, err);
}

/* The generated text as a JSON string; a model emitting invalid UTF-8 (the contract
 * says it does not) would still not break the JSON: the text ends at the bad byte. */
static void append_text(md_buf *b, const md_buf *text) {
    const char *p = text->data ? text->data : "";
    size_t n = text->len, bad = 0;
    if (!md_utf8_valid(p, n, &bad)) n = bad;
    md_buf_append_json_str(b, p, n);
}

static void render_whole(ms_request *r, const ms_gen *g, const md_buf *text, const md_llm_usage *u) {
    md_modelserver *s = r->srv;
    char id[96];
    ms_completion_id(r, g->chat, id);
    const char *finish = strcmp(u->finish_reason, "length") == 0 ? "length" : "stop";
    md_buf *b = &r->resp;
    md_buf_appendf(b, "{\"id\":\"%s\",\"object\":\"%s\",\"created\":%ld,\"model\":", id,
                   g->chat ? "chat.completion" : "text_completion", (long)time(NULL));
    md_buf_append_json_str(b, s->model_id, strlen(s->model_id));
    if (g->chat) {
        md_buf_append_str(b, ",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":");
        append_text(b, text);
        md_buf_appendf(b, "},\"logprobs\":null,\"finish_reason\":\"%s\"}]", finish);
    } else {
        md_buf_append_str(b, ",\"choices\":[{\"text\":");
        append_text(b, text);
        md_buf_appendf(b, ",\"index\":0,\"logprobs\":null,\"finish_reason\":\"%s\"}]", finish);
    }
    md_buf_append_str(b, ",\"usage\":");
    ms_append_usage(b, u);
    md_buf_append_char(b, '}');
}

static md_status handle_generation(ms_request *r, bool chat, md_error *err) {
    md_modelserver *s = r->srv;
    ms_gen g;
    md_status st = ms_gen_decode(r->body.data, r->body.len, chat, &g, err);
    if (st != MD_OK) {
        ms_gen_free(&g);
        return st;
    }
    uint64_t ticket = 0;
    if (!ms_fifo_admit(&s->fifo, &ticket)) {
        ms_gen_free(&g);
        r->retry_after = true;
        return md_error_set(err, MD_ERR_UNAVAILABLE,
                            "the model is busy: %d requests are already waiting for it; retry later",
                            s->params.max_queue);
    }
    if (g.stream) {
        st = ms_stream_start(r, &g, ticket, err);
        if (st != MD_OK) { /* the ticket still takes its turn, so none behind it is stranded */
            ms_fifo_wait(&s->fifo, ticket);
            ms_fifo_done(&s->fifo, ticket);
        }
        ms_gen_free(&g);
        return st;
    }
    ms_fifo_wait(&s->fifo, ticket);
    whole_ctx w = {.r = r, .last_check_ns = md_clock_monotonic_ns()};
    md_buf text;
    md_buf_init(&text);
    md_llm_usage u = {0};
    md_error gen_err = {0};
    if (atomic_load(&s->aborting)) {
        st = md_error_set(&gen_err, MD_ERR_UNAVAILABLE, "the server is shutting down");
    } else if (ms_conn_peer_closed(r->conn)) {
        w.client_gone = true; /* left while waiting: its turn ends at once */
        snprintf(u.finish_reason, sizeof u.finish_reason, "cancelled");
    } else {
        st = run_llm(s->llm, &g, on_piece_whole, &w, &text, &u, &gen_err);
    }
    ms_fifo_done(&s->fifo, ticket);
    ms_metrics_generation(&s->metrics, &u, st != MD_OK);
    r->prompt_tokens = u.prompt_tokens;
    r->completion_tokens = u.completion_tokens;
    if (st == MD_OK && strcmp(u.finish_reason, "cancelled") == 0 && !w.client_gone)
        st = md_error_set(&gen_err, MD_ERR_UNAVAILABLE, "the server is shutting down; generation cancelled");
    if (w.client_gone)
        render_whole(r, &g, &text, &u); /* nobody reads it; MHD closes the connection */
    else if (st != MD_OK)
        ms_render_llm_error(r, st, gen_err.message);
    else if (!md_buf_ok(&text))
        ms_render_error(r, 503, md_status_name(MD_ERR_NOMEM), "out of memory");
    else
        render_whole(r, &g, &text, &u);
    md_buf_free(&text);
    ms_gen_free(&g);
    return MD_OK;
}

md_status ms_handle_chat(ms_request *r, md_error *err) { return handle_generation(r, true, err); }

md_status ms_handle_completions(ms_request *r, md_error *err) { return handle_generation(r, false, err); }
