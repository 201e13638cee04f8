/* audit.c: the audit trail of the product routes.
 *
 * One row per answered request on an audited route (authz.c's table): when, who (user
 * and API key ids), the route's method and pattern (never the raw path or query), the
 * record type and id the handler touched, the outcome (the status name) and the HTTP
 * status, and the request id that ties it to the access log. Never a body, never a
 * field of one. Denied requests are recorded too: they are what an audit is for.
 *
 * Called with the store lock held, after the response is rendered. A failure to write
 * the row is logged (without content) and does not change the answer already made.
 */
#include <stdio.h>

#include "server/server_internal.h"

void srv_audit_request(srv_request *r) {
    if (!r->route || !r->srv->store) return;
    const srv_authz_rule *rule = srv_authz_rule_find(r->route->method, r->route->pattern);
    if (!rule || !rule->audited) return;
    char action[128];
    snprintf(action, sizeof action, "%s %s", r->route->method, r->route->pattern);
    md_audit_record rec = {
        .user_id = r->who.authenticated ? r->who.user_id : 0,
        .api_key_id = r->who.api_key_id,
        .action = action,
        .record_type = r->audit_type,
        .record_id = r->audit_id,
        .outcome = r->error_code ? r->error_code : "ok",
        .http_status = r->http_status,
        .request_id = r->request_id,
    };
    md_error err = {0};
    if (md_records_audit_append(r->srv->store, &rec, &err) != MD_OK)
        md_log(&r->srv->params.log, MD_LOG_LEVEL_ERROR, "audit write failed", MD_LOG_STR("request_id", r->request_id),
               MD_LOG_STR("error", md_status_name(err.status)));
}
