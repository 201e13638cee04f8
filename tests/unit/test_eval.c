/* Retrieval metrics on hand-made runs with known trec_eval values. */
#include "check.h"
#include "medify/search.h"

int main(void) {
    /* q1: relevant d1 (2), d3 (1), d9 (1, never retrieved). q2: relevant d5 (1).
     * q3: judged but not retrieved (not averaged). q4: retrieved, unjudged (ignored). */
    const md_eval_qrel qrels[] = {
        {"q1", "d1", 2}, {"q1", "d3", 1}, {"q1", "d9", 1}, {"q1", "d2", 0},
        {"q2", "d5", 1}, {"q3", "d1", 1},
    };
    /* q1 ranked by score: d2 (0.9), d3 (0.8), d4 (0.7), d1 (0.7; ties by doc id
     * descending put d4 before d1). q2: d5 is 12th. */
    md_eval_result run[32];
    size_t n = 0;
    run[n++] = (md_eval_result){"q1", "d1", 0.7};
    run[n++] = (md_eval_result){"q1", "d2", 0.9};
    run[n++] = (md_eval_result){"q1", "d4", 0.7};
    run[n++] = (md_eval_result){"q1", "d3", 0.8};
    static char ids[11][8];
    for (int i = 0; i < 11; i++) {
        snprintf(ids[i], sizeof ids[i], "x%d", i);
        run[n++] = (md_eval_result){"q2", ids[i], 1.0 - 0.01 * i};
    }
    run[n++] = (md_eval_result){"q2", "d5", 0.5};
    run[n++] = (md_eval_result){"q4", "d1", 1.0};
    md_eval_metrics m;
    CHECK(md_eval_compute(qrels, MD_ARRAY_LEN(qrels), run, n, &m, NULL) == MD_OK);
    CHECK_EQ_INT(m.n_queries, 2);
    /* q1: first relevant d3 at rank 2 → 0.5; q2: rank 12 → 1/12 */
    CHECK_NEAR(m.mrr, (0.5 + 1.0 / 12) / 2, 1e-12);
    /* q1: 2 relevant in top 10 → 0.2; q2: 0 */
    CHECK_NEAR(m.p_10, 0.1, 1e-12);
    /* q1 DCG: d3 (1) at 2 → 1/log2(3); d1 (2) at 4 → 2/log2(5).
     * ideal: 2, 1, 1 → 2 + 1/log2(3) + 1/log2(4). q2: 0 (d5 beyond 10). */
    double dcg = 1 / log2(3.0) + 2 / log2(5.0), idcg = 2 + 1 / log2(3.0) + 0.5;
    CHECK_NEAR(m.ndcg_10, (dcg / idcg) / 2, 1e-12);
    /* recall: q1 2 of 3; q2 1 of 1 */
    CHECK_NEAR(m.recall_1000, (2.0 / 3 + 1.0) / 2, 1e-12);

    /* nothing to evaluate */
    CHECK(md_eval_compute(qrels, MD_ARRAY_LEN(qrels), NULL, 0, &m, NULL) == MD_OK);
    CHECK_EQ_INT(m.n_queries, 0);

    /* parsers */
    md_arena a;
    md_arena_init(&a, 0);
    char qr[] = "q1 0 d1 2\n# comment\n\nq1 0 d3 1\r\nq2 Q0 d5 1\n";
    md_eval_qrel *pq = NULL;
    size_t n_pq = 0;
    CHECK(md_eval_parse_qrels(qr, &a, &pq, &n_pq, NULL) == MD_OK);
    CHECK_EQ_INT(n_pq, 3);
    if (n_pq == 3) {
        CHECK_EQ_STR(pq[1].doc_id, "d3");
        CHECK_EQ_INT(pq[0].relevance, 2);
        CHECK_EQ_STR(pq[2].query_id, "q2");
    }
    char bad[] = "q1 0 d1 two\n";
    md_error err = {0};
    CHECK(md_eval_parse_qrels(bad, &a, &pq, &n_pq, &err) == MD_ERR_PARSE);
    CHECK(strstr(err.message, "line 1") != NULL);
    char tsv[] = "q1\tfever and cough\nq2\trash\n";
    md_eval_query *qs = NULL;
    size_t n_qs = 0;
    CHECK(md_eval_parse_queries(tsv, &a, &qs, &n_qs, NULL) == MD_OK);
    CHECK_EQ_INT(n_qs, 2);
    if (n_qs == 2) CHECK_EQ_STR(qs[1].text, "rash");
    char jsonl[] = "{\"_id\": \"7665777-1\", \"text\": \"A 60-year-old man\"}\n{\"_id\": \"2\", \"text\": \"b\"}\n";
    CHECK(md_eval_parse_queries(jsonl, &a, &qs, &n_qs, NULL) == MD_OK);
    CHECK_EQ_INT(n_qs, 2);
    if (n_qs) CHECK_EQ_STR(qs[0].id, "7665777-1");
    char arr[] = "[{\"patient_uid\": \"9-1\", \"patient\": \"text here\"}]";
    CHECK(md_eval_parse_queries(arr, &a, &qs, &n_qs, NULL) == MD_OK);
    CHECK_EQ_INT(n_qs, 1);
    if (n_qs) CHECK_EQ_STR(qs[0].text, "text here");
    char badq[] = "no tab here\n";
    CHECK(md_eval_parse_queries(badq, &a, &qs, &n_qs, NULL) == MD_ERR_PARSE);
    md_arena_free(&a);
    return check_report("test_eval");
}
