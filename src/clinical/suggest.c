/* md_suggest_questions: which unknown observations would tell most about the
 * differential, by expected information gain (Shannon 1948; Cover & Thomas 2006,
 * sec. 2.4), IG(o) = H(pi) - P(yes) H(pi | yes) - P(no) H(pi | no) in bits, where pi is
 * the assessment's ranking of its top SUGGEST_TOP_K conditions renormalised, and
 * P(o present | c) is the condition's evidence value or, when o is not linked to c,
 * the observation's base rate (the model infer.c uses). Candidates are the observations
 * linked to a ranked condition that the case does not know yet and that were not asked.
 *
 * The interview asks the best one; the HTTP API's /v1/suggest lists several. */
#include <math.h>
#include <string.h>

#include "clinical/internal.h"

#define SUGGEST_TOP_K 30 /* conditions considered */
#define GAIN_EPSILON 1e-12

static double entropy(const double *p, size_t n) {
    double h = 0;
    for (size_t i = 0; i < n; i++)
        if (p[i] > 0) h -= p[i] * log2(p[i]);
    return h;
}

static double clamp01(double p) { return p < 0.001 ? 0.001 : p > 0.999 ? 0.999 : p; }

md_status md_suggest_questions(const md_case *c, const md_assessment *a, double min_gain_bits, md_suggestion *out,
                               size_t cap, size_t *n_out, md_error *err) {
    *n_out = 0;
    const md_kb *kb = c->kb;
    size_t k = a->n_conditions < SUGGEST_TOP_K ? a->n_conditions : SUGGEST_TOP_K;
    if (k < 2 || cap == 0) return MD_OK;
    double p[SUGGEST_TOP_K] = {0}, mass = 0;
    uint32_t ids[SUGGEST_TOP_K] = {0};
    for (size_t i = 0; i < k; i++) {
        ids[i] = a->conditions[i].condition;
        p[i] = a->conditions[i].probability;
        mass += p[i];
    }
    if (mass <= 0) return MD_OK;
    for (size_t i = 0; i < k; i++) p[i] /= mass;
    double h0 = entropy(p, k);

    uint8_t *seen = md_calloc(kb->n_obs + 1, 1);
    md_suggestion *cand = md_calloc(kb->n_obs + 1, sizeof *cand);
    if (!seen || !cand) {
        md_free(seen);
        md_free(cand);
        return md_error_set(err, MD_ERR_NOMEM, "out of memory ranking questions");
    }
    /* Gains in discovery order: condition by condition, evidence by evidence. */
    size_t n_cand = 0;
    for (size_t i = 0; i < k; i++) {
        const md_kb_condition *cond = &kb->cond[ids[i]];
        for (size_t e = 0; e < cond->n_evidence; e++) {
            uint32_t o = cond->evidence[e].obs;
            if (seen[o]) continue;
            seen[o] = 1;
            const md_case_entry *en = &c->entries[o];
            if (en->status != MD_OBS_STATUS_UNKNOWN && en->context == MD_OBS_CONTEXT_CURRENT) continue;
            if (md_case_was_asked(c, kb->obs[o].id)) continue;
            double like[SUGGEST_TOP_K], yes = 0;
            for (size_t j = 0; j < k; j++) {
                like[j] = clamp01(kb->obs[o].base_rate);
                const md_kb_condition *cj = &kb->cond[ids[j]];
                for (size_t x = 0; x < cj->n_evidence; x++)
                    if (cj->evidence[x].obs == o) like[j] = clamp01(cj->evidence[x].p_present);
                yes += p[j] * like[j];
            }
            if (yes <= 0 || yes >= 1) continue;
            double py[SUGGEST_TOP_K], pn[SUGGEST_TOP_K];
            for (size_t j = 0; j < k; j++) {
                py[j] = p[j] * like[j] / yes;
                pn[j] = p[j] * (1 - like[j]) / (1 - yes);
            }
            double gain = h0 - (yes * entropy(py, k) + (1 - yes) * entropy(pn, k));
            if (gain > min_gain_bits + GAIN_EPSILON) cand[n_cand++] = (md_suggestion){o, gain};
        }
    }
    /* Best first; of gains within GAIN_EPSILON the earlier discovered wins. */
    size_t n = 0;
    while (n < cap && n_cand > 0) {
        size_t best = 0;
        for (size_t i = 1; i < n_cand; i++)
            if (cand[i].information_gain_bits > cand[best].information_gain_bits + GAIN_EPSILON) best = i;
        out[n++] = cand[best];
        memmove(&cand[best], &cand[best + 1], (n_cand - best - 1) * sizeof *cand);
        n_cand--;
    }
    *n_out = n;
    md_free(seen);
    md_free(cand);
    return MD_OK;
}
