/* md_assess: one assessment of a case — red flags, differential, triage, next question.
 * Everything is recomputed from the case each time; an assessment is a snapshot. */
#include <stdlib.h>
#include <string.h>

#include "clinical/internal.h"

md_assess_params md_assess_default_params(void) {
    return (md_assess_params){.max_conditions = 20, .max_questions = 25, .stop_probability = 0.85};
}

static int cmp_ranked(const void *a, const void *b) {
    const md_ranked_condition *x = a, *y = b;
    if (x->probability != y->probability) return x->probability < y->probability ? 1 : -1;
    return x->condition < y->condition ? -1 : x->condition > y->condition;
}

md_status md_assess(const md_case *c, md_assess_params params, md_assessment *out, md_error *err) {
    memset(out, 0, sizeof *out);
    md_arena_init(&out->arena, 8192);
    out->patient = c->patient;
    const md_kb *kb = c->kb;
    if (params.max_conditions == 0) params.max_conditions = 20;

    double *post = md_calloc(kb->n_cond + 1, sizeof *post);
    md_ranked_condition *all = md_calloc(kb->n_cond + 1, sizeof *all);
    md_vec hits;
    md_vec_init(&hits, sizeof(md_redflag_hit));
    md_status st = (post && all) ? MD_OK : MD_ERR_NOMEM;
    if (st == MD_OK) st = infer_posterior(c, post);
    if (st == MD_OK) {
        /* Top max_conditions by insertion into a short sorted list: O(n·k), k small. */
        size_t n = 0, cap = kb->n_cond < params.max_conditions ? kb->n_cond : params.max_conditions;
        for (size_t i = 0; i < kb->n_cond; i++) {
            md_ranked_condition rc = {(uint32_t)i, post[i]};
            if (n == cap && cmp_ranked(&rc, &all[n - 1]) >= 0) continue;
            size_t j = n < cap ? n++ : n - 1;
            while (j > 0 && cmp_ranked(&rc, &all[j - 1]) < 0) {
                all[j] = all[j - 1];
                j--;
            }
            all[j] = rc;
        }
        out->conditions = md_arena_calloc(&out->arena, n + 1, sizeof *out->conditions);
        if (!out->conditions) st = MD_ERR_NOMEM;
        else {
            memcpy(out->conditions, all, n * sizeof *all);
            out->n_conditions = n;
        }
    }
    if (st == MD_OK) st = redflags_evaluate(c, &hits);
    if (st == MD_OK) {
        out->redflags = md_arena_calloc(&out->arena, hits.n + 1, sizeof *out->redflags);
        if (!out->redflags) st = MD_ERR_NOMEM;
        else {
            if (hits.n) memcpy(out->redflags, hits.data, hits.n * sizeof *out->redflags);
            out->n_redflags = hits.n;
        }
    }
    if (st == MD_OK) st = triage_decide(c, out->redflags, out->n_redflags, out->conditions, out->n_conditions, out);
    if (st == MD_OK) {
        interview_next(c, out, params, out);
        if (out->has_question && out->question.question >= 0) {
            const md_kb_question *kq = &kb->questions[out->question.question];
            const char **labels = md_arena_calloc(&out->arena, kq->n_choices + 1, sizeof *labels);
            if (!labels) st = MD_ERR_NOMEM;
            else {
                for (size_t i = 0; i < kq->n_choices; i++) labels[i] = kq->choices[i].label;
                out->question.choices = labels;
                out->question.n_choices = kq->n_choices;
            }
        }
    }
    md_free(post);
    md_free(all);
    md_vec_free(&hits);
    if (st != MD_OK) {
        md_assessment_free(out);
        return md_error_set(err, st, "out of memory assessing the case");
    }
    return MD_OK;
}

void md_assessment_free(md_assessment *a) {
    if (!a) return;
    md_arena_free(&a->arena);
    memset(a, 0, sizeof *a);
}
