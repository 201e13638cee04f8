/* md_case: the evidence gathered for one patient across turns.
 *
 * One entry per KB observation. Merging rules, so that a conversation can correct
 * itself: a finding from a later turn replaces an earlier one for the same observation
 * unless the new one is only implied or only non-current (a hypothetical or a
 * relative's mention never overrides what the patient said about themselves);
 * attributes accumulate.
 */
#include <string.h>

#include "clinical/internal.h"

md_case *md_case_new(const md_kb *kb) {
    md_case *c = md_calloc(1, sizeof *c);
    if (!c) return NULL;
    c->kb = kb;
    c->entries = md_malloc((kb->n_obs + 1) * sizeof *c->entries);
    if (!c->entries) {
        md_free(c);
        return NULL;
    }
    md_case_entry blank;
    memset(&blank, 0, sizeof blank);
    md_attrs_init(&blank.attrs);
    for (size_t i = 0; i <= kb->n_obs; i++) c->entries[i] = blank;
    c->patient.age_years = -1;
    c->patient.sex = MD_SEX_UNKNOWN;
    md_map_init(&c->asked);
    return c;
}

void md_case_free(md_case *c) {
    if (!c) return;
    for (uint32_t t = 0; t < c->n_turns; t++) md_free(c->turn_texts[t]);
    md_free(c->turn_texts);
    md_free(c->entries);
    md_map_free(&c->asked);
    md_free(c);
}

md_case *md_case_clone(const md_case *c) {
    md_case *d = md_case_new(c->kb);
    if (!d) return NULL;
    memcpy(d->entries, c->entries, c->kb->n_obs * sizeof *d->entries);
    d->patient = c->patient;
    for (uint32_t t = 0; t < c->n_turns; t++) {
        if (d->n_turns == d->cap_turns) {
            uint32_t cap = d->cap_turns ? d->cap_turns * 2 : 8;
            char **grown = md_realloc(d->turn_texts, cap * sizeof *grown);
            if (!grown) goto fail;
            d->turn_texts = grown;
            d->cap_turns = cap;
        }
        d->turn_texts[d->n_turns] = md_strdup(c->turn_texts[t]);
        if (!d->turn_texts[d->n_turns]) goto fail;
        d->n_turns++;
    }
    size_t it = 0;
    const char *key;
    size_t key_len;
    uint64_t v;
    while (md_map_next(&c->asked, &it, &key, &key_len, &v))
        if (md_map_put(&d->asked, key, key_len, v) != MD_OK) goto fail;
    d->n_asked = c->n_asked;
    return d;
fail:
    md_case_free(d);
    return NULL;
}

static md_status add_turn(md_case *c, const char *text, size_t n_bytes) {
    if (c->n_turns == c->cap_turns) {
        uint32_t cap = c->cap_turns ? c->cap_turns * 2 : 8;
        char **grown = md_realloc(c->turn_texts, cap * sizeof *grown);
        if (!grown) return MD_ERR_NOMEM;
        c->turn_texts = grown;
        c->cap_turns = cap;
    }
    char *copy = md_strndup(text, n_bytes);
    if (!copy) return MD_ERR_NOMEM;
    c->turn_texts[c->n_turns++] = copy;
    return MD_OK;
}

static void merge_attrs(md_attrs *dst, const md_attrs *src) {
    if (src->onset != MD_ONSET_UNKNOWN) dst->onset = src->onset;
    if (src->severity >= 0) dst->severity = src->severity;
    if (src->duration_hours >= 0) dst->duration_hours = src->duration_hours;
    if (src->laterality != MD_LATERALITY_NONE) dst->laterality = src->laterality;
    if (src->frequency != MD_FREQUENCY_UNKNOWN) dst->frequency = src->frequency;
    if (src->temperature_c >= 0) dst->temperature_c = src->temperature_c;
}

static void merge_finding(md_case *c, const md_finding *f, uint32_t turn) {
    md_case_entry *e = &c->entries[f->obs];
    bool entry_current = e->status != MD_OBS_STATUS_UNKNOWN && e->context == MD_OBS_CONTEXT_CURRENT;
    /* What the patient said about themselves is not overridden by a hypothetical, a
     * relative's history, an uncertain mention, or an implication. */
    if (entry_current && (f->context != MD_OBS_CONTEXT_CURRENT || f->status == MD_OBS_STATUS_UNKNOWN)) return;
    if (entry_current && f->implied && !e->implied) return;
    if (e->status != MD_OBS_STATUS_UNKNOWN && f->status == MD_OBS_STATUS_UNKNOWN) return;
    e->status = f->status;
    e->context = f->context;
    e->implied = f->implied;
    e->from_text = true;
    e->turn = turn;
    e->span_begin = f->span_begin;
    e->span_end = f->span_end;
    merge_attrs(&e->attrs, &f->attrs);
}

md_status md_case_add_text(md_case *c, const char *text, size_t n_bytes, md_error *err) {
    md_parse_result r;
    md_status st = md_parse(c->kb, text, n_bytes, &r, err);
    if (st != MD_OK) return st;
    st = add_turn(c, text, n_bytes);
    if (st != MD_OK) {
        md_parse_result_free(&r);
        return md_error_set(err, st, "out of memory storing the turn");
    }
    for (size_t i = 0; i < r.n_findings; i++) merge_finding(c, &r.findings[i], c->n_turns);
    if (r.patient.age_years >= 0) c->patient.age_years = r.patient.age_years;
    if (r.patient.sex != MD_SEX_UNKNOWN) c->patient.sex = r.patient.sex;
    md_parse_result_free(&r);
    return MD_OK;
}

md_status md_case_set(md_case *c, uint32_t obs, md_obs_status status, md_error *err) {
    if (obs >= c->kb->n_obs) return md_error_set(err, MD_ERR_NOT_FOUND, "unknown observation index %u", obs);
    md_case_entry *e = &c->entries[obs];
    e->status = status;
    e->context = MD_OBS_CONTEXT_CURRENT;
    e->from_text = false;
    e->implied = false;
    e->turn = 0;
    if (status == MD_OBS_STATUS_PRESENT) {
        const md_kb_observation *o = &c->kb->obs[obs];
        for (size_t k = 0; k < o->n_implies; k++) {
            md_case_entry *t = &c->entries[o->implies[k]];
            if (t->status == MD_OBS_STATUS_UNKNOWN || t->implied) {
                t->status = MD_OBS_STATUS_PRESENT;
                t->context = MD_OBS_CONTEXT_CURRENT;
                t->implied = true;
            }
        }
    }
    return MD_OK;
}

void md_case_set_patient(md_case *c, double age_years, md_sex sex) {
    if (age_years >= 0) c->patient.age_years = age_years;
    if (sex != MD_SEX_UNKNOWN) c->patient.sex = sex;
}

md_patient md_case_patient(const md_case *c) { return c->patient; }

const md_case_entry *md_case_entry_at(const md_case *c, uint32_t obs) {
    return obs < c->kb->n_obs ? &c->entries[obs] : NULL;
}

const char *md_case_turn_text(const md_case *c, uint32_t turn) {
    return turn >= 1 && turn <= c->n_turns ? c->turn_texts[turn - 1] : NULL;
}

uint32_t md_case_n_turns(const md_case *c) { return c->n_turns; }

bool md_case_was_asked(const md_case *c, const char *question_id) {
    return md_map_get(&c->asked, question_id, strlen(question_id), NULL);
}

md_status md_case_mark_asked(md_case *c, const char *question_id) {
    if (md_case_was_asked(c, question_id)) return MD_OK;
    md_status st = md_map_put(&c->asked, question_id, strlen(question_id), c->n_asked + 1);
    if (st == MD_OK) c->n_asked++;
    return st;
}

size_t md_case_n_asked(const md_case *c) { return c->n_asked; }
