/* Red-flag rules (data/kb/redflags.kb), evaluated on every assessment.
 *
 * A flag fires when any of its triggers holds; a trigger holds when every term does.
 * A term "!obs" holds when the observation is not present (so "syncope + !vasovagal_trigger"
 * leaves out the simple faint at a blood test).
 * An observation term needs the finding present in the patient's current episode —
 * never a negated, hypothetical, historical or relative's mention — and the attribute
 * conditions it names (onset, minimum severity). Patient terms need the age or sex to
 * be known: an unknown age never satisfies `age<0.25`, but the interview asks for the
 * age early, and the matching observation rules carry the safety net.
 * Deterministic and independent of any model.
 */
#include "clinical/internal.h"

static bool term_holds(const md_case *c, const md_rf_term *t) {
    switch (t->type) {
    case MD_RF_TERM_OBS: {
        const md_case_entry *e = &c->entries[t->obs];
        if (t->negated) return !entry_present_now(e);
        if (!entry_present_now(e)) return false;
        if (t->onset != MD_ONSET_UNKNOWN && e->attrs.onset != t->onset) return false;
        if (t->min_severity >= 0 && e->attrs.severity < t->min_severity) return false;
        return true;
    }
    case MD_RF_TERM_AGE_LT:
        return c->patient.age_years >= 0 && c->patient.age_years < t->age_years;
    case MD_RF_TERM_AGE_GE:
        return c->patient.age_years >= 0 && c->patient.age_years >= t->age_years;
    case MD_RF_TERM_SEX:
        return c->patient.sex == t->sex;
    }
    return false;
}

md_status redflags_evaluate(const md_case *c, md_vec *hits) {
    const md_kb *kb = c->kb;
    for (size_t r = 0; r < kb->n_redflags; r++) {
        const md_kb_redflag *rf = &kb->redflags[r];
        for (size_t g = 0; g < rf->n_triggers; g++) {
            const md_rf_trigger *trig = &rf->triggers[g];
            bool all = true;
            int32_t first_obs = -1;
            for (size_t k = 0; k < trig->n_terms && all; k++) {
                all = term_holds(c, &trig->terms[k]);
                if (trig->terms[k].type == MD_RF_TERM_OBS && !trig->terms[k].negated && first_obs < 0)
                    first_obs = (int32_t)trig->terms[k].obs;
            }
            if (!all || first_obs < 0) continue;
            const md_case_entry *e = &c->entries[first_obs];
            md_redflag_hit hit = {(uint32_t)r, (uint32_t)first_obs, e->from_text ? e->turn : 0,
                                  e->span_begin, e->span_end};
            md_status st = md_vec_push(hits, &hit);
            if (st != MD_OK) return st;
            break;
        }
    }
    return MD_OK;
}
