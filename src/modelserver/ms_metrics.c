/* ms_metrics.c: the model server's metrics in the Prometheus text exposition format
 * 0.0.4, and the small GET routes (/v1/models, /healthz, /readyz, /metrics).
 *
 * Storage is fixed at start-up inside the server object: a histogram per (route,
 * status), one for time to first token, token and generation counters, all relaxed
 * atomics, so recording never allocates or locks. Buckets are stored non-cumulative
 * and summed when rendered, clamped so they stay monotone while counters move.
 * Gauges (in flight, queue depth, producers) are read when rendered. Labels: route is
 * the route's path, never the raw request path ("unmatched" for 404s).
 *
 *   medify_model_http_requests_total{route,method,status}
 *   medify_model_http_request_duration_seconds{route,method,status}   histogram
 *   medify_model_time_to_first_token_seconds                           histogram
 *   medify_model_prompt_tokens_total, medify_model_completion_tokens_total,
 *   medify_model_embedding_tokens_total
 *   medify_model_generations_total{finish_reason}
 *   medify_model_requests_in_flight, medify_model_queue_depth, medify_model_streams_active
 */
#include <string.h>

#include "modelserver/modelserver_internal.h"

const double ms_bucket_bounds[MS_N_BUCKETS] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                                               1,     2.5,  5,     10,   30,   60,  120};
const int ms_status_codes[MS_N_STATUS] = {200, 400, 404, 405, 413, 415, 429, 500, 501, 503, 504, 408, 0};

static const char *const k_finish_names[MS_N_FINISH] = {"stop", "length", "cancelled", "error"};

static size_t status_index(int http_status) {
    for (size_t i = 0; i + 1 < MS_N_STATUS; i++)
        if (ms_status_codes[i] == http_status) return i;
    return MS_N_STATUS - 1;
}

static uint64_t load(const atomic_uint_fast64_t *v) {
    return (uint64_t)atomic_load_explicit((atomic_uint_fast64_t *)v, memory_order_relaxed);
}

static void add(atomic_uint_fast64_t *v, uint64_t n) { atomic_fetch_add_explicit(v, n, memory_order_relaxed); }

void ms_hist_observe(ms_hist *h, uint64_t duration_ns) {
    double seconds = (double)duration_ns / 1e9;
    add(&h->count, 1);
    add(&h->sum_us, duration_ns / 1000);
    for (size_t b = 0; b < MS_N_BUCKETS; b++)
        if (seconds <= ms_bucket_bounds[b]) {
            add(&h->buckets[b], 1);
            break;
        }
}

void ms_metrics_request(ms_metrics *m, size_t route, int http_status, uint64_t duration_ns) {
    if (route > MS_N_ROUTES) return;
    ms_hist_observe(&m->requests[route][status_index(http_status)], duration_ns);
}

void ms_metrics_generation(ms_metrics *m, const md_llm_usage *u, bool failed) {
    add(&m->prompt_tokens, u->prompt_tokens);
    add(&m->completion_tokens, u->completion_tokens);
    size_t k = failed                                      ? MS_FINISH_ERROR
               : strcmp(u->finish_reason, "length") == 0    ? MS_FINISH_LENGTH
               : strcmp(u->finish_reason, "cancelled") == 0 ? MS_FINISH_CANCELLED
                                                            : MS_FINISH_STOP;
    add(&m->generations[k], 1);
}

static void hist_render(md_buf *b, const char *name, const char *labels, const ms_hist *h) {
    uint64_t n = load(&h->count), cum = 0;
    const char *sep = *labels ? "," : "";
    for (size_t k = 0; k < MS_N_BUCKETS; k++) {
        cum += load(&h->buckets[k]);
        if (cum > n) cum = n;
        md_buf_appendf(b, "%s_bucket{%s%sle=\"%g\"} %llu\n", name, labels, sep, ms_bucket_bounds[k],
                       (unsigned long long)cum);
    }
    md_buf_appendf(b, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", name, labels, sep, (unsigned long long)n);
    if (*labels) {
        md_buf_appendf(b, "%s_sum{%s} %.6f\n", name, labels, (double)load(&h->sum_us) / 1e6);
        md_buf_appendf(b, "%s_count{%s} %llu\n", name, labels, (unsigned long long)n);
    } else {
        md_buf_appendf(b, "%s_sum %.6f\n", name, (double)load(&h->sum_us) / 1e6);
        md_buf_appendf(b, "%s_count %llu\n", name, (unsigned long long)n);
    }
}

static void counter(md_buf *b, const char *name, const char *help, uint64_t v) {
    md_buf_appendf(b, "# HELP %s %s\n# TYPE %s counter\n%s %llu\n", name, help, name, name, (unsigned long long)v);
}

static void gauge(md_buf *b, const char *name, const char *help, uint64_t v) {
    md_buf_appendf(b, "# HELP %s %s\n# TYPE %s gauge\n%s %llu\n", name, help, name, name, (unsigned long long)v);
}

static void metrics_render(md_modelserver *s, md_buf *b) {
    ms_metrics *m = &s->metrics;
    char labels[160];
    md_buf_append_str(b, "# HELP medify_model_http_requests_total HTTP requests answered, by route and status.\n"
                         "# TYPE medify_model_http_requests_total counter\n");
    for (size_t r = 0; r <= MS_N_ROUTES; r++)
        for (size_t k = 0; k < MS_N_STATUS; k++) {
            uint64_t n = load(&m->requests[r][k].count);
            if (!n) continue;
            md_buf_appendf(b, "medify_model_http_requests_total{route=\"%s\",method=\"%s\",status=\"",
                           r < MS_N_ROUTES ? ms_routes[r].path : "unmatched",
                           r < MS_N_ROUTES ? ms_routes[r].method : "any");
            if (ms_status_codes[k]) md_buf_appendf(b, "%d\"} %llu\n", ms_status_codes[k], (unsigned long long)n);
            else md_buf_appendf(b, "other\"} %llu\n", (unsigned long long)n);
        }
    md_buf_append_str(b, "# HELP medify_model_http_request_duration_seconds Time from a request's first byte to "
                         "its last response byte, by route and status.\n"
                         "# TYPE medify_model_http_request_duration_seconds histogram\n");
    for (size_t r = 0; r <= MS_N_ROUTES; r++)
        for (size_t k = 0; k < MS_N_STATUS; k++) {
            if (!load(&m->requests[r][k].count)) continue;
            char status[16];
            if (ms_status_codes[k]) snprintf(status, sizeof status, "%d", ms_status_codes[k]);
            else snprintf(status, sizeof status, "other");
            snprintf(labels, sizeof labels, "route=\"%s\",method=\"%s\",status=\"%s\"",
                     r < MS_N_ROUTES ? ms_routes[r].path : "unmatched", r < MS_N_ROUTES ? ms_routes[r].method : "any",
                     status);
            hist_render(b, "medify_model_http_request_duration_seconds", labels, &m->requests[r][k]);
        }
    md_buf_append_str(b, "# HELP medify_model_time_to_first_token_seconds Time from a generation request's "
                         "arrival (queue wait included) to its first piece of text.\n"
                         "# TYPE medify_model_time_to_first_token_seconds histogram\n");
    hist_render(b, "medify_model_time_to_first_token_seconds", "", &m->ttft);
    counter(b, "medify_model_prompt_tokens_total", "Prompt tokens processed.", load(&m->prompt_tokens));
    counter(b, "medify_model_completion_tokens_total", "Tokens generated.", load(&m->completion_tokens));
    counter(b, "medify_model_embedding_tokens_total", "Tokens embedded.", load(&m->embedded_tokens));
    md_buf_append_str(b, "# HELP medify_model_generations_total Generations run, by how they ended.\n"
                         "# TYPE medify_model_generations_total counter\n");
    for (size_t k = 0; k < MS_N_FINISH; k++)
        md_buf_appendf(b, "medify_model_generations_total{finish_reason=\"%s\"} %llu\n", k_finish_names[k],
                       (unsigned long long)load(&m->generations[k]));
    gauge(b, "medify_model_requests_in_flight", "Requests received and not yet answered.",
          md_modelserver_n_in_flight(s));
    gauge(b, "medify_model_queue_depth", "Requests waiting for the model.", ms_fifo_n_waiting(&s->fifo));
    gauge(b, "medify_model_streams_active", "Streamed generations still producing.", atomic_load(&s->n_producers));
}

/* ------------------------------------------------------------- handlers ---- */

static md_status done(ms_request *r, md_error *err) {
    return md_buf_ok(&r->resp) ? MD_OK : md_error_set(err, MD_ERR_NOMEM, "out of memory");
}

static void model_entry(md_buf *b, const char *id, long created) {
    md_buf_append_str(b, "{\"id\":");
    md_buf_append_json_str(b, id, strlen(id));
    md_buf_appendf(b, ",\"object\":\"model\",\"created\":%ld,\"owned_by\":\"medify\"}", created);
}

md_status ms_handle_models(ms_request *r, md_error *err) {
    md_modelserver *s = r->srv;
    md_buf_append_str(&r->resp, "{\"object\":\"list\",\"data\":[");
    model_entry(&r->resp, s->model_id, s->created);
    if (s->embed_model_id) {
        md_buf_append_char(&r->resp, ',');
        model_entry(&r->resp, s->embed_model_id, s->created);
    }
    md_buf_append_str(&r->resp, "]}");
    return done(r, err);
}

md_status ms_handle_healthz(ms_request *r, md_error *err) {
    md_buf_append_str(&r->resp, "{\"status\":\"ok\"}");
    return done(r, err);
}

/* A probe answer, not an API error: 503 while stopping, so load balancers move on. */
md_status ms_handle_readyz(ms_request *r, md_error *err) {
    md_modelserver *s = r->srv;
    if (atomic_load(&s->draining)) {
        r->http_status = 503;
        md_buf_append_str(&r->resp, "{\"status\":\"not_ready\",\"reason\":\"shutting_down\"}");
        return done(r, err);
    }
    md_buf_append_str(&r->resp, "{\"status\":\"ready\",\"model\":");
    md_buf_append_json_str(&r->resp, s->model_id, strlen(s->model_id));
    md_buf_appendf(&r->resp, ",\"queue_depth\":%zu,\"max_queue\":%d,\"embeddings\":%s}", ms_fifo_n_waiting(&s->fifo),
                   s->params.max_queue, s->params.embed ? "true" : "false");
    return done(r, err);
}

md_status ms_handle_metrics(ms_request *r, md_error *err) {
    metrics_render(r->srv, &r->resp);
    r->resp_content_type = "text/plain; version=0.0.4; charset=utf-8";
    return done(r, err);
}
