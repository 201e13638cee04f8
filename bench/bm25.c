/* bench_bm25: BM25 build time and query latency over a synthetic corpus the size of
 * PMC-Patients (167,034 cases by default), generated in memory by the synth generator
 * (no store). Queries are the opening sentences of 1,000 cases spread over the corpus.
 * Prints one JSON line; speed is never asserted.
 *
 *   bench_bm25 [N_CASES] [N_QUERIES] [K]
 */
#include <stdlib.h>
#include <string.h>

#include "medify/search.h"
#include "medify/synth.h"

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    size_t n_cases = argc > 1 ? strtoul(argv[1], NULL, 10) : 167034;
    size_t n_queries = argc > 2 ? strtoul(argv[2], NULL, 10) : 1000;
    size_t k = argc > 3 ? strtoul(argv[3], NULL, 10) : 10;
    if (n_cases == 0 || n_queries == 0 || k == 0 || k > 1000) return 2;
    if (n_queries > n_cases) n_queries = n_cases;
    md_kb *kb = NULL;
    md_error err = {0};
    if (md_kb_load_embedded(&kb, &err) != MD_OK) {
        fprintf(stderr, "kb: %s\n", err.message);
        return 1;
    }
    md_synth *s = NULL;
    md_bm25 *ix = NULL;
    if (md_synth_new(kb, md_synth_default_params(), &s, &err) != MD_OK ||
        md_bm25_new(md_bm25_default_params(), &ix, &err) != MD_OK) {
        fprintf(stderr, "init: %s\n", err.message);
        return 1;
    }
    char **queries = calloc(n_queries, sizeof(char *));
    uint64_t *lat = calloc(n_queries, sizeof(uint64_t));
    size_t step = n_cases / n_queries, n_q = 0;
    uint64_t gen_ns = 0, add_ns = 0, text_bytes = 0;
    for (size_t i = 0; i < n_cases; i++) {
        md_synth_case c;
        uint64_t t0 = md_clock_monotonic_ns();
        if (md_synth_next(s, &c, &err) != MD_OK) return 1;
        uint64_t t1 = md_clock_monotonic_ns();
        md_search_doc d = {i, c.patient_uid, c.age_years, c.sex};
        size_t n = strlen(c.text);
        if (md_bm25_add(ix, &d, c.text, n, &err) != MD_OK) return 1;
        add_ns += md_clock_monotonic_ns() - t1;
        gen_ns += t1 - t0;
        text_bytes += n;
        if (i % step == 0 && n_q < n_queries) queries[n_q++] = md_strndup(c.text, c.n_summary_bytes);
    }
    uint64_t t0 = md_clock_monotonic_ns();
    if (md_bm25_finish(ix, &err) != MD_OK) return 1;
    add_ns += md_clock_monotonic_ns() - t0;
    md_bm25_hit *hits = calloc(k, sizeof *hits);
    size_t found = 0;
    for (size_t q = 0; q < n_q; q++) {
        size_t n = 0;
        uint64_t a = md_clock_monotonic_ns();
        if (md_bm25_search(ix, queries[q], strlen(queries[q]), k, NULL, hits, &n, &err) != MD_OK) return 1;
        lat[q] = md_clock_monotonic_ns() - a;
        for (size_t j = 0; j < n; j++) found += hits[j].id == q * step;
    }
    qsort(lat, n_q, sizeof *lat, cmp_u64);
    double sum = 0;
    for (size_t q = 0; q < n_q; q++) sum += (double)lat[q];
    printf("{\"bench\":\"bm25\",\"cases\":%zu,\"text_mb\":%.1f,\"terms\":%zu,\"postings\":%llu,\"synth_s\":%.2f,"
           "\"build_s\":%.2f,\"queries\":%zu,\"k\":%zu,\"p50_ms\":%.3f,\"p99_ms\":%.3f,\"mean_ms\":%.3f,"
           "\"self_in_top_k\":%.3f}\n",
           n_cases, (double)text_bytes / 1e6, md_bm25_n_terms(ix), (unsigned long long)md_bm25_n_postings(ix),
           (double)gen_ns / 1e9, (double)add_ns / 1e9, n_q, k, (double)lat[n_q / 2] / 1e6,
           (double)lat[(n_q * 99) / 100 < n_q ? (n_q * 99) / 100 : n_q - 1] / 1e6, sum / (double)n_q / 1e6,
           (double)found / (double)n_q);
    for (size_t q = 0; q < n_q; q++) md_free(queries[q]);
    free(queries);
    free(lat);
    free(hits);
    md_bm25_free(ix);
    md_synth_free(s);
    md_kb_free(kb);
    return 0;
}
