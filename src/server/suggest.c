/* suggest.c: which observations are worth asking about next, by expected information
 * gain over the current differential.
 *
 * The ranking from md_assess (the top conditions with their posterior probabilities)
 * is a distribution pi over K conditions plus one "any other" class holding the mass
 * the ranking leaves out. For a yes/no observation o the knowledge base gives
 * P(o present | c): the condition's evidence p_present when o is linked to c, else
 * the observation's base rate (the same model infer.c uses). The expected gain of
 * asking o is the mutual information between the answer and the condition
 * (Cover & Thomas, Elements of Information Theory, 2nd ed., sec. 2.4):
 *
 *   IG(o) = H(pi) - P(yes) H(pi | yes) - P(no) H(pi | no),   in bits.
 *
 * Candidates are the observations linked to any ranked condition whose status in the
 * case is still unknown. Cost: O(sum of ranked conditions' evidence + candidates * K),
 * a few tens of microseconds on the shipped KB. Uses the public clinical API only.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "server/server_internal.h"

static double entropy_bits(const double *p, size_t n) {
    double h = 0;
    for (size_t i = 0; i < n; i++)
        if (p[i] > 0) h -= p[i] * log2(p[i]);
    return h;
}

static int by_gain_desc(const void *pa, const void *pb) {
    const srv_suggestion *a = pa, *b = pb;
    if (a->information_gain_bits != b->information_gain_bits)
        return a->information_gain_bits < b->information_gain_bits ? 1 : -1;
    return a->obs < b->obs ? -1 : a->obs > b->obs; /* stable order for equal gains */
}

md_status srv_suggest(const md_kb *kb, const md_case *c, const md_assessment *a, size_t max_results, md_arena *arena,
                      srv_suggestion **out, size_t *n_out, md_error *err) {
    *out = NULL;
    *n_out = 0;
    size_t n_obs = md_kb_n_observations(kb);
    size_t k_cond = a->n_conditions;
    if (k_cond == 0 || max_results == 0) return MD_OK;
    size_t n_class = k_cond + 1; /* + "any other condition" */

    double *pi = md_arena_calloc(arena, n_class, sizeof *pi);
    int32_t *cand_of = md_arena_alloc(arena, n_obs * sizeof *cand_of);
    if (!pi || !cand_of) return md_error_set(err, MD_ERR_NOMEM, "out of memory");
    double ranked_mass = 0;
    for (size_t k = 0; k < k_cond; k++) {
        pi[k] = a->conditions[k].probability > 0 ? a->conditions[k].probability : 0;
        ranked_mass += pi[k];
    }
    pi[k_cond] = ranked_mass < 1 ? 1 - ranked_mass : 0;
    double total = ranked_mass + pi[k_cond];
    if (!(total > 0)) return MD_OK;
    for (size_t k = 0; k < n_class; k++)
        pi[k] /= total;

    /* Candidates: unknown observations linked to a ranked condition. */
    memset(cand_of, 0xff, n_obs * sizeof *cand_of);
    size_t n_cand = 0;
    for (size_t k = 0; k < k_cond; k++) {
        const md_kb_condition *cd = md_kb_condition_at(kb, a->conditions[k].condition);
        for (size_t e = 0; e < cd->n_evidence; e++) {
            uint32_t o = cd->evidence[e].obs;
            const md_case_entry *ent = md_case_entry_at(c, o);
            if (o >= n_obs || cand_of[o] >= 0 || (ent && ent->status != MD_OBS_STATUS_UNKNOWN)) continue;
            cand_of[o] = (int32_t)n_cand++;
        }
    }
    if (n_cand == 0) return MD_OK;

    /* p_yes[(cand, class)] = P(present | class); defaults to the base rate. */
    double *p_yes = md_arena_calloc(arena, n_cand * n_class, sizeof *p_yes);
    srv_suggestion *sug = md_arena_calloc(arena, n_cand, sizeof *sug);
    double *post = md_arena_calloc(arena, n_class, sizeof *post);
    if (!p_yes || !sug || !post) return md_error_set(err, MD_ERR_NOMEM, "out of memory");
    for (size_t o = 0; o < n_obs; o++) {
        if (cand_of[o] < 0) continue;
        double base = md_kb_observation_at(kb, o)->base_rate;
        for (size_t k = 0; k < n_class; k++)
            p_yes[(size_t)cand_of[o] * n_class + k] = base;
        sug[cand_of[o]].obs = (uint32_t)o;
    }
    for (size_t k = 0; k < k_cond; k++) {
        const md_kb_condition *cd = md_kb_condition_at(kb, a->conditions[k].condition);
        for (size_t e = 0; e < cd->n_evidence; e++) {
            uint32_t o = cd->evidence[e].obs;
            if (o < n_obs && cand_of[o] >= 0) p_yes[(size_t)cand_of[o] * n_class + k] = cd->evidence[e].p_present;
        }
    }

    double h_prior = entropy_bits(pi, n_class);
    for (size_t i = 0; i < n_cand; i++) {
        const double *py = &p_yes[i * n_class];
        double p_y = 0;
        for (size_t k = 0; k < n_class; k++)
            p_y += pi[k] * py[k];
        double h_post = 0;
        if (p_y > 0) {
            for (size_t k = 0; k < n_class; k++)
                post[k] = pi[k] * py[k] / p_y;
            h_post += p_y * entropy_bits(post, n_class);
        }
        if (p_y < 1) {
            for (size_t k = 0; k < n_class; k++)
                post[k] = pi[k] * (1 - py[k]) / (1 - p_y);
            h_post += (1 - p_y) * entropy_bits(post, n_class);
        }
        double gain = h_prior - h_post;
        sug[i].information_gain_bits = gain > 0 ? gain : 0; /* rounding can dip below zero */
    }
    qsort(sug, n_cand, sizeof *sug, by_gain_desc);
    *out = sug;
    *n_out = n_cand < max_results ? n_cand : max_results;
    return MD_OK;
}
