/* metrics.c: request counters, latency histograms and clinical counters, rendered in
 * the Prometheus text exposition format 0.0.4
 * (https://prometheus.io/docs/instrumenting/exposition_formats/).
 *
 * Storage is fixed at start-up: one series per (route, status) pair with a count, a
 * sum in microseconds and one counter per latency bucket, all relaxed atomics, so
 * recording is a handful of uncontended adds and never allocates or locks. Buckets
 * are stored non-cumulative and summed when rendered; only series that have seen a
 * request are printed. Clinical counters: emergencies by red flag (every KB red flag
 * whose level is emergency or above, printed even at 0 so alerts can use rate()),
 * triage levels of every assessment, and the in-flight gauge.
 *
 * Labels: route is the route's pattern (never the raw path, which could carry ids or
 * anything a client sends), "unmatched" for 404s; status is the numeric HTTP status.
 */
#include <string.h>

#include "server/server_internal.h"

const double srv_bucket_bounds[SRV_N_BUCKETS] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                                 0.05,   0.1,   0.25,   0.5,   1,    2.5};
const int srv_status_codes[SRV_N_STATUS] = {200, 204, 400, 401, 403, 404, 405, 409, 413,
                                            429, 431, 500, 501, 503, 504, 408, 0};

static size_t status_index(int http_status) {
    for (size_t i = 0; i + 1 < SRV_N_STATUS; i++)
        if (srv_status_codes[i] == http_status) return i;
    return SRV_N_STATUS - 1;
}

md_status srv_metrics_init(srv_metrics *m, size_t n_routes, size_t n_redflags) {
    memset(m, 0, sizeof *m);
    m->n_routes = n_routes;
    m->n_redflags = n_redflags;
    m->series = md_calloc(n_routes * SRV_N_STATUS, sizeof *m->series);
    m->emergencies = md_calloc(n_redflags ? n_redflags : 1, sizeof *m->emergencies);
    if (!m->series || !m->emergencies) {
        srv_metrics_free(m);
        return MD_ERR_NOMEM;
    }
    return MD_OK;
}

void srv_metrics_free(srv_metrics *m) {
    md_free(m->series);
    md_free(m->emergencies);
    m->series = NULL;
    m->emergencies = NULL;
}

void srv_metrics_observe(srv_metrics *m, size_t route, int http_status, uint64_t duration_ns) {
    if (!m->series || route >= m->n_routes) return;
    srv_series *s = &m->series[route * SRV_N_STATUS + status_index(http_status)];
    double seconds = (double)duration_ns / 1e9;
    atomic_fetch_add_explicit(&s->count, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&s->sum_us, duration_ns / 1000, memory_order_relaxed);
    for (size_t b = 0; b < SRV_N_BUCKETS; b++)
        if (seconds <= srv_bucket_bounds[b]) {
            atomic_fetch_add_explicit(&s->buckets[b], 1, memory_order_relaxed);
            break;
        }
}

void srv_metrics_assessment(srv_metrics *m, const md_kb *kb, const md_assessment *a) {
    atomic_fetch_add_explicit(&m->assessments, 1, memory_order_relaxed);
    if ((size_t)a->level < MD_TRIAGE_COUNT) atomic_fetch_add_explicit(&m->triage[a->level], 1, memory_order_relaxed);
    for (size_t i = 0; i < a->n_redflags; i++) {
        uint32_t rf = a->redflags[i].redflag;
        if (rf < m->n_redflags && md_kb_redflag_at(kb, rf)->level >= MD_TRIAGE_EMERGENCY)
            atomic_fetch_add_explicit(&m->emergencies[rf], 1, memory_order_relaxed);
    }
}

void srv_metrics_report(srv_metrics *m, uint64_t duration_ns, uint32_t prompt_tokens, uint32_t completion_tokens) {
    srv_series *s = &m->report_latency;
    double seconds = (double)duration_ns / 1e9;
    atomic_fetch_add_explicit(&s->count, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&s->sum_us, duration_ns / 1000, memory_order_relaxed);
    for (size_t b = 0; b < SRV_N_BUCKETS; b++)
        if (seconds <= srv_bucket_bounds[b]) {
            atomic_fetch_add_explicit(&s->buckets[b], 1, memory_order_relaxed);
            break;
        }
    atomic_fetch_add_explicit(&m->prompt_tokens, prompt_tokens, memory_order_relaxed);
    atomic_fetch_add_explicit(&m->completion_tokens, completion_tokens, memory_order_relaxed);
}

static uint64_t load(const atomic_uint_fast64_t *v) {
    return (uint64_t)atomic_load_explicit((atomic_uint_fast64_t *)v, memory_order_relaxed);
}

/* Label values here are route patterns and KB ids: no quotes, backslashes or newlines
 * by construction (kb_load checks ids), so they need no escaping. */
static void series_labels(md_buf *b, const char *route, const char *method, int status) {
    if (status)
        md_buf_appendf(b, "{route=\"%s\",method=\"%s\",status=\"%d\"", route, method, status);
    else
        md_buf_appendf(b, "{route=\"%s\",method=\"%s\",status=\"other\"", route, method);
}

void srv_metrics_render(const md_server *s, md_buf *b) {
    const srv_metrics *m = &s->metrics;
    md_buf_append_str(b, "# HELP medify_http_requests_total HTTP requests answered, by route and status.\n"
                         "# TYPE medify_http_requests_total counter\n");
    for (size_t r = 0; r < m->n_routes; r++) {
        const char *route = r < srv_n_routes ? srv_routes[r].pattern : "unmatched";
        const char *method = r < srv_n_routes ? srv_routes[r].method : "any";
        for (size_t k = 0; k < SRV_N_STATUS; k++) {
            uint64_t n = load(&m->series[r * SRV_N_STATUS + k].count);
            if (!n) continue;
            md_buf_append_str(b, "medify_http_requests_total");
            series_labels(b, route, method, srv_status_codes[k]);
            md_buf_appendf(b, "} %llu\n", (unsigned long long)n);
        }
    }
    md_buf_append_str(b, "# HELP medify_http_request_duration_seconds Time from the first byte of a request to "
                         "its response, by route and status.\n"
                         "# TYPE medify_http_request_duration_seconds histogram\n");
    for (size_t r = 0; r < m->n_routes; r++) {
        const char *route = r < srv_n_routes ? srv_routes[r].pattern : "unmatched";
        const char *method = r < srv_n_routes ? srv_routes[r].method : "any";
        for (size_t k = 0; k < SRV_N_STATUS; k++) {
            const srv_series *se = &m->series[r * SRV_N_STATUS + k];
            uint64_t n = load(&se->count);
            if (!n) continue;
            /* Counters move while we read; clamp so the buckets stay monotone and the
             * +Inf bucket equals _count, as the format requires. */
            uint64_t cum = 0;
            for (size_t bk = 0; bk < SRV_N_BUCKETS; bk++) {
                cum += load(&se->buckets[bk]);
                if (cum > n) cum = n;
                md_buf_append_str(b, "medify_http_request_duration_seconds_bucket");
                series_labels(b, route, method, srv_status_codes[k]);
                md_buf_appendf(b, ",le=\"%g\"} %llu\n", srv_bucket_bounds[bk], (unsigned long long)cum);
            }
            md_buf_append_str(b, "medify_http_request_duration_seconds_bucket");
            series_labels(b, route, method, srv_status_codes[k]);
            md_buf_appendf(b, ",le=\"+Inf\"} %llu\n", (unsigned long long)n);
            md_buf_append_str(b, "medify_http_request_duration_seconds_sum");
            series_labels(b, route, method, srv_status_codes[k]);
            md_buf_appendf(b, "} %.6f\n", (double)load(&se->sum_us) / 1e6);
            md_buf_append_str(b, "medify_http_request_duration_seconds_count");
            series_labels(b, route, method, srv_status_codes[k]);
            md_buf_appendf(b, "} %llu\n", (unsigned long long)n);
        }
    }
    md_buf_append_str(b, "# HELP medify_http_requests_in_flight Requests received and not yet answered.\n"
                         "# TYPE medify_http_requests_in_flight gauge\n");
    md_buf_appendf(b, "medify_http_requests_in_flight %zu\n", md_server_n_in_flight(s));
    md_buf_append_str(b, "# HELP medify_assessments_total Clinical assessments computed.\n"
                         "# TYPE medify_assessments_total counter\n");
    md_buf_appendf(b, "medify_assessments_total %llu\n", (unsigned long long)load(&m->assessments));
    md_buf_append_str(b, "# HELP medify_triage_total Assessments by triage level.\n"
                         "# TYPE medify_triage_total counter\n");
    for (int l = 0; l < MD_TRIAGE_COUNT; l++)
        md_buf_appendf(b, "medify_triage_total{level=\"%s\"} %llu\n", md_triage_level_name((md_triage_level)l),
                       (unsigned long long)load(&m->triage[l]));
    md_buf_append_str(b, "# HELP medify_emergencies_total Emergency red flags detected, by red flag.\n"
                         "# TYPE medify_emergencies_total counter\n");
    for (size_t i = 0; i < m->n_redflags; i++) {
        const md_kb_redflag *rf = md_kb_redflag_at(s->kb, i);
        if (rf->level < MD_TRIAGE_EMERGENCY) continue;
        md_buf_appendf(b, "medify_emergencies_total{red_flag=\"%s\"} %llu\n", rf->id,
                       (unsigned long long)load(&m->emergencies[i]));
    }
    /* product */
    md_buf_append_str(b, "# HELP medify_interviews_started_total Interviews started.\n"
                         "# TYPE medify_interviews_started_total counter\n");
    md_buf_appendf(b, "medify_interviews_started_total %llu\n", (unsigned long long)load(&m->interviews_started));
    md_buf_append_str(b, "# HELP medify_interviews_finished_total Interviews finished (a report was made).\n"
                         "# TYPE medify_interviews_finished_total counter\n");
    md_buf_appendf(b, "medify_interviews_finished_total %llu\n", (unsigned long long)load(&m->interviews_finished));
    md_buf_append_str(b, "# HELP medify_report_generation_seconds Time to generate a report.\n"
                         "# TYPE medify_report_generation_seconds histogram\n");
    const srv_series *rs = &m->report_latency;
    uint64_t n = load(&rs->count), cum = 0;
    for (size_t bk = 0; bk < SRV_N_BUCKETS; bk++) {
        cum += load(&rs->buckets[bk]);
        if (cum > n) cum = n;
        md_buf_appendf(b, "medify_report_generation_seconds_bucket{le=\"%g\"} %llu\n", srv_bucket_bounds[bk],
                       (unsigned long long)cum);
    }
    md_buf_appendf(b, "medify_report_generation_seconds_bucket{le=\"+Inf\"} %llu\n", (unsigned long long)n);
    md_buf_appendf(b, "medify_report_generation_seconds_sum %.6f\n", (double)load(&rs->sum_us) / 1e6);
    md_buf_appendf(b, "medify_report_generation_seconds_count %llu\n", (unsigned long long)n);
    md_buf_append_str(b, "# HELP medify_llm_tokens_total Tokens used by report generation, by kind.\n"
                         "# TYPE medify_llm_tokens_total counter\n");
    md_buf_appendf(b, "medify_llm_tokens_total{kind=\"prompt\"} %llu\n", (unsigned long long)load(&m->prompt_tokens));
    md_buf_appendf(b, "medify_llm_tokens_total{kind=\"completion\"} %llu\n",
                   (unsigned long long)load(&m->completion_tokens));
}
