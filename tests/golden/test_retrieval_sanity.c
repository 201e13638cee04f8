/* Within-corpus retrieval sanity (issue 3 acceptance): on 2,000 synthetic cases, a
 * query made of a case's own opening sentences (age, sex, presenting complaints,
 * further symptoms) must retrieve that case in the BM25 top 10 for at least 95% of
 * 200 cases. The measured rate is printed; the floor is the target. */
#include <stdlib.h>

#include "check.h"
#include "medify/search.h"
#include "medify/synth.h"

#define N_CASES 2000
#define N_QUERIES 200
#define TOP_K 10
#define FLOOR 0.95

int main(void) {
    md_kb *kb = NULL;
    md_error err = {0};
    if (md_kb_load_embedded(&kb, &err) != MD_OK) {
        fprintf(stderr, "kb: %s\n", err.message);
        return 1;
    }
    md_synth *s = NULL;
    md_synth_params p = md_synth_default_params();
    p.seed = 2024;
    md_bm25 *ix = NULL;
    CHECK(md_synth_new(kb, p, &s, NULL) == MD_OK);
    CHECK(md_bm25_new(md_bm25_default_params(), &ix, NULL) == MD_OK);
    char **queries = calloc(N_QUERIES, sizeof(char *));
    size_t n_q = 0;
    for (size_t i = 0; i < N_CASES; i++) {
        md_synth_case c;
        CHECK(md_synth_next(s, &c, NULL) == MD_OK);
        md_search_doc d = {i, c.patient_uid, c.age_years, c.sex};
        CHECK(md_bm25_add(ix, &d, c.text, strlen(c.text), NULL) == MD_OK);
        if (i % (N_CASES / N_QUERIES) == 0 && n_q < N_QUERIES) queries[n_q++] = md_strndup(c.text, c.n_summary_bytes);
    }
    CHECK(md_bm25_finish(ix, NULL) == MD_OK);
    size_t found = 0;
    md_bm25_hit hits[TOP_K];
    for (size_t q = 0; q < n_q; q++) {
        size_t n = 0;
        CHECK(md_bm25_search(ix, queries[q], strlen(queries[q]), TOP_K, NULL, hits, &n, NULL) == MD_OK);
        uint64_t want = q * (N_CASES / N_QUERIES);
        for (size_t j = 0; j < n; j++)
            if (hits[j].id == want) {
                found++;
                break;
            }
        md_free(queries[q]);
    }
    double rate = (double)found / (double)n_q;
    printf("{\"test\":\"retrieval_sanity\",\"cases\":%d,\"queries\":%zu,\"top10\":%.3f,\"floor\":%.2f}\n", N_CASES, n_q,
           rate, FLOOR);
    CHECK_MSG(rate >= FLOOR, "own-summary top-10 rate %.3f below %.2f", rate, FLOOR);
    free(queries);
    md_bm25_free(ix);
    md_synth_free(s);
    md_kb_free(kb);
    return check_report("test_retrieval_sanity");
}
