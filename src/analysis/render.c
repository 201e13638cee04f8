/* Report rendering to JSON and Markdown, and reading the JSON back (a stored report,
 * possibly with sections a clinician edited, is rendered again as Markdown or PDF). */
#include <jansson.h>
#include <string.h>

#include "analysis/internal.h"

static void js(md_buf *b, const char *s) {
    if (!s) md_buf_append_str(b, "null");
    else md_buf_append_json_str(b, s, strlen(s));
}

/* JSON number: finite values only (NaN/inf become 0, which JSON cannot carry). */
static void jnum(md_buf *b, double v) {
    if (!(v == v) || v > 1e300 || v < -1e300) v = 0;
    md_buf_appendf(b, "%.6g", v);
}

md_status md_report_to_json(const md_report *r, md_buf *b) {
    if (!r || !b) return MD_ERR_INVALID_ARG;
    md_buf_append_str(b, "{\"generator\":");
    js(b, r->generator ? r->generator : "deterministic");
    md_buf_append_str(b, ",\"sections\":[");
    for (size_t i = 0; i < r->n_sections; i++) {
        md_buf_append_str(b, i ? ",{\"key\":" : "{\"key\":");
        js(b, r->sections[i].key);
        md_buf_append_str(b, ",\"title\":");
        js(b, r->sections[i].title);
        md_buf_append_str(b, ",\"text\":");
        js(b, r->sections[i].text ? r->sections[i].text : "");
        md_buf_append_char(b, '}');
    }
    md_buf_append_str(b, "],\"similar_cases\":[");
    for (size_t i = 0; i < r->n_similar_cases; i++) {
        const md_report_case *c = &r->similar_cases[i];
        md_buf_appendf(b, "%s{\"case_id\":%lld,\"pmid\":", i ? "," : "", (long long)c->case_id);
        js(b, c->pmid && *c->pmid ? c->pmid : NULL);
        md_buf_append_str(b, ",\"patient_uid\":");
        js(b, c->patient_uid && *c->patient_uid ? c->patient_uid : NULL);
        md_buf_append_str(b, ",\"title\":");
        js(b, c->title && *c->title ? c->title : NULL);
        md_buf_append_str(b, ",\"score\":");
        jnum(b, c->score);
        md_buf_append_str(b, ",\"bm25\":");
        jnum(b, c->bm25);
        md_buf_append_str(b, ",\"dense\":");
        if (c->has_dense) jnum(b, c->dense);
        else md_buf_append_str(b, "null");
        md_buf_append_str(b, ",\"age\":");
        if (c->age_years >= 0) jnum(b, c->age_years);
        else md_buf_append_str(b, "null");
        md_buf_append_str(b, ",\"sex\":");
        js(b, md_sex_name(c->sex));
        md_buf_append_str(b, ",\"shared_findings\":");
        js(b, c->shared_findings ? c->shared_findings : "");
        md_buf_append_str(b, ",\"snippet\":");
        js(b, c->snippet ? c->snippet : "");
        md_buf_append_char(b, '}');
    }
    md_buf_append_str(b, "],\"triage\":{\"level\":");
    js(b, md_triage_level_name(r->triage));
    md_buf_append_str(b, ",\"label\":");
    js(b, analysis_triage_label(r->triage));
    md_buf_append_str(b, ",\"advice\":");
    js(b, md_triage_level_advice(r->triage));
    md_buf_appendf(b, "},\"emergency\":%s,\"red_flags\":[", r->emergency ? "true" : "false");
    for (size_t i = 0; i < r->n_red_flags; i++) {
        md_buf_append_str(b, i ? ",{\"id\":" : "{\"id\":");
        js(b, r->red_flags[i].id);
        md_buf_append_str(b, ",\"name\":");
        js(b, r->red_flags[i].name);
        md_buf_append_str(b, ",\"guidance\":");
        js(b, r->red_flags[i].guidance);
        md_buf_append_str(b, ",\"level\":");
        js(b, md_triage_level_name(r->red_flags[i].level));
        md_buf_append_char(b, '}');
    }
    md_buf_append_str(b, "],\"summary\":");
    md_buf_append_str(b, r->summary_json && *r->summary_json ? r->summary_json : "null");
    md_buf_append_str(b, ",\"query\":");
    js(b, r->query);
    md_buf_appendf(b, ",\"usage\":{\"prompt_tokens\":%u,\"completion_tokens\":%u,\"latency_ms\":",
                   r->usage.prompt_tokens, r->usage.completion_tokens);
    jnum(b, r->usage.latency_ms);
    md_buf_append_str(b, ",\"cost\":");
    jnum(b, r->usage.cost);
    md_buf_append_str(b, "},\"notes\":[");
    for (size_t i = 0; i < r->n_notes; i++) {
        md_buf_append_str(b, i ? ",{\"kind\":\"generator\",\"text\":" : "{\"kind\":\"generator\",\"text\":");
        js(b, r->notes[i]);
        md_buf_append_char(b, '}');
    }
    md_buf_append_str(b, "],\"notice\":");
    js(b, r->notice ? r->notice : MD_CLINICAL_NOTICE);
    md_buf_append_str(b, ",\"created_at\":");
    js(b, r->created_at);
    md_buf_append_char(b, '}');
    return md_buf_ok(b) ? MD_OK : MD_ERR_NOMEM;
}

/* ---- from JSON ------------------------------------------------------------------------ */

static const char *str_field(md_arena *a, json_t *obj, const char *key, bool *bad) {
    json_t *v = json_object_get(obj, key);
    if (!v || json_is_null(v)) return md_arena_strdup(a, "");
    if (!json_is_string(v)) {
        *bad = true;
        return "";
    }
    return md_arena_strndup(a, json_string_value(v), json_string_length(v));
}

static double num_field(json_t *obj, const char *key, double dflt, bool *bad) {
    json_t *v = json_object_get(obj, key);
    if (!v || json_is_null(v)) return dflt;
    if (!json_is_number(v)) {
        *bad = true;
        return dflt;
    }
    return json_number_value(v);
}

/* A number field as an integer within [lo, hi]; anything else (a fraction, a value out
 * of range, a non-number) marks the input bad. */
static int64_t int_field(json_t *obj, const char *key, int64_t dflt, int64_t lo, int64_t hi, bool *bad) {
    json_t *v = json_object_get(obj, key);
    if (!v || json_is_null(v)) return dflt;
    double d = json_is_integer(v) ? (double)json_integer_value(v) : json_is_real(v) ? json_real_value(v) : -1e300;
    if (!(d >= (double)lo && d <= (double)hi) || d != (double)(int64_t)d) {
        *bad = true;
        return dflt;
    }
    return (int64_t)d;
}

md_status md_report_from_json(const char *json, size_t n_bytes, md_report *out, md_error *err) {
    if (!out) return md_error_set(err, MD_ERR_INVALID_ARG, "report: no output");
    md_report_init(out);
    if (!json) return md_error_set(err, MD_ERR_INVALID_ARG, "report: no JSON");
    json_error_t je;
    json_t *root = json_loadb(json, n_bytes, JSON_REJECT_DUPLICATES, &je);
    if (!root) return md_error_set(err, MD_ERR_PARSE, "report JSON: %s at line %d", je.text, je.line);
    md_arena *a = &out->arena;
    bool bad = false, oom = false;
    if (!json_is_object(root)) bad = true;
    const char *gen = bad ? "" : str_field(a, root, "generator", &bad);
    out->generator = gen && *gen ? gen : "deterministic";
    /* sections: every key known to the report; an unknown key is kept as is */
    json_t *secs = json_object_get(root, "sections");
    if (secs && !json_is_array(secs)) bad = true;
    size_t n = json_is_array(secs) ? json_array_size(secs) : 0;
    out->sections = md_arena_calloc(a, n + 1, sizeof *out->sections);
    if (!out->sections) oom = true;
    for (size_t i = 0; !bad && !oom && i < n; i++) {
        json_t *s = json_array_get(secs, i);
        if (!json_is_object(s)) {
            bad = true;
            break;
        }
        md_report_section *o = &out->sections[out->n_sections++];
        o->key = str_field(a, s, "key", &bad);
        o->title = str_field(a, s, "title", &bad);
        o->text = str_field(a, s, "text", &bad);
        if (!o->key || !o->title || !o->text) oom = true;
        else if (!*o->title && md_report_section_title(o->key)) o->title = md_report_section_title(o->key);
    }
    json_t *cases = json_object_get(root, "similar_cases");
    if (cases && !json_is_array(cases)) bad = true;
    n = json_is_array(cases) ? json_array_size(cases) : 0;
    out->similar_cases = md_arena_calloc(a, n + 1, sizeof *out->similar_cases);
    if (!out->similar_cases) oom = true;
    for (size_t i = 0; !bad && !oom && i < n; i++) {
        json_t *c = json_array_get(cases, i);
        if (!json_is_object(c)) {
            bad = true;
            break;
        }
        md_report_case *o = &out->similar_cases[out->n_similar_cases++];
        o->case_id = int_field(c, "case_id", 0, 0, INT64_C(1) << 53, &bad);
        o->pmid = str_field(a, c, "pmid", &bad);
        o->patient_uid = str_field(a, c, "patient_uid", &bad);
        o->title = str_field(a, c, "title", &bad);
        o->score = num_field(c, "score", 0, &bad);
        o->bm25 = num_field(c, "bm25", 0, &bad);
        json_t *dv = json_object_get(c, "dense");
        o->has_dense = json_is_number(dv);
        o->dense = num_field(c, "dense", 0, &bad);
        o->age_years = num_field(c, "age", -1, &bad);
        const char *sex = str_field(a, c, "sex", &bad);
        if (!sex || !md_sex_parse(sex, &o->sex)) o->sex = MD_SEX_UNKNOWN;
        o->shared_findings = str_field(a, c, "shared_findings", &bad);
        o->snippet = str_field(a, c, "snippet", &bad);
        if (!o->pmid || !o->patient_uid || !o->title || !o->shared_findings || !o->snippet) oom = true;
    }
    json_t *tri = json_object_get(root, "triage");
    const char *level = json_is_object(tri) ? json_string_value(json_object_get(tri, "level"))
                                            : json_string_value(tri);
    if (level && !md_triage_level_parse(level, &out->triage)) bad = true;
    json_t *em = json_object_get(root, "emergency");
    out->emergency = json_is_true(em) || (!em && out->triage >= MD_TRIAGE_EMERGENCY);
    json_t *rfs = json_object_get(root, "red_flags");
    if (rfs && !json_is_array(rfs)) bad = true;
    n = json_is_array(rfs) ? json_array_size(rfs) : 0;
    out->red_flags = md_arena_calloc(a, n + 1, sizeof *out->red_flags);
    if (!out->red_flags) oom = true;
    for (size_t i = 0; !bad && !oom && i < n; i++) {
        json_t *f = json_array_get(rfs, i);
        if (!json_is_object(f)) {
            bad = true;
            break;
        }
        md_report_redflag *o = &out->red_flags[out->n_red_flags++];
        o->id = str_field(a, f, "id", &bad);
        o->name = str_field(a, f, "name", &bad);
        o->guidance = str_field(a, f, "guidance", &bad);
        const char *lv = json_string_value(json_object_get(f, "level"));
        if (!lv || !md_triage_level_parse(lv, &o->level)) o->level = out->triage;
        if (!o->id || !o->name || !o->guidance) oom = true;
    }
    json_t *sum = json_object_get(root, "summary");
    if (json_is_object(sum)) {
        char *s = json_dumps(sum, JSON_COMPACT);
        if (s) out->summary_json = md_arena_strdup(a, s);
        free(s);
    }
    const char *q = str_field(a, root, "query", &bad);
    out->query = q && *q ? q : NULL;
    json_t *us = json_object_get(root, "usage");
    if (json_is_object(us)) {
        out->usage.prompt_tokens = (uint32_t)int_field(us, "prompt_tokens", 0, 0, UINT32_MAX, &bad);
        out->usage.completion_tokens = (uint32_t)int_field(us, "completion_tokens", 0, 0, UINT32_MAX, &bad);
        out->usage.latency_ms = num_field(us, "latency_ms", 0, &bad);
        out->usage.cost = num_field(us, "cost", 0, &bad);
    }
    json_t *notes = json_object_get(root, "notes");
    n = json_is_array(notes) ? json_array_size(notes) : 0;
    for (size_t i = 0; !bad && !oom && i < n; i++) {
        json_t *nt = json_array_get(notes, i);
        const char *t = json_is_string(nt) ? json_string_value(nt) : json_string_value(json_object_get(nt, "text"));
        if (t && analysis_report_add_note(out, "%s", t) != MD_OK) oom = true;
    }
    const char *created = json_string_value(json_object_get(root, "created_at"));
    if (created) snprintf(out->created_at, sizeof out->created_at, "%s", created);
    json_decref(root);
    if (oom) return md_error_set(err, MD_ERR_NOMEM, "out of memory");
    if (bad) return md_error_set(err, MD_ERR_PARSE, "report JSON: a field has the wrong type");
    return MD_OK;
}

/* ---- Markdown -------------------------------------------------------------------------- */

md_status md_report_to_markdown(const md_report *r, md_buf *b) {
    if (!r || !b) return MD_ERR_INVALID_ARG;
    md_buf_append_str(b, "# Case-analysis report\n\n");
    if (r->created_at[0]) md_buf_appendf(b, "Generated %s by %s.\n\n", r->created_at, r->generator ? r->generator : "deterministic");
    md_buf_appendf(b, "**Triage: %s**%s\n", analysis_triage_label(r->triage), r->emergency ? " (emergency)" : "");
    for (size_t i = 0; i < r->n_sections; i++)
        md_buf_appendf(b, "\n## %s\n\n%s\n", r->sections[i].title ? r->sections[i].title : r->sections[i].key,
                       r->sections[i].text ? r->sections[i].text : "");
    if (r->n_similar_cases) {
        md_buf_append_str(b, "\n## Sources\n\n| # | PMID | patient_uid | title | score |\n|---|---|---|---|---|\n");
        for (size_t i = 0; i < r->n_similar_cases; i++) {
            const md_report_case *c = &r->similar_cases[i];
            md_buf_appendf(b, "| %zu | %s | %s | ", i + 1, c->pmid ? c->pmid : "", c->patient_uid ? c->patient_uid : "");
            for (const char *t = c->title ? c->title : ""; *t; t++) {
                if (*t == '|') md_buf_append_str(b, "\\|");
                else if (*t == '\n') md_buf_append_char(b, ' ');
                else md_buf_append_char(b, *t);
            }
            md_buf_appendf(b, " | %.4f |\n", c->score);
        }
    }
    if (r->n_notes) {
        md_buf_append_str(b, "\n## Notes\n\n");
        for (size_t i = 0; i < r->n_notes; i++) md_buf_appendf(b, "- %s\n", r->notes[i]);
    }
    if (!md_report_section_text(r, MD_REPORT_SECTION_SAFETY_NOTICE))
        md_buf_appendf(b, "\n---\n%s\n", r->notice ? r->notice : MD_CLINICAL_NOTICE);
    return md_buf_ok(b) ? MD_OK : MD_ERR_NOMEM;
}
