/* authz.c: authorisation as one table.
 *
 * Every route has exactly one row: what an anonymous caller, a patient, a clinician
 * and an admin may do on it, and whether answers are written to the audit log. The
 * server applies the row before the handler runs (srv_authz_route: 401 for an
 * anonymous caller where a role is needed, 403 for a role the row denies); handlers
 * of OWN/CARE routes read the record and ask srv_authz_check with its subject (whose
 * record it is), and the server refuses to answer (500) if such a handler never asked,
 * so a new handler cannot forget. A route missing from the table is denied.
 *
 * The rules (the product API in docs/openapi.yaml):
 *   patients   their own interviews and reports (OWN); never another patient's
 *   clinicians their patients' records, and unassigned patients whose report awaits
 *              review (CARE); opening such a review assigns the patient to them
 *   admins     accounts, API keys and the audit log; none of the clinical content
 *   API keys   act with the role given when the key was made; they own no records
 */
#include <string.h>

#include "server/server_internal.h"

#define A SRV_ACCESS_ALLOW
#define D SRV_ACCESS_DENY
#define O SRV_ACCESS_OWN
#define C SRV_ACCESS_CARE

/* method, pattern, anonymous, patient, clinician, admin, product, audited */
const srv_authz_rule srv_authz_rules[] = {
    /* stateless clinical API, catalogue and ops: open to everyone */
    {"POST", "/v1/parse", A, A, A, A, false, false},
    {"POST", "/v1/triage", A, A, A, A, false, false},
    {"POST", "/v1/diagnosis", A, A, A, A, false, false},
    {"POST", "/v1/explain", A, A, A, A, false, false},
    {"POST", "/v1/suggest", A, A, A, A, false, false},
    {"GET", "/v1/conditions", A, A, A, A, false, false},
    {"GET", "/v1/symptoms", A, A, A, A, false, false},
    {"GET", "/v1/openapi.yaml", A, A, A, A, false, false},
    {"GET", "/healthz", A, A, A, A, false, false},
    {"GET", "/readyz", A, A, A, A, false, false},
    {"GET", "/metrics", A, A, A, A, false, false},
    /* accounts */
    {"POST", "/v1/auth/signup", A, A, A, A, true, true},
    {"POST", "/v1/auth/login", A, A, A, A, true, true},
    {"POST", "/v1/auth/logout", D, A, A, A, true, true},
    {"GET", "/v1/auth/me", D, A, A, A, true, false},
    {"GET", "/v1/users", D, D, D, A, true, true},
    {"POST", "/v1/users", D, D, D, A, true, true},
    {"PATCH", "/v1/users/{id}", D, D, D, A, true, true},
    {"POST", "/v1/api-keys", D, D, D, A, true, true},
    {"GET", "/v1/api-keys", D, D, D, A, true, true},
    {"DELETE", "/v1/api-keys/{id}", D, D, D, A, true, true},
    {"GET", "/v1/audit", D, D, D, A, true, true},
    /* interviews: the patient runs them; their clinician reads them */
    {"POST", "/v1/interviews", D, A, D, D, true, true},
    {"GET", "/v1/interviews", D, O, C, D, true, true},
    {"GET", "/v1/interviews/{id}", D, O, C, D, true, true},
    {"POST", "/v1/interviews/{id}/messages", D, O, D, D, true, true},
    {"POST", "/v1/interviews/{id}/finish", D, O, D, D, true, true},
    /* reports: the patient reads theirs; the clinician reviews, edits and signs */
    {"GET", "/v1/reports", D, O, C, D, true, true},
    {"GET", "/v1/reports/{id}", D, O, C, D, true, true},
    {"GET", "/v1/reports/{id}/stream", D, O, C, D, true, true},
    {"GET", "/v1/reports/{id}/pdf", D, O, C, D, true, true},
    {"PATCH", "/v1/reports/{id}", D, D, C, D, true, true},
    {"POST", "/v1/reports/{id}/notes", D, D, C, D, true, true},
    {"POST", "/v1/reports/{id}/sign", D, D, C, D, true, true},
    {"GET", "/v1/reports/{id}/history", D, O, C, D, true, true},
    {"POST", "/v1/reports/{id}/questions", D, O, C, D, true, true},
    /* the clinician's patient list */
    {"GET", "/v1/patients", D, D, C, D, true, true},
    {"GET", "/v1/patients/{id}", D, D, C, D, true, true},
};
const size_t srv_n_authz_rules = MD_ARRAY_LEN(srv_authz_rules);

#undef A
#undef D
#undef O
#undef C

const srv_authz_rule *srv_authz_rule_find(const char *method, const char *pattern) {
    for (size_t i = 0; i < srv_n_authz_rules; i++)
        if (strcmp(srv_authz_rules[i].method, method) == 0 && strcmp(srv_authz_rules[i].pattern, pattern) == 0)
            return &srv_authz_rules[i];
    return NULL;
}

static srv_access access_of(const srv_authz_rule *rule, bool authenticated, md_role role) {
    if (!rule) return SRV_ACCESS_DENY;
    if (!authenticated) return rule->anonymous;
    switch (role) {
    case MD_ROLE_PATIENT: return rule->patient;
    case MD_ROLE_CLINICIAN: return rule->clinician;
    case MD_ROLE_ADMIN: return rule->admin;
    case MD_ROLE_COUNT: break;
    }
    return SRV_ACCESS_DENY;
}

md_status srv_authz_route(const srv_authz_rule *rule, bool authenticated, md_role role) {
    if (access_of(rule, authenticated, role) != SRV_ACCESS_DENY) return MD_OK;
    return authenticated ? MD_ERR_FORBIDDEN : MD_ERR_UNAUTHORIZED;
}

md_status srv_authz_record(const srv_authz_rule *rule, bool authenticated, md_role role, int64_t user_id,
                           const srv_subject *subject) {
    srv_access access = access_of(rule, authenticated, role);
    switch (access) {
    case SRV_ACCESS_DENY: return authenticated ? MD_ERR_FORBIDDEN : MD_ERR_UNAUTHORIZED;
    case SRV_ACCESS_ALLOW: return MD_OK;
    case SRV_ACCESS_OWN:
        if (!subject) return MD_OK;
        return user_id > 0 && subject->patient_id == user_id ? MD_OK : MD_ERR_FORBIDDEN;
    case SRV_ACCESS_CARE:
        if (!subject) return MD_OK;
        if (user_id > 0 && subject->clinician_id == user_id) return MD_OK;
        return subject->clinician_id == 0 && subject->claimable ? MD_OK : MD_ERR_FORBIDDEN;
    }
    return MD_ERR_FORBIDDEN;
}

srv_access srv_authz_access(const srv_request *r) {
    if (!r->route) return SRV_ACCESS_DENY;
    return access_of(srv_authz_rule_find(r->route->method, r->route->pattern), r->who.authenticated, r->who.role);
}

md_status srv_authz_check(srv_request *r, const srv_subject *subject, md_error *err) {
    r->authz_checked = true;
    const srv_authz_rule *rule = srv_authz_rule_find(r->route->method, r->route->pattern);
    md_status st = srv_authz_record(rule, r->who.authenticated, r->who.role, r->who.user_id, subject);
    if (st == MD_OK) return MD_OK;
    return md_error_set(err, st, st == MD_ERR_UNAUTHORIZED ? "sign in first" : "this record is not yours to see");
}
