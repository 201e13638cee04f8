/* handlers_ops.c: liveness, readiness and metrics, for probes and scrapers.
 *
 *   GET /healthz   200 {"status":"ok"} while the process answers at all
 *   GET /readyz    200 {"status":"ready",...} when the knowledge base is loaded and the
 *                  server is not draining; 503 {"status":"not_ready","reason":...}
 *                  otherwise, so a load balancer stops sending traffic during a
 *                  graceful stop, or when the store (with --data-dir) does not answer
 *                  a query. A probe answer, not an API error: the status table
 *                  has no "unavailable" row, and 503 here must not read as
 *                  out_of_memory.
 *   GET /metrics   Prometheus text exposition format 0.0.4 (metrics.c)
 */
#include "server/server_internal.h"

md_status srv_handle_healthz(srv_request *r, md_error *err) {
    md_buf_append_str(&r->resp, "{\"status\":\"ok\"}");
    return md_buf_ok(&r->resp) ? MD_OK : md_error_set(err, MD_ERR_NOMEM, "out of memory");
}

/* The store answers a query (the product routes need it); true without a store. */
static bool store_ready(md_server *s) {
    if (!s->store) return true;
    int64_t n = 0;
    pthread_mutex_lock(&s->store_lock);
    md_status st = md_store_case_count(s->store, &n, NULL);
    pthread_mutex_unlock(&s->store_lock);
    return st == MD_OK;
}

md_status srv_handle_readyz(srv_request *r, md_error *err) {
    md_server *s = r->srv;
    const char *reason = !s->kb || md_kb_n_conditions(s->kb) == 0 ? "knowledge_base_not_loaded"
                         : atomic_load(&s->draining)              ? "shutting_down"
                         : !store_ready(s)                        ? "store_unavailable"
                                                                  : NULL;
    if (reason) {
        r->http_status = 503;
        md_buf_appendf(&r->resp, "{\"status\":\"not_ready\",\"reason\":\"%s\"}", reason);
        return md_buf_ok(&r->resp) ? MD_OK : md_error_set(err, MD_ERR_NOMEM, "out of memory");
    }
    md_buf_appendf(&r->resp,
                   "{\"status\":\"ready\",\"knowledge_base\":{\"conditions\":%zu,\"observations\":%zu,"
                   "\"red_flags\":%zu},\"store\":\"%s\"}",
                   md_kb_n_conditions(s->kb), md_kb_n_observations(s->kb), md_kb_n_redflags(s->kb),
                   s->store ? "ok" : "none");
    return md_buf_ok(&r->resp) ? MD_OK : md_error_set(err, MD_ERR_NOMEM, "out of memory");
}

md_status srv_handle_metrics(srv_request *r, md_error *err) {
    srv_metrics_render(r->srv, &r->resp);
    r->resp_content_type = "text/plain; version=0.0.4; charset=utf-8";
    return md_buf_ok(&r->resp) ? MD_OK : md_error_set(err, MD_ERR_NOMEM, "out of memory");
}
