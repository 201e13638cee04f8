/* Triage: the most urgent of three independent sources, each giving its reasons.
 *
 *   1. Red flags: a fired flag sets at least its own level.
 *   2. The differential: by mass (how likely it is that the patient needs at least a
 *      level) and by danger (a severe or critical condition raises triage on its own
 *      at small probabilities: under-triage of an emergency is the worst error this
 *      system can make). Both rules are described next to their thresholds below.
 *   3. Finding rules that hold whatever the diagnosis (severe pain, very high fever,
 *      fever in young infants or the immunosuppressed, symptoms for three weeks).
 * Thresholds are named below; the vignette suite (tests/golden/vignettes.tsv) measures
 * their effect, and docs/clinical-safety.md explains them.
 */
#include <string.h>

#include "clinical/internal.h"

/* The differential sets triage two ways, and the more urgent wins:
 *  - by mass: the probability that the patient needs at least level L is the summed
 *    probability of the conditions whose default triage is L or more urgent; the
 *    level is the most urgent L whose mass reaches k_mass_threshold[L]. A routine
 *    appointment needs the conditions that warrant one to be the likelier story.
 *  - by danger: a severe or critical condition pulls triage up on its own at small
 *    probabilities (k_danger_caps), because missing it is the costly error. */
static const double k_mass_threshold[MD_TRIAGE_COUNT] = {
    [MD_TRIAGE_SELF_CARE] = 0.0,
    [MD_TRIAGE_CONSULTATION] = 0.45,
    [MD_TRIAGE_CONSULTATION_24] = 0.35,
    [MD_TRIAGE_EMERGENCY] = 0.20,
    [MD_TRIAGE_EMERGENCY_AMBULANCE] = 0.25,
};

/* {ambulance, emergency, consultation_24, consultation} per severity; mild and moderate
 * conditions act through the mass rule only. */
static const double k_danger_caps[4][4] = {
    [MD_SEVERITY_MILD] = {2, 2, 2, 2},
    [MD_SEVERITY_MODERATE] = {2, 2, 2, 2},
    [MD_SEVERITY_SEVERE] = {0.35, 0.15, 0.08, 0.15},
    [MD_SEVERITY_CRITICAL] = {0.20, 0.07, 0.04, 0.04},
};

#define SEVERE_SYMPTOM_SCORE 8.0     /* 8/10 or worse */
#define HIGH_FEVER_C 40.0            /* NICE NG143: >= 39 in 3-6 months is amber; 40+ at any age warrants review */
#define YOUNG_INFANT_YEARS 0.5       /* NICE NG143 amber band up to 6 months */
#define LONG_SYMPTOM_HOURS (21 * 24) /* three weeks: NICE suspected-cancer and persistent-symptom thresholds */

typedef struct reason {
    md_triage_level level;
    const char *text;
} reason;

typedef struct triage_acc {
    md_triage_level level;
    reason items[32];
    size_t n;
    md_arena *arena;
    int32_t named; /* condition named by the mass rule, -1 if none */
} triage_acc;

static void raise_to(triage_acc *t, md_triage_level level, const char *fmt, ...) MD_PRINTF(3, 4);
static void raise_to(triage_acc *t, md_triage_level level, const char *fmt, ...) {
    if (level > t->level) t->level = level;
    if (t->n == MD_ARRAY_LEN(t->items)) return;
    char buf[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    for (size_t i = 0; i < t->n; i++)
        if (strcmp(t->items[i].text, buf) == 0) return;
    const char *s = md_arena_strdup(t->arena, buf);
    if (s) t->items[t->n++] = (reason){level, s};
}

static md_triage_level cap_for(const md_kb_condition *cond, double p) {
    const double *caps = k_danger_caps[cond->severity];
    md_triage_level cap = MD_TRIAGE_SELF_CARE;
    if (p >= caps[3] || p >= caps[2]) cap = MD_TRIAGE_CONSULTATION;
    if (p >= caps[2]) cap = MD_TRIAGE_CONSULTATION_24;
    if (p >= caps[1]) cap = MD_TRIAGE_EMERGENCY;
    if (p >= caps[0]) cap = MD_TRIAGE_EMERGENCY_AMBULANCE;
    return cond->triage < cap ? cond->triage : cap;
}

static bool present(const md_case *c, const char *id) {
    int32_t o = md_kb_observation_find(c->kb, id);
    return o >= 0 && entry_present_now(&c->entries[o]);
}

md_status triage_decide(const md_case *c, const md_redflag_hit *hits, size_t n_hits,
                        const md_ranked_condition *ranked, size_t n_ranked, md_assessment *a) {
    const md_kb *kb = c->kb;
    triage_acc t = {MD_TRIAGE_SELF_CARE, {{0}}, 0, &a->arena, -1};

    for (size_t i = 0; i < n_hits; i++) {
        const md_kb_redflag *rf = &kb->redflags[hits[i].redflag];
        raise_to(&t, rf->level, "Red flag: %s", rf->name);
    }

    double mass[MD_TRIAGE_COUNT] = {0};
    for (size_t i = 0; i < n_ranked; i++)
        for (int l = 0; l <= (int)kb->cond[ranked[i].condition].triage; l++) mass[l] += ranked[i].probability;
    for (int l = MD_TRIAGE_EMERGENCY_AMBULANCE; l > MD_TRIAGE_SELF_CARE; l--) {
        if (mass[l] < k_mass_threshold[l]) continue;
        /* name the likeliest condition that needs this level */
        for (size_t i = 0; i < n_ranked; i++) {
            const md_kb_condition *cond = &kb->cond[ranked[i].condition];
            if ((int)cond->triage < l) continue;
            raise_to(&t, (md_triage_level)l, "Likely %s (%.0f%%)", cond->name, ranked[i].probability * 100);
            t.named = (int32_t)ranked[i].condition;
            break;
        }
        break;
    }
    for (size_t i = 0; i < n_ranked; i++) {
        const md_kb_condition *cond = &kb->cond[ranked[i].condition];
        md_triage_level lvl = cap_for(cond, ranked[i].probability);
        if (lvl <= MD_TRIAGE_SELF_CARE) continue;
        if (lvl <= t.level && (int32_t)ranked[i].condition == t.named) continue; /* already the reason */
        raise_to(&t, lvl, "Possible %s (%.0f%%)", cond->name, ranked[i].probability * 100);
    }

    bool any_present = false;
    double worst_severity = -1, longest = -1, max_temp = -1;
    const char *worst_name = NULL;
    for (size_t o = 0; o < kb->n_obs; o++) {
        const md_case_entry *e = &c->entries[o];
        if (!entry_present_now(e)) continue;
        if (kb->obs[o].kind == MD_OBS_KIND_SYMPTOM || kb->obs[o].kind == MD_OBS_KIND_SIGN) any_present = true;
        if (e->attrs.severity > worst_severity) {
            worst_severity = e->attrs.severity;
            worst_name = kb->obs[o].name;
        }
        if (e->attrs.duration_hours > longest) longest = e->attrs.duration_hours;
        if (e->attrs.temperature_c > max_temp) max_temp = e->attrs.temperature_c;
    }
    if (worst_severity >= SEVERE_SYMPTOM_SCORE && worst_name)
        raise_to(&t, MD_TRIAGE_CONSULTATION_24, "Severe %s (%.0f/10)", worst_name, worst_severity);
    if (max_temp >= HIGH_FEVER_C) raise_to(&t, MD_TRIAGE_CONSULTATION_24, "Very high temperature (%.1f °C)", max_temp);
    bool fever = present(c, "fever") || present(c, "high_fever");
    if (fever && c->patient.age_years >= 0 && c->patient.age_years < YOUNG_INFANT_YEARS)
        raise_to(&t, MD_TRIAGE_CONSULTATION_24, "Fever in a baby under 6 months");
    if (fever && present(c, "immunosuppressed"))
        raise_to(&t, MD_TRIAGE_EMERGENCY, "Fever with a weakened immune system (possible neutropenic sepsis)");
    if (longest >= LONG_SYMPTOM_HOURS) raise_to(&t, MD_TRIAGE_CONSULTATION, "Symptoms for three weeks or more");
    if (!any_present)
        raise_to(&t, MD_TRIAGE_CONSULTATION,
                 "No specific symptoms recognised yet; a clinician should review if you are worried");

    /* Reasons, most urgent first (stable within a level). */
    a->level = t.level;
    a->emergency = t.level >= MD_TRIAGE_EMERGENCY;
    a->reasons = md_arena_calloc(&a->arena, t.n + 1, sizeof *a->reasons);
    if (!a->reasons) return MD_ERR_NOMEM;
    a->n_reasons = 0;
    for (int lvl = MD_TRIAGE_EMERGENCY_AMBULANCE; lvl >= 0; lvl--)
        for (size_t i = 0; i < t.n; i++)
            if ((int)t.items[i].level == lvl) a->reasons[a->n_reasons++] = t.items[i].text;
    return MD_OK;
}
