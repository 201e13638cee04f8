/* Recall of the HNSW index against brute force at every stage of an index's life:
 * build, incremental insert, delete (tombstones never returned), compaction, save +
 * load (identical answers, then inserts into the loaded copy), for every metric and
 * both storages, and filtered search (id parity, an id range, a 1% filter) whose hits
 * must all pass the filter while recall stays high.
 *
 * Data: a fixed-seed Gaussian mixture with low-rank clusters (src/search/vec_gen.h),
 * queries drawn from the same mixture with another seed. Truth: the exact (flat)
 * float32 index with the same metric and filter, so q8 recall includes the
 * quantisation error. The floors below are measured results less a margin for the
 * platform; raise them when the index improves, never lower them to pass a change.
 */
#include "check.h"
#include "medify/vector.h"
#include "search/vec_gen.h"

#include <stdlib.h>
#include <unistd.h>

#define N_LIFECYCLE     10000 /* the lifecycle runs on the full set (ASan budget: ~20 s) */
#define N_MATRIX        2000  /* each other metric x storage pair */
#define DIM             64
#define N_QUERIES       100
#define K               10
#define EF_CONSTRUCTION 48
#define EF_SEARCH       32

#define GEN_CLUSTERS 32
#define GEN_LATENT   16
#define GEN_NOISE    0.2f

#define RECALL_FLOOR_F32       0.97 /* measured 0.99..1.00 across the stages (n = 10,000) */
#define RECALL_FLOOR_Q8        0.95 /* measured 0.99..1.00: includes quantisation error */
#define RECALL_FLOOR_INNER     0.97 /* inner product: measured 0.99..1.00 */
#define RECALL_FLOOR_FILTERED  0.97 /* parity and range filters: measured 0.999..1.000 */
#define RECALL_FLOOR_SELECTIVE 0.95 /* 1% of ids pass: measured 0.999 */

typedef struct data {
    float *base;    /* (N_LIFECYCLE, DIM) */
    float *queries; /* (N_QUERIES, DIM) */
} data;

static uint64_t id_of(size_t i) { return 1000 + (uint64_t)i * 3; /* not positions: positions would hide id bugs */ }

typedef struct range {
    uint64_t lo, hi; /* [lo, hi) */
    int parity;      /* -1: any; 0: even ids; 1: odd ids */
    uint64_t modulo; /* 0: any; else every modulo-th vector (by position) */
} range;

static bool range_filter(uint64_t id, void *ctx) {
    const range *r = ctx;
    if (id < r->lo || id >= r->hi) {
        return false;
    }
    if (r->parity >= 0 && (int)(id % 2) != r->parity) {
        return false;
    }
    return r->modulo == 0 || ((id - 1000) / 3) % r->modulo == 0;
}

static md_vindex *new_index(md_vindex_kind kind, md_metric metric, md_vstorage storage) {
    md_vindex_params p = md_vindex_default_params(DIM);
    p.kind = kind;
    p.metric = metric;
    p.storage = storage;
    p.ef_construction = EF_CONSTRUCTION;
    p.ef_search = EF_SEARCH;
    p.seed = 42;
    md_vindex *v = NULL;
    md_error err;
    if (md_vindex_new(p, &v, &err) != MD_OK) {
        fprintf(stderr, "md_vindex_new: %s\n", err.message);
        exit(1);
    }
    return v;
}

static void add_range(md_vindex *v, const data *d, size_t from, size_t to) {
    md_error err;
    for (size_t i = from; i < to; i++) {
        md_status st = md_vindex_add(v, id_of(i), d->base + i * DIM, &err);
        if (st != MD_OK) {
            fprintf(stderr, "add %zu: %s\n", i, err.message);
            exit(1);
        }
    }
}

/* Mean recall@K of v against truth over all queries; checks every hit passes the
 * filter and is not in `gone` (ids that must never come back). */
static double recall(const char *stage, const md_vindex *v, const md_vindex *truth, md_vfilter filter, void *ctx,
                     const data *d, bool (*gone)(uint64_t)) {
    size_t n_found = 0, n_total = 0, n_bad = 0, n_short = 0;
    uint64_t t0 = md_clock_monotonic_ns();
    md_error err;
    for (size_t q = 0; q < N_QUERIES; q++) {
        md_vhit hits[K], exact[K];
        size_t n_hits = 0, n_exact = 0;
        CHECK(md_vindex_search(v, d->queries + q * DIM, K, filter, ctx, hits, &n_hits, &err) == MD_OK);
        CHECK(md_vindex_search(truth, d->queries + q * DIM, K, filter, ctx, exact, &n_exact, &err) == MD_OK);
        n_short += n_hits < n_exact;
        for (size_t i = 0; i < n_hits; i++) {
            bool ok = (!filter || filter(hits[i].id, ctx)) && (!gone || !gone(hits[i].id));
            n_bad += !ok;
            if (i > 0 && hits[i].distance < hits[i - 1].distance) {
                n_bad++;
            }
            for (size_t j = 0; j < n_exact; j++) {
                if (hits[i].id == exact[j].id) {
                    n_found++;
                    break;
                }
            }
        }
        n_total += n_exact;
    }
    double r = n_total ? (double)n_found / (double)n_total : 1.0;
    fprintf(stderr, "  %-40s recall@%d = %.4f  (%.2f s)\n", stage, K, r, (double)(md_clock_monotonic_ns() - t0) / 1e9);
    CHECK_MSG(n_bad == 0, "%s: %zu hits fail the filter, are deleted or out of order", stage, n_bad);
    CHECK_MSG(n_short == 0, "%s: %zu queries returned fewer hits than exist", stage, n_short);
    return r;
}

/* Filters applied inside the beam: every hit passes, recall stays high, a filter
 * nothing passes returns nothing. */
static void test_filtered(const md_vindex *v, const md_vindex *truth, const data *d, size_t n) {
    range even = {0, UINT64_MAX, 0, 0};
    range odd_band = {id_of(n / 4), id_of(n * 3 / 4), 1, 0};
    range band = {id_of(n / 3), id_of(n * 2 / 3), -1, 0};
    range rare = {0, UINT64_MAX, -1, 100}; /* every 100th vector */
    CHECK(recall("filter: even ids", v, truth, range_filter, &even, d, NULL) >= RECALL_FLOOR_FILTERED);
    CHECK(recall("filter: odd ids in a range", v, truth, range_filter, &odd_band, d, NULL) >= RECALL_FLOOR_FILTERED);
    CHECK(recall("filter: id range", v, truth, range_filter, &band, d, NULL) >= RECALL_FLOOR_FILTERED);
    if (n >= N_LIFECYCLE) { /* a small set has fewer passing nodes than ef: a full walk */
        CHECK(recall("filter: 1% of ids", v, truth, range_filter, &rare, d, NULL) >= RECALL_FLOOR_SELECTIVE);
    }
    range none = {1, 2, -1, 0};
    md_vhit hits[K];
    size_t n_hits = 99;
    md_error err;
    CHECK(md_vindex_search(v, d->queries, K, range_filter, &none, hits, &n_hits, &err) == MD_OK);
    CHECK_EQ_INT(n_hits, 0);
}

static bool gone_mod10(uint64_t id) { return ((id - 1000) / 3) % 10 == 3; }

static void test_lifecycle(const data *d, md_metric metric, md_vstorage storage, double floor, size_t n) {
    fprintf(stderr, "lifecycle metric=%d storage=%d n=%zu\n", (int)metric, (int)storage, n);
    md_error err;
    md_vindex *v = new_index(MD_VINDEX_HNSW, metric, storage);
    md_vindex *truth = new_index(MD_VINDEX_FLAT, metric, MD_VSTORAGE_F32);
    size_t n_build = n * 4 / 5;

    add_range(v, d, 0, n_build);
    add_range(truth, d, 0, n_build);
    CHECK(recall("build", v, truth, NULL, NULL, d, NULL) >= floor);

    add_range(v, d, n_build, n);
    add_range(truth, d, n_build, n);
    CHECK(recall("incremental insert", v, truth, NULL, NULL, d, NULL) >= floor);
    test_filtered(v, truth, d, n);

    for (size_t i = 0; i < n; i++) {
        if (gone_mod10(id_of(i))) {
            CHECK(md_vindex_delete(v, id_of(i), &err) == MD_OK);
            CHECK(md_vindex_delete(truth, id_of(i), &err) == MD_OK);
        }
    }
    CHECK_EQ_INT(md_vindex_size(v), n - n / 10);
    CHECK(recall("delete (tombstones)", v, truth, NULL, NULL, d, gone_mod10) >= floor);

    CHECK(md_vindex_compact(v, &err) == MD_OK);
    CHECK_EQ_INT(md_vindex_size(v), n - n / 10);
    CHECK(recall("compaction", v, truth, NULL, NULL, d, gone_mod10) >= floor);

    char path[] = "/tmp/medify-recall-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    close(fd);
    CHECK(md_vindex_save(v, path, &err) == MD_OK);
    md_vindex *loaded = NULL;
    CHECK(md_vindex_load(path, &loaded, &err) == MD_OK);
    if (loaded) {
        size_t n_same = 0;
        for (size_t q = 0; q < N_QUERIES; q++) {
            md_vhit a[K], b[K];
            size_t na = 0, nb = 0;
            md_vindex_search(v, d->queries + q * DIM, K, NULL, NULL, a, &na, &err);
            md_vindex_search(loaded, d->queries + q * DIM, K, NULL, NULL, b, &nb, &err);
            bool same = na == nb;
            for (size_t i = 0; same && i < na; i++) {
                same = a[i].id == b[i].id && a[i].distance == b[i].distance;
            }
            n_same += same;
        }
        CHECK_EQ_INT(n_same, N_QUERIES);
        CHECK(recall("save + load", loaded, truth, NULL, NULL, d, gone_mod10) >= floor);
        /* Copy-on-write: the loaded index takes back the deleted ids. */
        for (size_t i = 0; i < n; i++) {
            if (gone_mod10(id_of(i))) {
                CHECK(md_vindex_add(loaded, id_of(i), d->base + i * DIM, &err) == MD_OK);
                CHECK(md_vindex_add(truth, id_of(i), d->base + i * DIM, &err) == MD_OK);
            }
        }
        CHECK_EQ_INT(md_vindex_size(loaded), n);
        CHECK(recall("load + insert", loaded, truth, NULL, NULL, d, NULL) >= floor);
        md_vindex_free(loaded);
    }
    unlink(path);
    md_vindex_free(v);
    md_vindex_free(truth);
}

/* The whole lifecycle for every metric x storage pair, on a smaller set. */
static void test_matrix(const data *d) {
    static const struct {
        md_metric metric;
        md_vstorage storage;
        double floor;
    } cases[] = {
        {MD_METRIC_L2, MD_VSTORAGE_F32, RECALL_FLOOR_F32},
        {MD_METRIC_INNER_PRODUCT, MD_VSTORAGE_F32, RECALL_FLOOR_INNER},
        {MD_METRIC_COSINE, MD_VSTORAGE_Q8, RECALL_FLOOR_Q8},
        {MD_METRIC_INNER_PRODUCT, MD_VSTORAGE_Q8, RECALL_FLOOR_Q8},
        {MD_METRIC_L2, MD_VSTORAGE_Q8, RECALL_FLOOR_Q8},
    };
    for (size_t c = 0; c < MD_ARRAY_LEN(cases); c++) {
        test_lifecycle(d, cases[c].metric, cases[c].storage, cases[c].floor, N_MATRIX);
    }
}

int main(void) {
    mdv_gen g;
    data d;
    if (!mdv_gen_init(&g, DIM, GEN_CLUSTERS, GEN_LATENT, GEN_NOISE, 7)) {
        return 1;
    }
    d.base = malloc((size_t)N_LIFECYCLE * DIM * sizeof(float));
    d.queries = malloc((size_t)N_QUERIES * DIM * sizeof(float));
    mdv_gen_points(&g, 11, d.base, N_LIFECYCLE);
    mdv_gen_points(&g, 13, d.queries, N_QUERIES);
    fprintf(stderr, "kernel: %s\n", md_vector_kernel_name());
    uint64_t t0 = md_clock_monotonic_ns();
    test_lifecycle(&d, MD_METRIC_COSINE, MD_VSTORAGE_F32, RECALL_FLOOR_F32, N_LIFECYCLE);
    fprintf(stderr, "  (%.1f s)\n", (double)(md_clock_monotonic_ns() - t0) / 1e9);
    test_matrix(&d);
    fprintf(stderr, "  (%.1f s)\n", (double)(md_clock_monotonic_ns() - t0) / 1e9);
    free(d.base);
    free(d.queries);
    mdv_gen_free(&g);
    return check_report("test_recall");
}
