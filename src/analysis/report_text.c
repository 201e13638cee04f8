/* The deterministic generator: each report section written as prose from the
 * structured data (summary JSON, assessment, explanations, retrieved cases, KB next
 * steps). Text is "Markdown-light": paragraphs, "- " bullets, **bold** names, so the
 * same text renders in the web UI, in Markdown and (with the markers stripped) in the
 * PDF. Nothing here invents a fact: every clause comes from a field, and a field
 * that is empty produces no clause.
 */
#include <ctype.h>
#include <jansson.h>
#include <math.h>
#include <string.h>

#include "analysis/internal.h"

static const char *const k_triage_labels[MD_TRIAGE_COUNT] = {
    [MD_TRIAGE_SELF_CARE] = "Self-care",
    [MD_TRIAGE_CONSULTATION] = "See a doctor (routine appointment)",
    [MD_TRIAGE_CONSULTATION_24] = "See a doctor within 24 hours",
    [MD_TRIAGE_EMERGENCY] = "Emergency department now",
    [MD_TRIAGE_EMERGENCY_AMBULANCE] = "Call an ambulance now",
};

const char *analysis_triage_label(md_triage_level level) {
    return (unsigned)level < MD_TRIAGE_COUNT ? k_triage_labels[level] : "";
}

/* ---- small text functions ---------------------------------------------------------- */

/* Marks the section's buffer failed: a callee ran out of memory, so the text would be
 * incomplete; the caller sees md_buf_ok false and reports MD_ERR_NOMEM. */
static void fail(md_buf *b) { b->failed = true; }

static void lower_first(md_buf *b, const char *s) {
    if (!s || !*s) return;
    /* keep acronyms ("ECG", "HIV") as they are */
    if (isupper((unsigned char)s[0]) && !(s[1] && isupper((unsigned char)s[1])))
        md_buf_append_char(b, (char)tolower((unsigned char)s[0]));
    else md_buf_append_char(b, s[0]);
    md_buf_append_str(b, s + 1);
}

static void upper_first_into(md_buf *b, const char *s) {
    if (!s || !*s) return;
    md_buf_append_char(b, (char)toupper((unsigned char)s[0]));
    md_buf_append_str(b, s + 1);
}

/* "a, b and c" from a JSON array of strings (lower-cased first letters). */
static size_t join_json_list(md_buf *b, json_t *arr) {
    size_t n = json_is_array(arr) ? json_array_size(arr) : 0, k = 0;
    for (size_t i = 0; i < n; i++) {
        const char *s = json_string_value(json_array_get(arr, i));
        if (!s || !*s) continue;
        if (k) md_buf_append_str(b, i + 1 == n ? " and " : ", ");
        lower_first(b, s);
        k++;
    }
    return k;
}

static void duration_phrase(md_buf *b, double hours) {
    if (hours < 1) md_buf_appendf(b, "%.0f minutes", hours * 60 < 1 ? 1 : hours * 60);
    else if (hours < 48) md_buf_appendf(b, "%.0f hour%s", hours, hours >= 1.5 ? "s" : "");
    else if (hours < 24 * 14) md_buf_appendf(b, "%.0f days", hours / 24);
    else if (hours < 24 * 60) md_buf_appendf(b, "%.0f weeks", hours / (24 * 7));
    else md_buf_appendf(b, "%.0f months", hours / (24 * 30.4));
}

const char *analysis_patient_phrase(md_arena *a, md_patient p) {
    const char *noun;
    bool child = p.age_years >= 0 && p.age_years < 18;
    if (p.sex == MD_SEX_FEMALE) noun = child ? "girl" : "woman";
    else if (p.sex == MD_SEX_MALE) noun = child ? "boy" : "man";
    else noun = child ? "child" : "patient";
    if (p.age_years < 0) return md_arena_sprintf(a, "%s %s", p.sex == MD_SEX_UNKNOWN ? "the" : "a", noun);
    if (p.age_years < 1) {
        int months = (int)floor(p.age_years * 12 + 0.5);
        if (months < 1) return md_arena_sprintf(a, "a newborn %s", p.sex == MD_SEX_UNKNOWN ? "baby" : noun);
        return md_arena_sprintf(a, "a %d-month-old %s", months, p.sex == MD_SEX_UNKNOWN ? "baby" : noun);
    }
    int years = (int)floor(p.age_years);
    return md_arena_sprintf(a, "%s %d-year-old %s", (years == 8 || years == 11 || years == 18 || (years >= 80 && years < 90)) ? "an" : "a", years, noun);
}

static bool word_char(char ch) { return isalnum((unsigned char)ch) != 0; }

/* Whole-phrase, case-insensitive occurrence of needle in an already lower-cased text. */
static bool contains_phrase(const char *lower_text, const char *needle) {
    size_t n = strlen(needle);
    if (n == 0 || n > 200) return false;
    char low[256];
    for (size_t i = 0; i < n; i++) low[i] = (char)tolower((unsigned char)needle[i]);
    low[n] = '\0';
    for (const char *p = strstr(lower_text, low); p; p = strstr(p + 1, low)) {
        bool left = p == lower_text || !word_char(p[-1]);
        bool right = !word_char(p[n]);
        if (left && right) return true;
    }
    return false;
}

bool analysis_text_mentions_obs(const md_kb *kb, uint32_t o, const char *lower_text) {
    const md_kb_observation *ob = md_kb_observation_at(kb, o);
    if (!ob) return false;
    if (contains_phrase(lower_text, ob->name)) return true;
    for (size_t i = 0; i < ob->n_synonyms; i++)
        if (strlen(ob->synonyms[i]) >= 4 && contains_phrase(lower_text, ob->synonyms[i])) return true;
    return false;
}

const char *analysis_shared_findings(const md_kb *kb, const md_case *c, const char *text, md_arena *a) {
    char *low = md_strdup(text ? text : "");
    if (!low) return NULL;
    for (char *p = low; *p; p++) *p = (char)tolower((unsigned char)*p);
    md_buf b;
    md_buf_init(&b);
    size_t n_obs = md_kb_n_observations(kb);
    for (uint32_t o = 0; o < n_obs; o++) {
        const md_case_entry *e = md_case_entry_at(c, o);
        if (!e || e->status != MD_OBS_STATUS_PRESENT || e->context != MD_OBS_CONTEXT_CURRENT) continue;
        if (!analysis_text_mentions_obs(kb, o, low)) continue;
        if (b.len) md_buf_append_str(&b, ", ");
        lower_first(&b, md_kb_observation_at(kb, o)->name);
    }
    const char *out = md_buf_ok(&b) ? md_arena_strdup(a, b.data ? b.data : "") : NULL;
    md_buf_free(&b);
    md_free(low);
    return out;
}

static const char *citation_of(md_arena *a, const md_report_case *rc) {
    if (rc->pmid && *rc->pmid) return md_arena_sprintf(a, "[PMID %s]", rc->pmid);
    if (rc->patient_uid && *rc->patient_uid) return md_arena_sprintf(a, "[patient %s]", rc->patient_uid);
    return md_arena_sprintf(a, "[case %lld]", (long long)rc->case_id);
}

/* ---- current_case ----------------------------------------------------------------- */

static void section_current_case(const md_report_input *in, const md_report *r, md_buf *b, md_arena *tmp) {
    md_patient pt = md_case_patient(in->c);
    json_t *sum = r->summary_json ? json_loads(r->summary_json, 0, NULL) : NULL;
    if (r->summary_json && !sum) { /* it was written by md_summary_to_json: only memory fails */
        fail(b);
        return;
    }
    json_t *chief = json_object_get(sum, "chief_complaint");
    json_t *hpi = json_object_get(sum, "history_of_present_illness");
    json_t *ctx = json_object_get(sum, "context");
    const char *who = analysis_patient_phrase(tmp, pt);
    if (!who) {
        fail(b);
        json_decref(sum);
        return;
    }
    const char *chief_name = json_string_value(json_object_get(chief, "name"));
    if (!chief_name) {
        upper_first_into(b, who);
        md_buf_append_str(b, " described no symptom that medify recognised.");
        json_decref(sum);
        return;
    }
    upper_first_into(b, who);
    md_buf_append_str(b, " presents with ");
    lower_first(b, chief_name);
    /* onset, duration, severity, pattern, laterality in one parenthesis */
    md_buf details;
    md_buf_init(&details);
    const char *onset = json_string_value(json_object_get(hpi, "onset"));
    if (onset) md_buf_appendf(&details, "%s onset", onset);
    json_t *dur = json_object_get(hpi, "duration_hours");
    if (json_is_number(dur)) {
        if (details.len) md_buf_append_str(&details, ", ");
        md_buf_append_str(&details, "for ");
        duration_phrase(&details, json_number_value(dur));
    }
    json_t *sev = json_object_get(hpi, "severity");
    if (json_is_number(sev)) {
        if (details.len) md_buf_append_str(&details, ", ");
        md_buf_appendf(&details, "severity %.0f/10", json_number_value(sev));
    }
    const char *pattern = json_string_value(json_object_get(hpi, "pattern"));
    if (pattern) {
        if (details.len) md_buf_append_str(&details, ", ");
        md_buf_append_str(&details, pattern);
    }
    const char *lat = json_string_value(json_object_get(hpi, "laterality"));
    if (lat) {
        if (details.len) md_buf_append_str(&details, ", ");
        md_buf_appendf(&details, "%s side", lat);
    }
    if (!md_buf_ok(&details)) fail(b);
    else if (details.len && details.data) md_buf_appendf(b, " (%s)", details.data);
    md_buf_free(&details);
    md_buf_append_str(b, ".");

    static const struct {
        const char *obj, *key, *lead;
    } k_lists[] = {
        {"hpi", "character_and_location", "Character and location: "},
        {"hpi", "associated_symptoms", "Associated symptoms: "},
        {"hpi", "aggravating_factors", "Made worse by: "},
        {"hpi", "relieving_factors", "Eased by: "},
        {"", "pertinent_negatives", "Pertinent negatives (reported absent): "},
        {"ctx", "risk_factors", "Risk factors: "},
        {"ctx", "past_history", "Past history: "},
        {"ctx", "family_history", "Family history: "},
        {"ctx", "medicines_tried", "Medicines tried: "},
        {"ctx", "impact", "Impact on daily life: "},
    };
    for (size_t i = 0; i < sizeof k_lists / sizeof k_lists[0]; i++) {
        json_t *parent = k_lists[i].obj[0] == 'h' ? hpi : k_lists[i].obj[0] == 'c' ? ctx : sum;
        json_t *arr = json_object_get(parent, k_lists[i].key);
        if (!json_is_array(arr) || json_array_size(arr) == 0) continue;
        md_buf_append_str(b, "\n- ");
        md_buf_append_str(b, k_lists[i].lead);
        join_json_list(b, arr);
        md_buf_append_char(b, '.');
    }
    json_t *prev = json_object_get(ctx, "previous_episodes");
    if (json_is_true(prev)) md_buf_append_str(b, "\n- Similar episodes have happened before.");
    else if (json_is_false(prev)) md_buf_append_str(b, "\n- This is the first such episode.");
    json_decref(sum);
}

/* ---- triage_red_flags ---------------------------------------------------------------- */

static void section_triage(const md_report_input *in, const md_report *r, md_buf *b) {
    md_buf_appendf(b, "**Triage: %s** (%s). %s", analysis_triage_label(r->triage), md_triage_level_name(r->triage),
                   md_triage_level_advice(r->triage));
    if (in->a->n_reasons) {
        md_buf_append_str(b, "\n\nWhy:");
        for (size_t i = 0; i < in->a->n_reasons && i < 6; i++) md_buf_appendf(b, "\n- %s", in->a->reasons[i]);
    }
    if (r->n_red_flags == 0) {
        md_buf_append_str(b, "\n\nNo red flag was found in what the patient reported.");
        return;
    }
    md_buf_appendf(b, "\n\n%s red flag%s found:", r->n_red_flags == 1 ? "One" : "These", r->n_red_flags == 1 ? " was" : "s were");
    for (size_t i = 0; i < r->n_red_flags; i++)
        md_buf_appendf(b, "\n- **%s** (%s): %s", r->red_flags[i].name, md_triage_level_name(r->red_flags[i].level),
                       r->red_flags[i].guidance);
}

/* ---- differential -------------------------------------------------------------------- */

static void explain_items(md_buf *b, const md_kb *kb, const md_explain_item *items, size_t n, size_t max) {
    for (size_t i = 0; i < n && i < max; i++) {
        const md_kb_observation *ob = md_kb_observation_at(kb, items[i].obs);
        if (i) md_buf_append_str(b, ", ");
        if (items[i].status == MD_OBS_STATUS_ABSENT) md_buf_append_str(b, "no ");
        lower_first(b, ob->name);
        md_buf_appendf(b, " (LR %.2g)", items[i].likelihood_ratio);
    }
}

static void section_differential(const md_report_input *in, md_buf *b) {
    if (in->n_expl == 0) {
        md_buf_append_str(b, "The reported findings do not point to any condition in the knowledge base.");
        return;
    }
    md_buf_append_str(b, "Conditions ranked by the knowledge base's probabilistic model over the reported "
                         "findings (LR: likelihood ratio of each finding; above 1 supports, below 1 argues "
                         "against):");
    for (size_t i = 0; i < in->n_expl; i++) {
        const md_explanation *e = &in->expl[i];
        const md_kb_condition *cond = md_kb_condition_at(in->kb, e->condition);
        md_buf_appendf(b, "\n- **%s**", cond->name);
        if (cond->n_icd10) md_buf_appendf(b, " (ICD-10 %s)", cond->icd10[0]);
        md_buf_appendf(b, ": %.0f%% (before the findings: %.1f%%).", e->probability * 100, e->prior * 100);
        if (e->n_supporting) {
            md_buf_append_str(b, " For: ");
            explain_items(b, in->kb, e->supporting, e->n_supporting, 5);
            md_buf_append_char(b, '.');
        }
        if (e->n_opposing) {
            md_buf_append_str(b, " Against: ");
            explain_items(b, in->kb, e->opposing, e->n_opposing, 4);
            md_buf_append_char(b, '.');
        }
        if (e->n_unasked) {
            md_buf_append_str(b, " Not yet known: ");
            for (size_t k = 0; k < e->n_unasked && k < 3; k++) {
                if (k) md_buf_append_str(b, ", ");
                lower_first(b, md_kb_observation_at(in->kb, e->unasked[k])->name);
            }
            md_buf_append_char(b, '.');
        }
    }
}

/* ---- similar_cases ----------------------------------------------------------------- */

static void filter_phrase(md_buf *b, const md_search_filter *f) {
    size_t start = b->len;
    if (f->sex != MD_SEX_UNKNOWN) md_buf_appendf(b, "%s only", md_sex_name(f->sex));
    if (f->age_min_years >= 0 || f->age_max_years >= 0) {
        if (b->len > start) md_buf_append_str(b, ", ");
        if (f->age_min_years <= 0 && f->age_max_years >= 0 && f->age_max_years < 18) md_buf_append_str(b, "children under 18");
        else if (f->age_max_years >= 0) md_buf_appendf(b, "aged %.0f to %.0f", f->age_min_years, f->age_max_years);
        else md_buf_appendf(b, "aged %.0f or over", f->age_min_years);
    }
    if (b->len == start) md_buf_append_str(b, "no demographic filter");
}

static void section_similar(const md_report_input *in, const md_report *r, md_buf *b, md_arena *tmp) {
    if (!in->have_index) {
        md_buf_append_str(b, "No case index is available in this installation, so no similar cases were searched.");
        return;
    }
    if (!r->query) {
        md_buf_append_str(b, "The patient reported no symptom to search similar cases with.");
        return;
    }
    if (r->n_similar_cases == 0) {
        md_buf_appendf(b, "No sufficiently similar case was found among %zu indexed cases (", in->n_indexed);
        filter_phrase(b, in->filter);
        md_buf_append_str(b, ").");
        return;
    }
    md_buf_appendf(b, "The %zu most similar of %zu indexed historical cases (", r->n_similar_cases, in->n_indexed);
    filter_phrase(b, in->filter);
    md_buf_appendf(b, "), ranked by %s. Findings in common are those of this patient that the case text also "
                      "mentions.",
                   in->dense ? "BM25 and dense vectors (reciprocal-rank fusion)" : "BM25");
    for (size_t i = 0; i < r->n_similar_cases; i++) {
        const md_report_case *rc = &r->similar_cases[i];
        const char *cite = citation_of(tmp, rc);
        if (!cite) {
            fail(b);
            return;
        }
        md_buf_appendf(b, "\n- %s", cite);
        if (rc->pmid && *rc->pmid && rc->patient_uid && *rc->patient_uid) md_buf_appendf(b, " patient %s", rc->patient_uid);
        if (rc->title && *rc->title) md_buf_appendf(b, ", \"%s\"", rc->title);
        if (rc->age_years >= 0 || rc->sex != MD_SEX_UNKNOWN) {
            md_buf_append_str(b, " (");
            if (rc->age_years >= 0) md_buf_appendf(b, "%.0f years", rc->age_years);
            if (rc->sex != MD_SEX_UNKNOWN) md_buf_appendf(b, "%s%s", rc->age_years >= 0 ? ", " : "", md_sex_name(rc->sex));
            md_buf_append_char(b, ')');
        }
        md_buf_appendf(b, ", score %.4f.", rc->score);
        if (rc->shared_findings && *rc->shared_findings) md_buf_appendf(b, " In common: %s.", rc->shared_findings);
        md_buf_appendf(b, " Summary: %s", rc->snippet ? rc->snippet : "");
    }
}

/* ---- next_steps ------------------------------------------------------------------------ */

#define NEXT_STEPS_PER_CONDITION 4
#define GUIDELINES_PER_CONDITION 2

static bool seen_before(const char *const *list, size_t n, const char *s) {
    for (size_t i = 0; i < n; i++)
        if (strcmp(list[i], s) == 0) return true;
    return false;
}

/* Urgency from the triage; then per shown condition the KB's next steps (the first few,
 * each said once across conditions) and its guidelines; then what is still unknown. */
static void section_next_steps(const md_report_input *in, const md_report *r, md_buf *b) {
    md_buf_appendf(b, "- **Urgency:** %s", md_triage_level_advice(r->triage));
    if (r->n_red_flags) md_buf_append_str(b, " (see the red-flag guidance above)");
    const char *shown[64];
    size_t n_shown = 0;
    for (size_t i = 0; i < in->n_expl; i++) {
        const md_kb_condition *cond = md_kb_condition_at(in->kb, in->expl[i].condition);
        size_t k_out = 0;
        for (size_t k = 0; k < cond->n_next_steps && k_out < NEXT_STEPS_PER_CONDITION; k++) {
            if (seen_before(shown, n_shown, cond->next_steps[k])) continue;
            if (n_shown < sizeof shown / sizeof shown[0]) shown[n_shown++] = cond->next_steps[k];
            if (k_out++ == 0) md_buf_appendf(b, "\n- If **%s** is suspected: ", cond->name);
            else md_buf_append_str(b, "; ");
            lower_first(b, cond->next_steps[k]);
        }
        size_t g_out = 0;
        for (size_t k = 0; k < cond->n_guidelines && g_out < GUIDELINES_PER_CONDITION; k++) {
            if (k_out == 0 && g_out == 0) md_buf_appendf(b, "\n- If **%s** is suspected: see ", cond->name);
            else md_buf_append_str(b, g_out ? "; " : " (guidance: ");
            md_buf_append_str(b, cond->guidelines[k]);
            g_out++;
        }
        if (g_out && k_out) md_buf_append_char(b, ')');
        if (k_out || g_out) md_buf_append_char(b, '.');
    }
    if (in->n_expl && in->expl[0].n_unasked) {
        md_buf_append_str(b, "\n- Worth asking or examining: ");
        for (size_t k = 0; k < in->expl[0].n_unasked && k < 5; k++) {
            if (k) md_buf_append_str(b, ", ");
            lower_first(b, md_kb_observation_at(in->kb, in->expl[0].unasked[k])->name);
        }
        md_buf_append_char(b, '.');
    }
}

/* ---- dispatch ------------------------------------------------------------------------ */

void analysis_section_text(const md_report_input *in, const md_report *r, const char *key, md_buf *b) {
    md_arena tmp;
    md_arena_init(&tmp, 4096);
    if (strcmp(key, MD_REPORT_SECTION_CURRENT_CASE) == 0) section_current_case(in, r, b, &tmp);
    else if (strcmp(key, MD_REPORT_SECTION_TRIAGE) == 0) section_triage(in, r, b);
    else if (strcmp(key, MD_REPORT_SECTION_DIFFERENTIAL) == 0) section_differential(in, b);
    else if (strcmp(key, MD_REPORT_SECTION_SIMILAR_CASES) == 0) section_similar(in, r, b, &tmp);
    else if (strcmp(key, MD_REPORT_SECTION_NEXT_STEPS) == 0) section_next_steps(in, r, b);
    else if (strcmp(key, MD_REPORT_SECTION_SAFETY_NOTICE) == 0)
        md_buf_appendf(b, "%s This report was prepared automatically from the patient's own answers to support a "
                          "clinician's review; a clinician must check and sign it before anyone acts on it.",
                       MD_CLINICAL_NOTICE);
    md_arena_free(&tmp);
}
