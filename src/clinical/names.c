/* Names of the clinical enums, as they appear in JSON, the CLI and the KB files. */
#include <string.h>

#include "medify/clinical.h"

static const char *const k_triage_names[MD_TRIAGE_COUNT] = {
    [MD_TRIAGE_SELF_CARE] = "self_care",
    [MD_TRIAGE_CONSULTATION] = "consultation",
    [MD_TRIAGE_CONSULTATION_24] = "consultation_24",
    [MD_TRIAGE_EMERGENCY] = "emergency",
    [MD_TRIAGE_EMERGENCY_AMBULANCE] = "emergency_ambulance",
};

static const char *const k_triage_advice[MD_TRIAGE_COUNT] = {
    [MD_TRIAGE_SELF_CARE] = "This can usually be managed at home; a pharmacist can help. Seek advice if it gets worse or does not improve.",
    [MD_TRIAGE_CONSULTATION] = "Book an appointment with your GP or doctor in the coming days.",
    [MD_TRIAGE_CONSULTATION_24] = "See a doctor or urgent care service within 24 hours.",
    [MD_TRIAGE_EMERGENCY] = "Go to the emergency department now.",
    [MD_TRIAGE_EMERGENCY_AMBULANCE] = "Call an ambulance now: 999 (UK), 112 (EU) or 911 (US).",
};

_Static_assert(sizeof k_triage_names / sizeof k_triage_names[0] == MD_TRIAGE_COUNT, "triage name table");

const char *md_triage_level_name(md_triage_level level) {
    return (unsigned)level < MD_TRIAGE_COUNT ? k_triage_names[level] : "unknown";
}

const char *md_triage_level_advice(md_triage_level level) {
    return (unsigned)level < MD_TRIAGE_COUNT ? k_triage_advice[level] : "";
}

bool md_triage_level_parse(const char *name, md_triage_level *out) {
    for (int i = 0; i < MD_TRIAGE_COUNT; i++)
        if (strcmp(name, k_triage_names[i]) == 0) {
            *out = (md_triage_level)i;
            return true;
        }
    return false;
}

const char *md_obs_status_name(md_obs_status s) {
    switch (s) {
    case MD_OBS_STATUS_PRESENT: return "present";
    case MD_OBS_STATUS_ABSENT: return "absent";
    default: return "unknown";
    }
}

bool md_obs_status_parse(const char *name, md_obs_status *out) {
    static const char *const names[] = {"unknown", "present", "absent"};
    for (int i = 0; i < 3; i++)
        if (strcmp(name, names[i]) == 0) {
            *out = (md_obs_status)i;
            return true;
        }
    return false;
}

const char *md_obs_context_name(md_obs_context c) {
    switch (c) {
    case MD_OBS_CONTEXT_HYPOTHETICAL: return "hypothetical";
    case MD_OBS_CONTEXT_HISTORICAL: return "historical";
    case MD_OBS_CONTEXT_FAMILY: return "family";
    default: return "current";
    }
}

const char *md_severity_name(md_severity s) {
    static const char *const names[] = {"mild", "moderate", "severe", "critical"};
    return (unsigned)s < 4 ? names[s] : "unknown";
}

const char *md_sex_name(md_sex s) {
    return s == MD_SEX_FEMALE ? "female" : s == MD_SEX_MALE ? "male" : NULL;
}

bool md_sex_parse(const char *name, md_sex *out) {
    if (strcmp(name, "female") == 0) *out = MD_SEX_FEMALE;
    else if (strcmp(name, "male") == 0) *out = MD_SEX_MALE;
    else if (strcmp(name, "unknown") == 0) *out = MD_SEX_UNKNOWN;
    else return false;
    return true;
}

md_age_band md_age_band_of(double age_years) {
    if (age_years < 1) return MD_AGE_BAND_INFANT;
    if (age_years < 13) return MD_AGE_BAND_CHILD;
    if (age_years < 18) return MD_AGE_BAND_ADOLESCENT;
    if (age_years < 65) return MD_AGE_BAND_ADULT;
    return MD_AGE_BAND_OLDER;
}

const char *md_question_type_name(md_question_type t) {
    switch (t) {
    case MD_QUESTION_TYPE_CHOICE: return "choice";
    case MD_QUESTION_TYPE_NUMBER: return "number";
    default: return "yesno";
    }
}

void md_attrs_init(md_attrs *a) {
    a->onset = MD_ONSET_UNKNOWN;
    a->severity = -1;
    a->duration_hours = -1;
    a->laterality = MD_LATERALITY_NONE;
    a->frequency = MD_FREQUENCY_UNKNOWN;
    a->temperature_c = -1;
}
