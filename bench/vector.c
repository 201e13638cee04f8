/* bench/vector: medify's HNSW index on a Gaussian mixture (src/search/vec_gen.h),
 * dimension 384, against exact ground truth.
 *
 *   bench_vector [--n 100000] [--dim 384] [--queries 1000] [--k 10] [--m 16]
 *                [--ef-construction 200] [--ef 16,32,...] [--storage f32|q8]
 *                [--threads 2] [--write-data FILE | --read-data FILE] [--index FILE]
 *
 * Prints JSON lines: the data set, the build (seconds, index bytes, RSS growth),
 * then one line per ef_search with single-thread QPS (queries one at a time) and
 * recall@k. Ground truth is brute force in float32, split over --threads threads by
 * an atomic chunk counter. The metric is squared L2, the one hnswlib and FAISS
 * share. --write-data writes the vectors, queries and true neighbours so that
 * bench/compare (hnswlib, FAISS) measures the same data:
 *
 *   "MDVBENCH" | u32 version 1 | u32 dim | u64 n | u64 n_queries | u32 k |
 *   base (n, dim) f32 | queries (n_queries, dim) f32 | truth (n_queries, k) u32
 *
 * --read-data takes such a file instead of generating (and solving) the data again.
 * --index FILE loads the index from FILE when it exists (printing a "load" line with
 * the load time instead of the build) and otherwise builds it and saves it there, so
 * the query sweep can be repeated on a quiet machine without another build.
 */
#include "medify/vector.h"
#include "search/vec_gen.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BENCH_CLUSTERS 100  /* mixture components */
#define BENCH_LATENT   32   /* intrinsic dimension of a component */
#define BENCH_NOISE    0.1f /* isotropic noise on top */
#define BENCH_SEED     20260101u

typedef struct opts {
    size_t n, dim, n_queries, k, n_threads;
    uint32_t m, ef_construction;
    uint32_t efs[32];
    size_t n_efs;
    md_vstorage storage;
    const char *write_data;
    const char *read_data;
    const char *index_path;
} opts;

static double now_s(void) { return (double)md_clock_monotonic_ns() / 1e9; }
/* CPU time of the process: on a shared machine the wall clock measures the neighbours
 * too, so the build and the queries also report their CPU seconds. */
static double cpu_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static size_t rss_bytes(void) {
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long size = 0, rss = 0;
    if (f) {
        if (fscanf(f, "%lu %lu", &size, &rss) != 2) {
            rss = 0;
        }
        fclose(f);
    }
    return (size_t)rss * (size_t)sysconf(_SC_PAGESIZE);
}

/* ---- ground truth ---- */

typedef struct truth_job {
    const float *base, *queries;
    size_t n, dim, n_queries, k;
    uint32_t *truth; /* (n_queries, k) */
    atomic_size_t next;
} truth_job;

static void *truth_worker(void *arg) {
    truth_job *j = arg;
    float *best_d = malloc(j->k * sizeof(float));
    uint32_t *best_i = malloc(j->k * sizeof(uint32_t));
    for (;;) {
        size_t q = atomic_fetch_add(&j->next, 1);
        if (q >= j->n_queries) {
            break;
        }
        const float *qv = j->queries + q * j->dim;
        size_t n_best = 0;
        for (size_t i = 0; i < j->n; i++) {
            float d = md_vector_l2sq_f32(qv, j->base + i * j->dim, j->dim);
            if (n_best == j->k && d >= best_d[n_best - 1]) {
                continue;
            }
            size_t pos = n_best < j->k ? n_best++ : j->k - 1; /* insertion into a sorted list */
            while (pos > 0 && best_d[pos - 1] > d) {
                best_d[pos] = best_d[pos - 1];
                best_i[pos] = best_i[pos - 1];
                pos--;
            }
            best_d[pos] = d;
            best_i[pos] = (uint32_t)i;
        }
        memcpy(j->truth + q * j->k, best_i, j->k * sizeof(uint32_t));
    }
    free(best_d);
    free(best_i);
    return NULL;
}

static void ground_truth(truth_job *j, size_t n_threads) {
    pthread_t th[64];
    n_threads = n_threads < 1 ? 1 : (n_threads > 64 ? 64 : n_threads);
    atomic_init(&j->next, 0);
    for (size_t t = 0; t < n_threads; t++) {
        pthread_create(&th[t], NULL, truth_worker, j);
    }
    for (size_t t = 0; t < n_threads; t++) {
        pthread_join(th[t], NULL);
    }
}

static bool write_data(const char *path, const opts *o, const float *base, const float *queries,
                       const uint32_t *truth) {
    FILE *f = fopen(path, "wb");
    if (!f) {
        return false;
    }
    uint32_t version = 1, dim = (uint32_t)o->dim, k = (uint32_t)o->k;
    uint64_t n = o->n, nq = o->n_queries;
    bool ok = fwrite("MDVBENCH", 1, 8, f) == 8 && fwrite(&version, 4, 1, f) == 1 && fwrite(&dim, 4, 1, f) == 1 &&
              fwrite(&n, 8, 1, f) == 1 && fwrite(&nq, 8, 1, f) == 1 && fwrite(&k, 4, 1, f) == 1 &&
              fwrite(base, sizeof(float) * o->dim, o->n, f) == o->n &&
              fwrite(queries, sizeof(float) * o->dim, o->n_queries, f) == o->n_queries &&
              fwrite(truth, sizeof(uint32_t) * o->k, o->n_queries, f) == o->n_queries;
    return fclose(f) == 0 && ok;
}

/* Reads a --write-data file; sets o's sizes and allocates the three arrays. */
static bool read_data(const char *path, opts *o, float **base, float **queries, uint32_t **truth) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        return false;
    }
    char magic[8];
    uint32_t version = 0, dim = 0, k = 0;
    uint64_t n = 0, nq = 0;
    bool ok = fread(magic, 1, 8, f) == 8 && memcmp(magic, "MDVBENCH", 8) == 0 && fread(&version, 4, 1, f) == 1 &&
              version == 1 && fread(&dim, 4, 1, f) == 1 && fread(&n, 8, 1, f) == 1 && fread(&nq, 8, 1, f) == 1 &&
              fread(&k, 4, 1, f) == 1 && dim > 0 && dim <= 65536 && k > 0 && k <= n && n <= UINT32_MAX && nq > 0 &&
              nq <= (1u << 24);
    if (ok) {
        o->dim = dim, o->n = (size_t)n, o->n_queries = (size_t)nq, o->k = k;
        *base = malloc(o->n * o->dim * sizeof(float));
        *queries = malloc(o->n_queries * o->dim * sizeof(float));
        *truth = malloc(o->n_queries * o->k * sizeof(uint32_t));
        ok = *base && *queries && *truth && fread(*base, sizeof(float) * o->dim, o->n, f) == o->n &&
             fread(*queries, sizeof(float) * o->dim, o->n_queries, f) == o->n_queries &&
             fread(*truth, sizeof(uint32_t) * o->k, o->n_queries, f) == o->n_queries;
    }
    fclose(f);
    return ok;
}

static void parse_efs(opts *o, const char *s) {
    o->n_efs = 0;
    while (*s && o->n_efs < MD_ARRAY_LEN(o->efs)) {
        char *end;
        unsigned long x = strtoul(s, &end, 10);
        if (end == s) {
            break;
        }
        o->efs[o->n_efs++] = (uint32_t)x;
        s = *end == ',' ? end + 1 : end;
    }
}

int main(int argc, char **argv) {
    opts o = {.n = 100000,
              .dim = 384,
              .n_queries = 1000,
              .k = 10,
              .n_threads = 2,
              .m = 16,
              .ef_construction = 200,
              .storage = MD_VSTORAGE_F32};
    parse_efs(&o, "10,16,24,32,48,64,96,128,192,256,384,512,768,1024");
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : "";
        if (!strcmp(a, "--n")) {
            o.n = strtoull(val, NULL, 10), i++;
        } else if (!strcmp(a, "--dim")) {
            o.dim = strtoull(val, NULL, 10), i++;
        } else if (!strcmp(a, "--queries")) {
            o.n_queries = strtoull(val, NULL, 10), i++;
        } else if (!strcmp(a, "--k")) {
            o.k = strtoull(val, NULL, 10), i++;
        } else if (!strcmp(a, "--m")) {
            o.m = (uint32_t)strtoul(val, NULL, 10), i++;
        } else if (!strcmp(a, "--ef-construction")) {
            o.ef_construction = (uint32_t)strtoul(val, NULL, 10), i++;
        } else if (!strcmp(a, "--ef")) {
            parse_efs(&o, val), i++;
        } else if (!strcmp(a, "--threads")) {
            o.n_threads = strtoull(val, NULL, 10), i++;
        } else if (!strcmp(a, "--storage")) {
            o.storage = !strcmp(val, "q8") ? MD_VSTORAGE_Q8 : MD_VSTORAGE_F32, i++;
        } else if (!strcmp(a, "--write-data")) {
            o.write_data = val, i++;
        } else if (!strcmp(a, "--read-data")) {
            o.read_data = val, i++;
        } else if (!strcmp(a, "--index")) {
            o.index_path = val, i++;
        } else {
            fprintf(stderr,
                    "usage: %s [--n N] [--dim D] [--queries Q] [--k K] [--m M] [--ef-construction E]\n"
                    "          [--ef a,b,c] [--storage f32|q8] [--threads T] [--write-data FILE]\n"
                    "          [--read-data FILE] [--index FILE]\n",
                    argv[0]);
            return 64;
        }
    }
    if (o.n == 0 || o.dim == 0 || o.n_queries == 0 || o.k == 0 || o.k > o.n || o.n > UINT32_MAX) {
        fprintf(stderr, "bad sizes\n");
        return 64;
    }

    float *base = NULL, *queries = NULL;
    uint32_t *truth = NULL;
    double t_gen = 0.0, t_truth = 0.0, t0;
    if (o.read_data) {
        if (!read_data(o.read_data, &o, &base, &queries, &truth)) {
            fprintf(stderr, "cannot read %s\n", o.read_data);
            return 65;
        }
    } else {
        mdv_gen g;
        base = malloc(o.n * o.dim * sizeof(float));
        queries = malloc(o.n_queries * o.dim * sizeof(float));
        truth = malloc(o.n_queries * o.k * sizeof(uint32_t));
        if (!base || !queries || !truth ||
            !mdv_gen_init(&g, o.dim, BENCH_CLUSTERS, BENCH_LATENT, BENCH_NOISE, BENCH_SEED)) {
            fprintf(stderr, "out of memory\n");
            return 70;
        }
        t0 = now_s();
        mdv_gen_points(&g, BENCH_SEED + 1, base, o.n);
        mdv_gen_points(&g, BENCH_SEED + 2, queries, o.n_queries);
        mdv_gen_free(&g);
        t_gen = now_s() - t0;
        t0 = now_s();
        truth_job job = {.base = base,
                         .queries = queries,
                         .n = o.n,
                         .dim = o.dim,
                         .n_queries = o.n_queries,
                         .k = o.k,
                         .truth = truth};
        ground_truth(&job, o.n_threads);
        t_truth = now_s() - t0;
    }
    printf("{\"bench\":\"vector\",\"event\":\"data\",\"n\":%zu,\"dim\":%zu,\"queries\":%zu,\"k\":%zu,"
           "\"clusters\":%d,\"latent\":%d,\"noise\":%.2f,\"metric\":\"l2\",\"generate_s\":%.2f,"
           "\"truth_s\":%.2f,\"truth_threads\":%zu,\"kernel\":\"%s\",\"from_file\":%s}\n",
           o.n, o.dim, o.n_queries, o.k, BENCH_CLUSTERS, BENCH_LATENT, (double)BENCH_NOISE, t_gen, t_truth, o.n_threads,
           md_vector_kernel_name(), o.read_data ? "true" : "false");
    fflush(stdout);
    if (o.write_data && !write_data(o.write_data, &o, base, queries, truth)) {
        fprintf(stderr, "cannot write %s\n", o.write_data);
        return 74;
    }

    md_vindex_params p = md_vindex_default_params((uint32_t)o.dim);
    p.metric = MD_METRIC_L2;
    p.storage = o.storage;
    p.m = o.m;
    p.ef_construction = o.ef_construction;
    md_vindex *v = NULL;
    md_error err;
    const char *storage = o.storage == MD_VSTORAGE_Q8 ? "q8" : "f32";
    if (o.index_path && access(o.index_path, R_OK) == 0) {
        t0 = now_s();
        if (md_vindex_load(o.index_path, &v, &err) != MD_OK) {
            fprintf(stderr, "%s: %s\n", o.index_path, err.message);
            return 65;
        }
        printf("{\"bench\":\"vector\",\"event\":\"load\",\"lib\":\"medify\",\"n\":%zu,\"load_s\":%.3f}\n",
               md_vindex_size(v), now_s() - t0);
        fflush(stdout);
    } else {
        if (md_vindex_new(p, &v, &err) != MD_OK) {
            fprintf(stderr, "%s\n", err.message);
            return 70;
        }
        size_t rss0 = rss_bytes();
        t0 = now_s();
        double c0 = cpu_s();
        for (size_t i = 0; i < o.n; i++) {
            if (md_vindex_add(v, i, base + i * o.dim, &err) != MD_OK) {
                fprintf(stderr, "%s\n", err.message);
                return 70;
            }
        }
        double t_build = now_s() - t0, c_build = cpu_s() - c0;
        printf("{\"bench\":\"vector\",\"event\":\"build\",\"lib\":\"medify\",\"storage\":\"%s\",\"n\":%zu,\"m\":%u,"
               "\"ef_construction\":%u,\"build_s\":%.2f,\"build_cpu_s\":%.2f,\"index_bytes\":%zu,"
               "\"rss_growth_bytes\":%zu,\"threads\":1}\n",
               storage, o.n, o.m, o.ef_construction, t_build, c_build, md_vindex_memory_bytes(v), rss_bytes() - rss0);
        fflush(stdout);
        if (o.index_path && md_vindex_save(v, o.index_path, &err) != MD_OK) {
            fprintf(stderr, "%s: %s\n", o.index_path, err.message);
            return 74;
        }
    }

    md_vhit *hits = malloc(o.k * sizeof(md_vhit));
    for (size_t e = 0; e < o.n_efs; e++) {
        md_vindex_set_ef_search(v, o.efs[e]);
        size_t n_found = 0;
        t0 = now_s();
        double c0 = cpu_s();
        for (size_t q = 0; q < o.n_queries; q++) {
            size_t n_hits = 0;
            md_vindex_search(v, queries + q * o.dim, o.k, NULL, NULL, hits, &n_hits, &err);
            const uint32_t *t = truth + q * o.k;
            for (size_t i = 0; i < n_hits; i++) {
                for (size_t j = 0; j < o.k; j++) {
                    if (hits[i].id == t[j]) {
                        n_found++;
                        break;
                    }
                }
            }
        }
        double t_search = now_s() - t0, c_search = cpu_s() - c0;
        printf("{\"bench\":\"vector\",\"event\":\"search\",\"lib\":\"medify\",\"storage\":\"%s\",\"n\":%zu,"
               "\"ef_search\":%u,\"qps\":%.1f,\"qps_cpu\":%.1f,\"recall_at_k\":%.4f,\"k\":%zu,\"threads\":1}\n",
               storage, o.n, o.efs[e], (double)o.n_queries / t_search, (double)o.n_queries / c_search,
               (double)n_found / (double)(o.n_queries * o.k), o.k);
        fflush(stdout);
    }
    free(hits);
    md_vindex_free(v);
    free(base);
    free(queries);
    free(truth);
    return 0;
}
