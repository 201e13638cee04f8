/* medify eval retrieval: run queries against the current BM25 snapshot and score the
 * run with trec_eval's definitions of MRR, P@10, nDCG@10 and Recall@1000 (see
 * include/medify/search.h). Document ids are the cases' patient_uid, so the published
 * PMC-Patients patient-to-patient qrels apply unchanged.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "medify/search.h"
#include "medify/store.h"


#define EVAL_MAX_FILE_BYTES ((size_t)1 << 30)

static const char k_usage[] =
    "usage: medify eval retrieval --queries FILE --qrels FILE [--k 1000] [--data-dir DIR] [--json]\n"
    "queries: 'query-id<TAB>text' lines, or JSON Lines / a JSON array with _id and text;\n"
    "qrels: TREC 'query-id 0 doc-id relevance' lines, doc-id being the patient_uid.\n";

static int eval_retrieval(const char *queries_path, const char *qrels_path, size_t k, const char *data_dir, bool json) {
    md_error err = {0};
    md_arena a;
    md_arena_init(&a, 0);
    char *qtext = NULL, *rtext = NULL;
    size_t n_q = 0, n_r = 0, n_queries = 0, n_qrels = 0;
    md_eval_query *queries = NULL;
    md_eval_qrel *qrels = NULL;
    md_bm25 *ix = NULL;
    md_bm25_hit *hits = md_calloc(k, sizeof *hits);
    md_vec run;
    md_vec_init(&run, sizeof(md_eval_result));
    md_eval_metrics m = {0};
    char version[64] = "", path[4096];
    md_status st = hits ? MD_OK : md_error_set(&err, MD_ERR_NOMEM, "out of memory");
    if (st == MD_OK) st = md_read_file(queries_path, EVAL_MAX_FILE_BYTES, &qtext, &n_q, &err);
    if (st == MD_OK) st = md_read_file(qrels_path, EVAL_MAX_FILE_BYTES, &rtext, &n_r, &err);
    if (st == MD_OK) st = md_eval_parse_queries(qtext, &a, &queries, &n_queries, &err);
    if (st == MD_OK) st = md_eval_parse_qrels(rtext, &a, &qrels, &n_qrels, &err);
    if (st == MD_OK) st = md_snapshot_current(data_dir, version, &err);
    if (st == MD_OK && !md_snapshot_file_path(data_dir, version, MD_SNAPSHOT_BM25_FILE, path, sizeof path))
        st = md_error_set(&err, MD_ERR_INVALID_ARG, "data directory path too long");
    if (st == MD_OK) st = md_bm25_load(path, &ix, &err);
    uint64_t t0 = md_clock_monotonic_ns();
    for (size_t i = 0; st == MD_OK && i < n_queries; i++) {
        size_t n_hits = 0;
        st = md_bm25_search(ix, queries[i].text, strlen(queries[i].text), k, NULL, hits, &n_hits, &err);
        for (size_t j = 0; st == MD_OK && j < n_hits; j++) {
            md_search_doc d;
            if (!md_bm25_doc(ix, hits[j].id, &d) || !d.external_id[0]) continue;
            /* a query never retrieves itself (PMC-Patients excludes the query patient) */
            if (strcmp(d.external_id, queries[i].id) == 0) continue;
            md_eval_result r = {queries[i].id, d.external_id, hits[j].score};
            st = md_vec_push(&run, &r);
        }
    }
    double secs = (double)(md_clock_monotonic_ns() - t0) / 1e9;
    if (st == MD_OK) st = md_eval_compute(qrels, n_qrels, run.data, run.n, &m, &err);
    int rc = 0;
    if (st == MD_OK) {
        if (json)
            printf("{\"index\":\"%s\",\"k\":%zu,\"queries\":%zu,\"evaluated\":%zu,\"mrr\":%.4f,\"p_10\":%.4f,"
                   "\"ndcg_10\":%.4f,\"recall_1000\":%.4f,\"search_seconds\":%.3f}\n",
                   version, k, n_queries, m.n_queries, m.mrr, m.p_10, m.ndcg_10, m.recall_1000, secs);
        else
            printf("index %s, %zu queries (%zu judged)\nMRR          %.4f\nP@10         %.4f\nnDCG@10      %.4f\n"
                   "Recall@1000  %.4f\n",
                   version, n_queries, m.n_queries, m.mrr, m.p_10, m.ndcg_10, m.recall_1000);
    } else {
        rc = cli_fail(&err, json);
    }
    md_vec_free(&run);
    md_bm25_free(ix);
    md_free(hits);
    md_free(qtext);
    md_free(rtext);
    md_arena_free(&a);
    return rc;
}

int cmd_eval(int argc, char **argv) {
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        printf("%s", k_usage);
        return argc < 2 ? md_status_exit_code(MD_ERR_INVALID_ARG) : 0;
    }
    if (strcmp(argv[1], "retrieval") != 0) {
        fprintf(stderr, "medify: unknown eval command '%s'\n%s", argv[1], k_usage);
        return md_status_exit_code(MD_ERR_INVALID_ARG);
    }
    const char *queries = NULL, *qrels = NULL, *data_dir = NULL;
    size_t k = MD_EVAL_MAX_RESULTS;
    bool json = false;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--json") == 0) {
            json = true;
        } else if (strcmp(a, "--queries") == 0 && v) {
            queries = argv[++i];
        } else if (strcmp(a, "--qrels") == 0 && v) {
            qrels = argv[++i];
        } else if (strcmp(a, "--data-dir") == 0 && v) {
            data_dir = argv[++i];
        } else if (strcmp(a, "--k") == 0 && v) {
            char *end;
            errno = 0;
            unsigned long x = strtoul(v, &end, 10);
            if (*end || errno || x == 0 || x > 100000 || v[0] == '-') {
                fprintf(stderr, "medify: --k needs 1..100000, got '%s'\n", v);
                return md_status_exit_code(MD_ERR_INVALID_ARG);
            }
            k = x;
            i++;
        } else {
            fprintf(stderr, "medify: unknown or incomplete option '%s'\n%s", a, k_usage);
            return md_status_exit_code(MD_ERR_INVALID_ARG);
        }
    }
    if (!queries || !qrels) {
        fprintf(stderr, "medify: eval retrieval needs --queries and --qrels\n%s", k_usage);
        return md_status_exit_code(MD_ERR_INVALID_ARG);
    }
    return eval_retrieval(queries, qrels, k, md_store_data_dir(data_dir), json);
}
