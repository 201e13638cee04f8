/* Vector index unit tests: every distance kernel against the scalar reference, the
 * quantiser's error bound, the API contract (params, ids, conflicts, tombstones,
 * re-adding a deleted id, NaN, k larger than the index, empty index), the flat index
 * against a naive scan, save/load round trips, one corrupt file per failure class
 * (truncated, bad magic, bad version, bad checksum, bad counts, bad link, bad
 * offset) each giving a clean error, an OOM loop over every entry point, and
 * concurrent searches on one index. */
#include "check.h"
#include "medify/vector.h"
#include "search/vec_gen.h"
#include "search/vec_index.h"
#include "search/vec_io.h"

#include <pthread.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#define MD_TEST_KERNEL_REL_TOL 1e-5 /* relative to sum |a_i b_i|: float reassociation only */
#define DIM                    24

static float *make_points(size_t n, size_t dim, uint64_t seed) {
    mdv_gen g;
    float *x = malloc(n * dim * sizeof(float));
    if (!x || !mdv_gen_init(&g, dim, 4, 4, 0.2f, seed)) {
        exit(1);
    }
    mdv_gen_points(&g, seed + 1, x, n);
    mdv_gen_free(&g);
    return x;
}

static void test_kernels(void) {
    const mdv_kernels *all[4];
    size_t n_kernels = mdv_kernels_all(all, 4);
    CHECK(n_kernels >= 1);
    CHECK_EQ_STR(all[0]->name, "scalar");
    fprintf(stderr, "kernels:");
    for (size_t i = 0; i < n_kernels; i++) {
        fprintf(stderr, " %s", all[i]->name);
    }
    fprintf(stderr, " (chosen: %s)\n", md_vector_kernel_name());
    float a[520], b[520];
    uint8_t c[520];
    uint64_t s = 5;
    for (size_t i = 0; i < 520; i++) {
        a[i] = mdv_gen_normal(&s);
        b[i] = mdv_gen_normal(&s);
        c[i] = (uint8_t)(mdv_gen_u64(&s) & 0xff);
    }
    static const size_t lens[] = {0, 1, 3, 7, 8, 15, 16, 17, 31, 32, 33, 64, 100, 384, 519};
    const mdv_kernels *ref = mdv_kernels_ref();
    for (size_t k = 0; k < n_kernels; k++) {
        for (size_t li = 0; li < MD_ARRAY_LEN(lens); li++) {
            size_t n = lens[li];
            double mag_dot = 0, mag_l2 = 0, mag_u8 = 0;
            for (size_t i = 0; i < n; i++) {
                mag_dot += fabs((double)a[i] * b[i]);
                mag_l2 += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
                mag_u8 += fabs((double)a[i] * c[i]);
            }
            double tol_dot = MD_TEST_KERNEL_REL_TOL * (mag_dot + 1e-6);
            CHECK_NEAR(all[k]->dot_f32(a + 1, b + 1, n ? n - 1 : 0), ref->dot_f32(a + 1, b + 1, n ? n - 1 : 0),
                       tol_dot); /* unaligned */
            CHECK_NEAR(all[k]->dot_f32(a, b, n), ref->dot_f32(a, b, n), tol_dot);
            CHECK_NEAR(all[k]->l2sq_f32(a, b, n), ref->l2sq_f32(a, b, n), MD_TEST_KERNEL_REL_TOL * (mag_l2 + 1e-6));
            CHECK_NEAR(all[k]->dot_f32_u8(a, c, n), ref->dot_f32_u8(a, c, n), MD_TEST_KERNEL_REL_TOL * (mag_u8 + 1e-6));
        }
    }
    CHECK_NEAR(md_vector_dot_f32(a, b, 384), ref->dot_f32(a, b, 384), 1e-3);
    CHECK_NEAR(md_vector_l2sq_f32(a, b, 384), ref->l2sq_f32(a, b, 384), 1e-3);
}

static void test_quant(void) {
    float x[100], y[100];
    uint8_t block[MDV_Q8_HEADER_BYTES + 100];
    uint64_t s = 9;
    float lo = 1e9f, hi = -1e9f;
    for (size_t i = 0; i < 100; i++) {
        x[i] = mdv_gen_normal(&s) * 3.0f;
        lo = x[i] < lo ? x[i] : lo;
        hi = x[i] > hi ? x[i] : hi;
    }
    mdv_q8_encode(x, 100, block);
    mdv_q8_decode(block, 100, y);
    float half_step = (hi - lo) / 255.0f / 2.0f;
    size_t n_bad = 0;
    for (size_t i = 0; i < 100; i++) {
        n_bad += fabsf(x[i] - y[i]) > half_step * 1.001f + 1e-6f;
    }
    CHECK_EQ_INT(n_bad, 0);
    float same[5] = {2, 2, 2, 2, 2}; /* zero range: scale 0 */
    mdv_q8_encode(same, 5, block);
    mdv_q8_decode(block, 5, y);
    CHECK_NEAR(y[3], 2.0, 1e-6);
}

static md_vindex *make_index(md_vindex_kind kind, md_metric metric, md_vstorage storage, const float *x, size_t n) {
    md_vindex_params p = md_vindex_default_params(DIM);
    p.kind = kind;
    p.metric = metric;
    p.storage = storage;
    p.m = 8;
    p.ef_construction = 40;
    md_vindex *v = NULL;
    md_error err;
    if (md_vindex_new(p, &v, &err) != MD_OK) {
        fprintf(stderr, "%s\n", err.message);
        exit(1);
    }
    for (size_t i = 0; i < n; i++) {
        if (md_vindex_add(v, 100 + i, x + i * DIM, &err) != MD_OK) {
            fprintf(stderr, "%s\n", err.message);
            exit(1);
        }
    }
    return v;
}

static void test_api(void) {
    md_error err;
    md_vindex *v = NULL;
    md_vindex_params p = md_vindex_default_params(0);
    CHECK(md_vindex_new(p, &v, &err) == MD_ERR_INVALID_ARG);
    p = md_vindex_default_params(DIM);
    p.m = 1;
    CHECK(md_vindex_new(p, &v, &err) == MD_ERR_INVALID_ARG);
    p = md_vindex_default_params(DIM);
    p.metric = (md_metric)7;
    CHECK(md_vindex_new(p, &v, &err) == MD_ERR_INVALID_ARG);
    CHECK(v == NULL);

    float *x = make_points(300, DIM, 3);
    v = make_index(MD_VINDEX_HNSW, MD_METRIC_L2, MD_VSTORAGE_F32, x, 0);
    md_vhit hits[400];
    size_t n_hits = 77;
    CHECK(md_vindex_search(v, x, 5, NULL, NULL, hits, &n_hits, &err) == MD_OK); /* empty index */
    CHECK_EQ_INT(n_hits, 0);
    for (size_t i = 0; i < 300; i++) {
        CHECK(md_vindex_add(v, 100 + i, x + i * DIM, &err) == MD_OK);
    }
    CHECK_EQ_INT(md_vindex_size(v), 300);
    CHECK(md_vindex_add(v, 100, x, &err) == MD_ERR_CONFLICT);
    CHECK(md_vindex_delete(v, 5, &err) == MD_ERR_NOT_FOUND);
    float bad[DIM] = {0};
    bad[3] = NAN;
    CHECK(md_vindex_add(v, 9999, bad, &err) == MD_ERR_INVALID_ARG);
    CHECK(md_vindex_search(v, bad, 3, NULL, NULL, hits, &n_hits, &err) == MD_ERR_INVALID_ARG);

    /* Exact self-match, k > size, sorted output. */
    CHECK(md_vindex_search(v, x + 17 * DIM, 1000, NULL, NULL, hits, &n_hits, &err) == MD_OK);
    CHECK_EQ_INT(n_hits, 300);
    CHECK_EQ_INT(hits[0].id, 117);
    CHECK_NEAR(hits[0].distance, 0.0, 1e-4);
    size_t n_unsorted = 0;
    for (size_t i = 1; i < n_hits; i++) {
        n_unsorted += hits[i].distance < hits[i - 1].distance;
    }
    CHECK_EQ_INT(n_unsorted, 0);

    /* Tombstones: never returned; a deleted id can come back with a new vector. */
    CHECK(md_vindex_delete(v, 117, &err) == MD_OK);
    CHECK(md_vindex_delete(v, 117, &err) == MD_ERR_NOT_FOUND);
    CHECK_EQ_INT(md_vindex_size(v), 299);
    CHECK(md_vindex_search(v, x + 17 * DIM, 10, NULL, NULL, hits, &n_hits, &err) == MD_OK);
    for (size_t i = 0; i < n_hits; i++) {
        CHECK(hits[i].id != 117);
    }
    CHECK(md_vindex_add(v, 117, x + 18 * DIM, &err) == MD_OK);
    CHECK(md_vindex_search(v, x + 18 * DIM, 2, NULL, NULL, hits, &n_hits, &err) == MD_OK);
    CHECK_EQ_INT(n_hits, 2);
    CHECK((hits[0].id == 117 && hits[1].id == 118) || (hits[0].id == 118 && hits[1].id == 117));
    CHECK(md_vindex_compact(v, &err) == MD_OK);
    CHECK_EQ_INT(md_vindex_size(v), 300);
    CHECK(md_vindex_search(v, x + 18 * DIM, 2, NULL, NULL, hits, &n_hits, &err) == MD_OK);
    CHECK(hits[0].id == 117 || hits[0].id == 118);
    CHECK(md_vindex_memory_bytes(v) > 300 * DIM * sizeof(float));
    CHECK_EQ_INT(md_vindex_get_params(v).dim, DIM);
    md_vindex_set_ef_search(v, 128);
    CHECK_EQ_INT(md_vindex_get_params(v).ef_search, 128);
    md_vindex_free(v);

    /* Cosine: a zero vector cannot be normalised. */
    v = make_index(MD_VINDEX_FLAT, MD_METRIC_COSINE, MD_VSTORAGE_F32, x, 0);
    float zero[DIM] = {0};
    CHECK(md_vindex_add(v, 1, zero, &err) == MD_ERR_INVALID_ARG);
    md_vindex_free(v);
    free(x);
}

/* Flat search is exact: compare with a naive scan for every metric and storage. */
static void test_flat_exact(void) {
    float *x = make_points(200, DIM, 21);
    static const md_metric metrics[] = {MD_METRIC_COSINE, MD_METRIC_INNER_PRODUCT, MD_METRIC_L2};
    for (size_t mi = 0; mi < 3; mi++) {
        md_vindex *v = make_index(MD_VINDEX_FLAT, metrics[mi], MD_VSTORAGE_F32, x, 200);
        md_vindex *q8 = make_index(MD_VINDEX_FLAT, metrics[mi], MD_VSTORAGE_Q8, x, 200);
        for (size_t q = 0; q < 10; q++) {
            const float *qv = x + (q * 13 + 5) * DIM;
            md_vhit hits[5], hq[5];
            size_t n_hits = 0, n_q = 0;
            md_error err;
            CHECK(md_vindex_search(v, qv, 5, NULL, NULL, hits, &n_hits, &err) == MD_OK);
            CHECK(md_vindex_search(q8, qv, 5, NULL, NULL, hq, &n_q, &err) == MD_OK);
            CHECK_EQ_INT(n_hits, 5);
            CHECK_EQ_INT(n_q, 5);
            /* naive best */
            double best = INFINITY;
            size_t best_i = 0;
            double qn = sqrt(md_vector_dot_f32(qv, qv, DIM));
            for (size_t i = 0; i < 200; i++) {
                const float *xi = x + i * DIM;
                double dot = md_vector_dot_f32(qv, xi, DIM), d;
                if (metrics[mi] == MD_METRIC_L2) {
                    d = md_vector_l2sq_f32(qv, xi, DIM);
                } else if (metrics[mi] == MD_METRIC_INNER_PRODUCT) {
                    d = -dot;
                } else {
                    d = 1.0 - dot / (qn * sqrt(md_vector_dot_f32(xi, xi, DIM)));
                }
                if (d < best) {
                    best = d;
                    best_i = i;
                }
            }
            CHECK_EQ_INT(hits[0].id, 100 + best_i);
            CHECK_NEAR(hits[0].distance, best, 1e-3 * (1.0 + fabs(best)));
            CHECK_NEAR(hq[0].distance, best, 0.05 * (1.0 + fabs(best))); /* quantised */
        }
        md_vindex_free(v);
        md_vindex_free(q8);
    }
    free(x);
}

static char *temp_path(void) {
    static char path[64];
    snprintf(path, sizeof(path), "/tmp/medify-vec-XXXXXX");
    int fd = mkstemp(path);
    if (fd >= 0) {
        close(fd);
    }
    return path;
}

static void test_save_load(void) {
    float *x = make_points(500, DIM, 31);
    md_error err;
    for (int kind = 0; kind < 2; kind++) {
        for (int storage = 0; storage < 2; storage++) {
            md_vindex *v = make_index((md_vindex_kind)kind, MD_METRIC_COSINE, (md_vstorage)storage, x, 500);
            CHECK(md_vindex_delete(v, 110, &err) == MD_OK); /* tombstones survive a reload */
            char *path = temp_path();
            CHECK(md_vindex_save(v, path, &err) == MD_OK);
            CHECK(md_vindex_verify_file(path, &err) == MD_OK);
            md_vindex *w = NULL;
            CHECK(md_vindex_load(path, &w, &err) == MD_OK);
            if (w) {
                CHECK_EQ_INT(md_vindex_size(w), 499);
                CHECK_EQ_INT(md_vindex_get_params(w).storage, storage);
                md_vhit a[10], b[10];
                size_t na = 0, nb = 0;
                CHECK(md_vindex_search(v, x + 10 * DIM, 10, NULL, NULL, a, &na, &err) == MD_OK);
                CHECK(md_vindex_search(w, x + 10 * DIM, 10, NULL, NULL, b, &nb, &err) == MD_OK);
                CHECK_EQ_INT(na, nb);
                for (size_t i = 0; i < na && i < nb; i++) {
                    CHECK_EQ_INT(a[i].id, b[i].id);
                    CHECK(a[i].id != 110);
                }
                CHECK(md_vindex_delete(w, 110, &err) == MD_ERR_NOT_FOUND);
                CHECK(md_vindex_add(w, 110, x + 10 * DIM, &err) == MD_OK); /* copy-on-write */
                CHECK(md_vindex_search(w, x + 10 * DIM, 1, NULL, NULL, b, &nb, &err) == MD_OK);
                CHECK_EQ_INT(b[0].id, 110);
                md_vindex_free(w);
            }
            unlink(path);
            md_vindex_free(v);
        }
    }
    /* An empty index saves and loads. */
    md_vindex *e = make_index(MD_VINDEX_HNSW, MD_METRIC_L2, MD_VSTORAGE_F32, x, 0);
    char *path = temp_path();
    CHECK(md_vindex_save(e, path, &err) == MD_OK);
    md_vindex *w = NULL;
    CHECK(md_vindex_load(path, &w, &err) == MD_OK);
    CHECK_EQ_INT(md_vindex_size(w), 0);
    md_vindex_free(w);
    md_vindex_free(e);
    unlink(path);
    CHECK(md_vindex_load("/nonexistent/medify.vec", &w, &err) == MD_ERR_NOT_FOUND);
    CHECK(md_vindex_save(e = make_index(MD_VINDEX_FLAT, MD_METRIC_L2, MD_VSTORAGE_F32, x, 3), "/nonexistent/x.vec",
                         &err) == MD_ERR_IO);
    md_vindex_free(e);
    free(x);
}

/* ---- corrupt files: one per failure class ---- */

static unsigned char *slurp(const char *path, size_t *n) {
    char *data = NULL;
    md_read_file(path, 1u << 26, &data, n, NULL);
    return (unsigned char *)data;
}

static void spit(const char *path, const unsigned char *data, size_t n) {
    FILE *f = fopen(path, "wb");
    fwrite(data, 1, n, f);
    fclose(f);
}

static void reseal(unsigned char *data, size_t n) {
    uint32_t zero = 0;
    memcpy(data + MDV_FILE_OFF_CHECKSUM, &zero, 4);
    uint32_t crc = mdv_crc32c(0, data + MDV_FILE_HEADER_BYTES, n - MDV_FILE_HEADER_BYTES);
    crc = mdv_crc32c(crc, data, MDV_FILE_HEADER_BYTES);
    memcpy(data + MDV_FILE_OFF_CHECKSUM, &crc, 4);
}

static void expect_error(const char *what, const unsigned char *data, size_t n, md_status want) {
    char *path = temp_path();
    spit(path, data, n);
    md_vindex *v = NULL;
    md_error err;
    md_error_clear(&err);
    md_status st = md_vindex_load(path, &v, &err);
    CHECK_MSG(st == want, "%s: got %s (%s)", what, md_status_name(st), err.message);
    CHECK(v == NULL);
    md_vindex_free(v);
    CHECK(md_vindex_verify_file(path, &err) == want);
    unlink(path);
}

static void test_corrupt(void) {
    float *x = make_points(200, DIM, 41);
    md_vindex *v = make_index(MD_VINDEX_HNSW, MD_METRIC_L2, MD_VSTORAGE_F32, x, 200);
    char *path = temp_path();
    md_error err;
    CHECK(md_vindex_save(v, path, &err) == MD_OK);
    size_t n = 0;
    unsigned char *good = slurp(path, &n);
    unlink(path);
    CHECK(good && n > MDV_FILE_HEADER_BYTES);
    if (!good) {
        return;
    }
    unsigned char *b = malloc(n);

    expect_error("empty", good, 0, MD_ERR_PARSE);
    expect_error("truncated header", good, 100, MD_ERR_PARSE);
    expect_error("truncated body", good, n - 1000, MD_ERR_PARSE);
    expect_error("truncated by one byte", good, n - 1, MD_ERR_PARSE);

    memcpy(b, good, n);
    b[0] = 'X';
    expect_error("bad magic", b, n, MD_ERR_PARSE);

    memcpy(b, good, n);
    b[8] = 99;
    expect_error("future version", b, n, MD_ERR_UNSUPPORTED);

    memcpy(b, good, n);
    b[n - 3] ^= 0x40; /* one bit in the last section */
    expect_error("bad checksum (body)", b, n, MD_ERR_PARSE);
    memcpy(b, good, n);
    b[20] ^= 1; /* dim, checksum not updated */
    expect_error("bad checksum (header)", b, n, MD_ERR_PARSE);

    /* From here the checksum is made right again, so the structural checks speak. */
    uint64_t huge = UINT64_C(1) << 61;
    memcpy(b, good, n);
    memcpy(b + MDV_FILE_OFF_N_NODES, &huge, 8);
    reseal(b, n);
    expect_error("bad counts (huge n_nodes)", b, n, MD_ERR_PARSE);

    uint64_t more = 201;
    memcpy(b, good, n);
    memcpy(b + MDV_FILE_OFF_N_NODES, &more, 8);
    reseal(b, n);
    expect_error("bad counts (n_nodes + 1)", b, n, MD_ERR_PARSE);

    uint64_t far_off = UINT64_MAX - 63;
    memcpy(b, good, n);
    memcpy(b + 104, &far_off, 8); /* records offset */
    reseal(b, n);
    expect_error("bad offset", b, n, MD_ERR_PARSE);

    uint32_t dim0 = 0;
    memcpy(b, good, n);
    memcpy(b + 20, &dim0, 4);
    reseal(b, n);
    expect_error("bad params (dim 0)", b, n, MD_ERR_PARSE);

    /* A link to a node that does not exist: node 0's first layer-0 link. */
    uint64_t rec_off;
    memcpy(&rec_off, good + 104, 8);
    size_t links_off = 0;
    md_vindex_params p = md_vindex_get_params(v);
    mdv_record_bytes(&p, 2 * p.m, &links_off);
    rec_off += links_off;
    uint32_t bad_link = 5000;
    memcpy(b, good, n);
    memcpy(b + rec_off + 4, &bad_link, 4);
    reseal(b, n);
    expect_error("bad link", b, n, MD_ERR_PARSE);

    uint32_t too_many = 1000;
    memcpy(b, good, n);
    memcpy(b + rec_off, &too_many, 4);
    reseal(b, n);
    expect_error("bad link count", b, n, MD_ERR_PARSE);

    /* Two nodes with one id. */
    uint64_t ids_off;
    memcpy(&ids_off, good + 112, 8);
    memcpy(b, good, n);
    memcpy(b + ids_off + 8, b + ids_off, 8);
    reseal(b, n);
    expect_error("duplicate id", b, n, MD_ERR_PARSE);

    free(b);
    md_free(good);
    md_vindex_free(v);
    free(x);
}

/* Each entry point survives the Nth allocation failing, for every N, and leaks
 * nothing (ASan's leak checker sees the rest). */
static void test_oom(void) {
    float *x = make_points(60, DIM, 51);
    char *path = temp_path();
    md_vindex *base = make_index(MD_VINDEX_HNSW, MD_METRIC_COSINE, MD_VSTORAGE_Q8, x, 40);
    md_error err;
    CHECK(md_vindex_save(base, path, &err) == MD_OK);
    size_t n_ok = 0;
    for (uint64_t fail = 1; fail < 2000; fail++) {
        md_vindex *v = NULL;
        md_vindex_params p = md_vindex_default_params(DIM);
        p.m = 4;
        p.storage = MD_VSTORAGE_Q8;
        md_alloc_fail_after(fail, false);
        bool done = true;
        md_status st = md_vindex_new(p, &v, &err);
        for (size_t i = 0; st == MD_OK && i < 60; i++) {
            st = md_vindex_add(v, i, x + i * DIM, &err);
            if (st != MD_OK) {
                CHECK(st == MD_ERR_NOMEM);
                CHECK_EQ_INT(md_vindex_size(v), i); /* a failed add leaves nothing behind */
            }
        }
        if (st == MD_OK) {
            md_vhit hits[5];
            size_t n_hits;
            st = md_vindex_search(v, x, 5, NULL, NULL, hits, &n_hits, &err);
        }
        if (st == MD_OK) {
            st = md_vindex_delete(v, 3, &err);
        }
        if (st == MD_OK) {
            st = md_vindex_compact(v, &err);
        }
        if (st == MD_OK) {
            st = md_vindex_save(v, path, &err);
        }
        md_vindex *w = NULL;
        if (st == MD_OK) {
            st = md_vindex_load(path, &w, &err);
        }
        if (st == MD_OK) {
            st = md_vindex_add(w, 1000, x, &err); /* copy-on-write under OOM */
        }
        done = !md_alloc_failed();
        md_alloc_fail_after(0, false);
        CHECK(st == MD_OK || st == MD_ERR_NOMEM);
        md_vindex_free(w);
        md_vindex_free(v);
        if (done) {
            n_ok++;
            break;
        }
    }
    CHECK_EQ_INT(n_ok, 1);
    unlink(path);
    md_vindex_free(base);
    free(x);
}

/* Concurrent searches share the index and draw scratch from its pool: each thread
 * must get exactly the answers a lone search gets. */
typedef struct search_job {
    const md_vindex *v;
    const float *x;
    const uint64_t *expected; /* first hit per query */
    size_t n_queries;
    size_t n_wrong;
} search_job;

static void *search_worker(void *arg) {
    search_job *j = arg;
    for (int round = 0; round < 5; round++) {
        for (size_t q = 0; q < j->n_queries; q++) {
            md_vhit hits[3];
            size_t n_hits = 0;
            if (md_vindex_search(j->v, j->x + q * DIM, 3, NULL, NULL, hits, &n_hits, NULL) != MD_OK || n_hits != 3 ||
                hits[0].id != j->expected[q]) {
                j->n_wrong++;
            }
        }
    }
    return NULL;
}

static void test_concurrent_search(void) {
    float *x = make_points(400, DIM, 61);
    md_vindex *v = make_index(MD_VINDEX_HNSW, MD_METRIC_L2, MD_VSTORAGE_F32, x, 400);
    uint64_t expected[100];
    for (size_t q = 0; q < 100; q++) {
        md_vhit hits[3];
        size_t n_hits = 0;
        md_vindex_search(v, x + q * DIM, 3, NULL, NULL, hits, &n_hits, NULL);
        expected[q] = hits[0].id;
    }
    search_job jobs[4];
    pthread_t th[4];
    for (int t = 0; t < 4; t++) {
        jobs[t] = (search_job){v, x, expected, 100, 0};
        pthread_create(&th[t], NULL, search_worker, &jobs[t]);
    }
    for (int t = 0; t < 4; t++) {
        pthread_join(th[t], NULL);
        CHECK_EQ_INT(jobs[t].n_wrong, 0);
    }
    md_vindex_free(v);
    free(x);
}

int main(void) {
    test_kernels();
    test_quant();
    test_api();
    test_flat_exact();
    test_save_load();
    test_corrupt();
    test_oom();
    test_concurrent_search();
    return check_report("test_vector");
}
