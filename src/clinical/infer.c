/* Differential inference: a single-cause naive Bayes model over the KB's conditions.
 *
 *   P(c | E) ∝ prior(c | age band, sex) · Π_{o ∈ E} P(o | c)
 *
 * with P(present | c) = the condition's evidence value for linked observations and the
 * observation's base rate otherwise (so an unlinked finding is neutral between
 * conditions that do not explain it). Computed in log space: the product over all
 * known observations at their unlinked rates is shared by every condition, so each
 * condition only adds the log likelihood ratios of its own linked observations —
 * O(total evidence links), not O(conditions × observations).
 *
 * Only current findings count: hypothetical mentions and relatives' symptoms do not.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "clinical/internal.h"

#define P_MIN 0.001 /* clamp likelihoods away from 0 and 1: no single finding is proof */
#define P_MAX 0.999

/* Age-band mix used when the age is unknown: roughly who uses a symptom checker. */
static const double k_unknown_age_mix[MD_AGE_BAND_COUNT] = {0.04, 0.14, 0.07, 0.57, 0.18};

static double clamp_p(double p) { return p < P_MIN ? P_MIN : p > P_MAX ? P_MAX : p; }

double infer_prior(const md_kb_condition *cond, md_patient patient) {
    double prior;
    if (patient.age_years >= 0) {
        prior = cond->prior[md_age_band_of(patient.age_years)];
    } else {
        prior = 0;
        for (int b = 0; b < MD_AGE_BAND_COUNT; b++) prior += k_unknown_age_mix[b] * cond->prior[b];
    }
    return prior * cond->sex_multiplier[patient.sex];
}

static double log_p(double p, md_obs_status status) {
    p = clamp_p(p);
    return status == MD_OBS_STATUS_PRESENT ? log(p) : log(1.0 - p);
}

double infer_log_lr(const md_kb *kb, const md_kb_evidence *ev, md_obs_status status) {
    if (status == MD_OBS_STATUS_UNKNOWN) return 0;
    return log_p(ev->p_present, status) - log_p(kb->obs[ev->obs].base_rate, status);
}

bool infer_precompute(md_kb *kb) {
    kb->log_prior = md_arena_calloc(&kb->arena, kb->n_cond * INFER_N_BANDS * 3 + 1, sizeof *kb->log_prior);
    if (!kb->log_prior) return false;
    static const double band_age[MD_AGE_BAND_COUNT] = {0.5, 5, 15, 40, 75};
    for (size_t i = 0; i < kb->n_cond; i++)
        for (int b = 0; b < INFER_N_BANDS; b++)
            for (int sx = 0; sx < 3; sx++) {
                md_patient p = {b < MD_AGE_BAND_COUNT ? band_age[b] : -1, (md_sex)sx};
                double prior = infer_prior(&kb->cond[i], p);
                kb->log_prior[(i * INFER_N_BANDS + (size_t)b) * 3 + (size_t)sx] = prior > 0 ? log(prior) : -INFINITY;
            }
    return true;
}

md_status infer_posterior(const md_case *c, double *post) {
    const md_kb *kb = c->kb;
    size_t band = c->patient.age_years >= 0 ? (size_t)md_age_band_of(c->patient.age_years) : MD_AGE_BAND_COUNT;
    for (size_t i = 0; i < kb->n_cond; i++)
        post[i] = kb->log_prior[(i * INFER_N_BANDS + band) * 3 + (size_t)c->patient.sex];
    /* Walk the known observations and add each one's log likelihood ratio to the
     * conditions that link it (obs → condition index): a case knows a handful of
     * findings, so this touches a few hundred links instead of all of them. */
    for (size_t o = 0; o < kb->n_obs; o++) {
        const md_case_entry *en = &c->entries[o];
        if (!entry_known_now(en)) continue;
        bool present = en->status == MD_OBS_STATUS_PRESENT;
        for (uint32_t k = kb->obs_cond_offsets[o]; k < kb->obs_cond_offsets[o + 1]; k++) {
            const md_kb_evidence *ev = kb->obs_cond_ev[k];
            post[kb->obs_cond[k]] += present ? ev->log_lr_present : ev->log_lr_absent;
        }
    }
    double max_log = -INFINITY;
    for (size_t i = 0; i < kb->n_cond; i++)
        if (post[i] > max_log) max_log = post[i];
    double sum = 0;
    for (size_t i = 0; i < kb->n_cond; i++) {
        post[i] = isinf(post[i]) ? 0 : exp(post[i] - max_log);
        sum += post[i];
    }
    if (sum > 0)
        for (size_t i = 0; i < kb->n_cond; i++) post[i] /= sum;
    return MD_OK;
}

/* ---- explain ------------------------------------------------------------------- */

static int cmp_strength_desc(const void *a, const void *b) {
    double x = fabs(log(((const md_explain_item *)a)->likelihood_ratio));
    double y = fabs(log(((const md_explain_item *)b)->likelihood_ratio));
    return x < y ? 1 : x > y ? -1 : 0;
}

md_status md_explain(const md_case *c, uint32_t condition, md_explanation *out, md_error *err) {
    memset(out, 0, sizeof *out);
    const md_kb *kb = c->kb;
    if (condition >= kb->n_cond) return md_error_set(err, MD_ERR_NOT_FOUND, "unknown condition index %u", condition);
    const md_kb_condition *cond = &kb->cond[condition];
    double *post = md_calloc(kb->n_cond + 1, sizeof *post);
    md_explain_item *sup = md_calloc(cond->n_evidence + 1, sizeof *sup);
    md_explain_item *opp = md_calloc(cond->n_evidence + 1, sizeof *opp);
    uint32_t *unasked = md_calloc(cond->n_evidence + 1, sizeof *unasked);
    if (!post || !sup || !opp || !unasked) {
        md_free(post);
        md_free(sup);
        md_free(opp);
        md_free(unasked);
        return md_error_set(err, MD_ERR_NOMEM, "out of memory explaining a condition");
    }
    infer_posterior(c, post);
    double prior_sum = 0;
    for (size_t i = 0; i < kb->n_cond; i++) prior_sum += infer_prior(&kb->cond[i], c->patient);
    out->condition = condition;
    out->probability = post[condition];
    out->prior = prior_sum > 0 ? infer_prior(cond, c->patient) / prior_sum : 0;
    md_free(post);
    /* unasked ordered by how much a "yes" would move this condition */
    double *strength = md_calloc(cond->n_evidence + 1, sizeof *strength);
    if (!strength) {
        md_free(sup);
        md_free(opp);
        md_free(unasked);
        return md_error_set(err, MD_ERR_NOMEM, "out of memory explaining a condition");
    }
    for (size_t e = 0; e < cond->n_evidence; e++) {
        const md_kb_evidence *ev = &cond->evidence[e];
        const md_case_entry *en = &c->entries[ev->obs];
        if (!entry_known_now(en)) {
            double s = fabs(infer_log_lr(kb, ev, MD_OBS_STATUS_PRESENT));
            size_t k = out->n_unasked++;
            while (k > 0 && strength[k - 1] < s) {
                strength[k] = strength[k - 1];
                unasked[k] = unasked[k - 1];
                k--;
            }
            strength[k] = s;
            unasked[k] = ev->obs;
            continue;
        }
        double lr = exp(infer_log_lr(kb, ev, en->status));
        md_explain_item item = {ev->obs, en->status, lr};
        if (lr >= 1) sup[out->n_supporting++] = item;
        else opp[out->n_opposing++] = item;
    }
    md_free(strength);
    qsort(sup, out->n_supporting, sizeof *sup, cmp_strength_desc);
    qsort(opp, out->n_opposing, sizeof *opp, cmp_strength_desc);
    out->supporting = sup;
    out->opposing = opp;
    out->unasked = unasked;
    return MD_OK;
}

void md_explanation_free(md_explanation *e) {
    if (!e) return;
    md_free(e->supporting);
    md_free(e->opposing);
    md_free(e->unasked);
    memset(e, 0, sizeof *e);
}
