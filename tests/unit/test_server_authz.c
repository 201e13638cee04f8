/* The authorisation table (src/server/authz.c): every /v1/ route has exactly one
 * rule and every rule names a route; the route-level decision is 401 for an
 * anonymous caller and 403 for a denied role; OWN admits only the record's patient;
 * CARE admits the assigned clinician, or any clinician for an unassigned patient
 * whose report awaits review; admins reach no clinical record; lists (no subject)
 * pass to the handler, which filters by the same rule. */
#include "check.h"
#include "server/server_internal.h"

static void test_table_covers_routes(void) {
    for (size_t i = 0; i < srv_n_routes; i++) {
        const srv_route *rt = &srv_routes[i];
        if (strncmp(rt->pattern, "/v1/", 4) != 0) continue;
        size_t n = 0;
        for (size_t k = 0; k < srv_n_authz_rules; k++)
            n += strcmp(srv_authz_rules[k].method, rt->method) == 0 &&
                 strcmp(srv_authz_rules[k].pattern, rt->pattern) == 0;
        CHECK_MSG(n == 1, "%s %s has %zu rules", rt->method, rt->pattern, n);
    }
    for (size_t k = 0; k < srv_n_authz_rules; k++) {
        bool found = false;
        for (size_t i = 0; i < srv_n_routes; i++)
            found = found || (strcmp(srv_authz_rules[k].method, srv_routes[i].method) == 0 &&
                              strcmp(srv_authz_rules[k].pattern, srv_routes[i].pattern) == 0);
        CHECK_MSG(found, "rule %s %s has no route", srv_authz_rules[k].method, srv_authz_rules[k].pattern);
    }
    CHECK(srv_authz_rule_find("GET", "/v1/no-such-route") == NULL);
}

static void test_route_level(void) {
    const srv_authz_rule *users = srv_authz_rule_find("GET", "/v1/users");
    CHECK(users != NULL);
    CHECK_EQ_INT(srv_authz_route(users, false, MD_ROLE_PATIENT), MD_ERR_UNAUTHORIZED);
    CHECK_EQ_INT(srv_authz_route(users, true, MD_ROLE_PATIENT), MD_ERR_FORBIDDEN);
    CHECK_EQ_INT(srv_authz_route(users, true, MD_ROLE_CLINICIAN), MD_ERR_FORBIDDEN);
    CHECK_EQ_INT(srv_authz_route(users, true, MD_ROLE_ADMIN), MD_OK);
    const srv_authz_rule *triage = srv_authz_rule_find("POST", "/v1/triage");
    CHECK(triage && !triage->product);
    CHECK_EQ_INT(srv_authz_route(triage, false, MD_ROLE_PATIENT), MD_OK);
    const srv_authz_rule *create = srv_authz_rule_find("POST", "/v1/interviews");
    CHECK_EQ_INT(srv_authz_route(create, true, MD_ROLE_PATIENT), MD_OK);
    CHECK_EQ_INT(srv_authz_route(create, true, MD_ROLE_CLINICIAN), MD_ERR_FORBIDDEN);
    CHECK_EQ_INT(srv_authz_route(create, true, MD_ROLE_ADMIN), MD_ERR_FORBIDDEN);
    const srv_authz_rule *sign = srv_authz_rule_find("POST", "/v1/reports/{id}/sign");
    CHECK_EQ_INT(srv_authz_route(sign, true, MD_ROLE_PATIENT), MD_ERR_FORBIDDEN);
    CHECK_EQ_INT(srv_authz_route(sign, true, MD_ROLE_CLINICIAN), MD_OK);
    CHECK_EQ_INT(srv_authz_route(NULL, true, MD_ROLE_ADMIN), MD_ERR_FORBIDDEN); /* no rule: deny */
    /* Every product route with patient data is audited; admins reach none of it. */
    for (size_t k = 0; k < srv_n_authz_rules; k++) {
        const srv_authz_rule *r = &srv_authz_rules[k];
        bool clinical = strncmp(r->pattern, "/v1/interviews", 14) == 0 || strncmp(r->pattern, "/v1/reports", 11) == 0 ||
                        strncmp(r->pattern, "/v1/patients", 12) == 0;
        if (!clinical) continue;
        CHECK_MSG(r->audited, "%s %s not audited", r->method, r->pattern);
        CHECK_MSG(r->admin == SRV_ACCESS_DENY, "admin reaches %s %s", r->method, r->pattern);
        CHECK_MSG(r->anonymous == SRV_ACCESS_DENY, "anonymous reaches %s %s", r->method, r->pattern);
    }
}

static void test_record_level(void) {
    const srv_authz_rule *get = srv_authz_rule_find("GET", "/v1/reports/{id}");
    srv_subject mine = {.patient_id = 7, .clinician_id = 20, .claimable = false};
    /* OWN */
    CHECK_EQ_INT(srv_authz_record(get, true, MD_ROLE_PATIENT, 7, &mine), MD_OK);
    CHECK_EQ_INT(srv_authz_record(get, true, MD_ROLE_PATIENT, 8, &mine), MD_ERR_FORBIDDEN);
    CHECK_EQ_INT(srv_authz_record(get, true, MD_ROLE_PATIENT, 0, &(srv_subject){.patient_id = 0}), MD_ERR_FORBIDDEN);
    /* CARE: assigned clinician yes, another no */
    CHECK_EQ_INT(srv_authz_record(get, true, MD_ROLE_CLINICIAN, 20, &mine), MD_OK);
    CHECK_EQ_INT(srv_authz_record(get, true, MD_ROLE_CLINICIAN, 21, &mine), MD_ERR_FORBIDDEN);
    /* an unassigned patient: only with a report awaiting review */
    srv_subject open = {.patient_id = 9, .clinician_id = 0, .claimable = true};
    srv_subject closed = {.patient_id = 9, .clinician_id = 0, .claimable = false};
    CHECK_EQ_INT(srv_authz_record(get, true, MD_ROLE_CLINICIAN, 21, &open), MD_OK);
    CHECK_EQ_INT(srv_authz_record(get, true, MD_ROLE_CLINICIAN, 21, &closed), MD_ERR_FORBIDDEN);
    /* claimable does not help a patient or an admin */
    CHECK_EQ_INT(srv_authz_record(get, true, MD_ROLE_PATIENT, 8, &open), MD_ERR_FORBIDDEN);
    CHECK_EQ_INT(srv_authz_record(get, true, MD_ROLE_ADMIN, 1, &open), MD_ERR_FORBIDDEN);
    CHECK_EQ_INT(srv_authz_record(get, false, MD_ROLE_PATIENT, 0, &open), MD_ERR_UNAUTHORIZED);
    /* lists: no subject, the handler filters */
    const srv_authz_rule *list = srv_authz_rule_find("GET", "/v1/reports");
    CHECK_EQ_INT(srv_authz_record(list, true, MD_ROLE_PATIENT, 7, NULL), MD_OK);
    CHECK_EQ_INT(srv_authz_record(list, true, MD_ROLE_ADMIN, 1, NULL), MD_ERR_FORBIDDEN);
    /* patients cannot message into a clinician-visible interview that is not theirs */
    const srv_authz_rule *msg = srv_authz_rule_find("POST", "/v1/interviews/{id}/messages");
    CHECK_EQ_INT(srv_authz_record(msg, true, MD_ROLE_CLINICIAN, 20, &mine), MD_ERR_FORBIDDEN);
    CHECK_EQ_INT(srv_authz_record(msg, true, MD_ROLE_PATIENT, 7, &mine), MD_OK);
}

int main(void) {
    test_table_covers_routes();
    test_route_level();
    test_record_level();
    return check_report("test_server_authz");
}
