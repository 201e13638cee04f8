/* FHIR R4 export of an assessment (https://hl7.org/fhir/R4/), for systems that take
 * structured data rather than medify's own JSON.
 *
 * One Bundle of type "collection" holding:
 *   Patient           age (as an extension-free birthDate is unknown: only gender is
 *                     set; the age goes into the triage Observation's components)
 *   Observation ×n    one per finding the patient confirmed or denied (valueBoolean
 *                     true/false), code = medify observation id + display name,
 *                     with the patient's words as the note when they came from text
 *   Flag ×n           one per red flag fired (category "clinical", status "active")
 *   RiskAssessment    the differential: one prediction per likely condition with
 *                     probabilityDecimal and the ICD-10-CM code(s)
 *   Observation       the triage level (valueCodeableConcept, medify's code system)
 *                     with the reasons in the note
 * All resources are "preliminary" / "unconfirmed": a clinician reviews them. Ids are
 * local to the bundle (fullUrl urn:uuid-less "urn:medify:<n>" references).
 */
#include <stdio.h>
#include <string.h>

#include "clinical/internal.h"

#define FHIR_OBS_SYSTEM "urn:medify:observation"
#define FHIR_TRIAGE_SYSTEM "urn:medify:triage"
#define FHIR_REDFLAG_SYSTEM "urn:medify:red-flag"
#define FHIR_ICD10CM "http://hl7.org/fhir/sid/icd-10-cm"
#define FHIR_MAX_CONDITIONS 10

static void js(md_buf *b, const char *s) { md_buf_append_json_str(b, s, strlen(s)); }

static void entry_begin(md_buf *b, bool *first, const char *type, unsigned n) {
    md_buf_append_str(b, *first ? "" : ",");
    *first = false;
    md_buf_appendf(b, "{\"fullUrl\":\"urn:medify:%u\",\"resource\":{\"resourceType\":\"%s\",\"id\":\"%u\"", n, type, n);
}

static void entry_end(md_buf *b) { md_buf_append_str(b, "}}"); }

static void coding(md_buf *b, const char *system, const char *code, const char *display) {
    md_buf_append_str(b, "{\"system\":");
    js(b, system);
    md_buf_append_str(b, ",\"code\":");
    js(b, code);
    md_buf_append_str(b, ",\"display\":");
    js(b, display);
    md_buf_append_char(b, '}');
}

md_status md_assessment_to_fhir(const md_case *c, const md_assessment *a, md_buf *b) {
    const md_kb *kb = c->kb;
    unsigned n = 1;
    bool first = true;
    md_buf_append_str(b, "{\"resourceType\":\"Bundle\",\"type\":\"collection\",\"entry\":[");

    const unsigned patient = n++;
    entry_begin(b, &first, "Patient", patient);
    if (a->patient.sex != MD_SEX_UNKNOWN) {
        md_buf_append_str(b, ",\"gender\":");
        js(b, md_sex_name(a->patient.sex));
    }
    entry_end(b);

    for (size_t o = 0; o < kb->n_obs; o++) {
        const md_case_entry *e = &c->entries[o];
        if (e->status == MD_OBS_STATUS_UNKNOWN || e->context != MD_OBS_CONTEXT_CURRENT) continue;
        entry_begin(b, &first, "Observation", n++);
        md_buf_append_str(b, ",\"status\":\"preliminary\",\"code\":{\"coding\":[");
        coding(b, FHIR_OBS_SYSTEM, kb->obs[o].id, kb->obs[o].name);
        md_buf_append_str(b, "],\"text\":");
        js(b, kb->obs[o].name);
        md_buf_appendf(b, "},\"subject\":{\"reference\":\"urn:medify:%u\"},\"valueBoolean\":%s", patient,
                       e->status == MD_OBS_STATUS_PRESENT ? "true" : "false");
        const char *turn = md_case_turn_text(c, e->turn);
        if (e->from_text && turn && e->span_end <= strlen(turn) && e->span_begin < e->span_end) {
            md_buf_append_str(b, ",\"note\":[{\"text\":");
            md_buf_append_json_str(b, turn + e->span_begin, e->span_end - e->span_begin);
            md_buf_append_str(b, "}]");
        }
        entry_end(b);
    }

    for (size_t i = 0; i < a->n_redflags; i++) {
        const md_kb_redflag *rf = &kb->redflags[a->redflags[i].redflag];
        entry_begin(b, &first, "Flag", n++);
        md_buf_append_str(b, ",\"status\":\"active\",\"category\":[{\"coding\":[{\"system\":"
                             "\"http://terminology.hl7.org/CodeSystem/flag-category\",\"code\":\"clinical\"}]}],"
                             "\"code\":{\"coding\":[");
        coding(b, FHIR_REDFLAG_SYSTEM, rf->id, rf->name);
        md_buf_append_str(b, "],\"text\":");
        js(b, rf->guidance);
        md_buf_appendf(b, "},\"subject\":{\"reference\":\"urn:medify:%u\"}", patient);
        entry_end(b);
    }

    entry_begin(b, &first, "RiskAssessment", n++);
    md_buf_appendf(b, ",\"status\":\"preliminary\",\"subject\":{\"reference\":\"urn:medify:%u\"},\"method\":{\"text\":"
                      "\"medify differential (naive Bayes over the knowledge base)\"},\"prediction\":[",
                   patient);
    for (size_t i = 0; i < a->n_conditions && i < FHIR_MAX_CONDITIONS; i++) {
        const md_kb_condition *cond = &kb->cond[a->conditions[i].condition];
        md_buf_append_str(b, i ? ",{\"outcome\":{\"coding\":[" : "{\"outcome\":{\"coding\":[");
        for (size_t k = 0; k < cond->n_icd10; k++) {
            if (k) md_buf_append_char(b, ',');
            coding(b, FHIR_ICD10CM, cond->icd10[k], cond->name);
        }
        md_buf_append_str(b, "],\"text\":");
        js(b, cond->name);
        md_buf_appendf(b, "},\"probabilityDecimal\":%.4f}", a->conditions[i].probability);
    }
    md_buf_append_str(b, "],\"note\":[{\"text\":");
    js(b, MD_CLINICAL_NOTICE);
    md_buf_append_str(b, "}]");
    entry_end(b);

    entry_begin(b, &first, "Observation", n++);
    md_buf_append_str(b, ",\"status\":\"preliminary\",\"code\":{\"text\":\"Triage level\"},\"valueCodeableConcept\":{"
                         "\"coding\":[");
    coding(b, FHIR_TRIAGE_SYSTEM, md_triage_level_name(a->level), md_triage_level_advice(a->level));
    md_buf_appendf(b, "]},\"subject\":{\"reference\":\"urn:medify:%u\"}", patient);
    if (a->patient.age_years >= 0)
        md_buf_appendf(b, ",\"component\":[{\"code\":{\"text\":\"Age\"},\"valueQuantity\":{\"value\":%.2f,"
                          "\"unit\":\"a\",\"system\":\"http://unitsofmeasure.org\",\"code\":\"a\"}}]",
                       a->patient.age_years);
    md_buf_append_str(b, ",\"note\":[");
    for (size_t i = 0; i < a->n_reasons && i < 8; i++) {
        md_buf_append_str(b, i ? ",{\"text\":" : "{\"text\":");
        js(b, a->reasons[i]);
        md_buf_append_char(b, '}');
    }
    md_buf_append_str(b, "]");
    entry_end(b);

    md_buf_append_str(b, "]}");
    return md_buf_ok(b) ? MD_OK : MD_ERR_NOMEM;
}
