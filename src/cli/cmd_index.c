/* medify index build|info|verify: index snapshots of the case store.
 *
 * build reads every stored case, builds the BM25 index and, with --embed-model E.gguf,
 * embeds the chunks of every case with that BERT-family encoder into an HNSW index
 * (cli_dense.h); both are published as a new immutable snapshot under
 * DATA_DIR/index/<version>/ (the manifest records the model's name, file and width),
 * then DATA_DIR/index/current points at it. info prints the current manifest; verify
 * re-checks every file's size and checksum and re-validates the BM25 and HNSW files
 * completely.
 */
#include <string.h>

#include "cli/cli.h"
#include "cli/cli_dense.h"
#include "medify/vector.h"
#include "medify/search.h"
#include "medify/store.h"


static const char k_usage[] =
    "usage: medify index build [--data-dir DIR] [--version NAME] [--embed-model E.gguf] [--json]\n"
    "       medify index info [--data-dir DIR] [--version NAME]\n"
    "       medify index verify [--data-dir DIR] [--version NAME] [--json]\n"
    "build indexes every stored case into a new snapshot and makes it current; info\n"
    "prints a snapshot's manifest (default: current); verify re-checks its checksums.\n"
    "--embed-model also embeds every case with a BERT-family encoder for dense search.\n";

typedef struct build_ctx {
    md_bm25 *ix;
#ifndef MEDIFY_NO_ENGINE
    cli_dense_builder *dense; /* NULL: BM25 only */
#endif
    md_error *err;
    md_status st;
    uint64_t n;
    char dataset_version[128];
} build_ctx;

static md_sex sex_of(const char *s) {
    md_sex x = MD_SEX_UNKNOWN;
    if (s && !md_sex_parse(s, &x)) x = MD_SEX_UNKNOWN;
    return x;
}

static bool add_case(const md_case_record *rec, void *ctx) {
    build_ctx *b = ctx;
    md_search_doc d = {(uint64_t)rec->id, rec->external_id, rec->age_years, sex_of(rec->sex)};
    const char *text = rec->text ? rec->text : "";
    b->st = md_bm25_add(b->ix, &d, text, strlen(text), b->err);
#ifndef MEDIFY_NO_ENGINE
    if (b->st == MD_OK && b->dense) b->st = cli_dense_builder_add_case(b->dense, (uint64_t)rec->id, text, b->err);
#endif
    if (b->st != MD_OK) return false;
    if (b->n == 0 && rec->dataset_version)
        snprintf(b->dataset_version, sizeof b->dataset_version, "%s", rec->dataset_version);
    else if (rec->dataset_version && strcmp(b->dataset_version, rec->dataset_version) != 0)
        snprintf(b->dataset_version, sizeof b->dataset_version, "mixed");
    b->n++;
    return true;
}

static int index_build(const char *data_dir, const char *version, const char *embed_model, bool json) {
    md_error err = {0};
    md_store *store = NULL;
    md_bm25 *ix = NULL;
    md_snapshot_writer *w = NULL;
    md_snapshot_manifest m;
    build_ctx b = {.err = &err, .st = MD_OK};
    uint64_t t0 = md_clock_monotonic_ns();
    md_status st = MD_OK;
#ifndef MEDIFY_NO_ENGINE
    if (embed_model) st = cli_dense_builder_new(embed_model, &b.dense, &err);
#else
    if (embed_model) st = md_error_set(&err, MD_ERR_UNSUPPORTED, "--embed-model needs the inference engine");
#endif
    if (st == MD_OK) st = md_store_open(data_dir, &store, &err);
    if (st == MD_OK) st = md_bm25_new(md_bm25_default_params(), &ix, &err);
    if (st == MD_OK) {
        b.ix = ix;
        st = md_store_case_each(store, 0, 0, add_case, &b, &err);
        if (st == MD_OK) st = b.st;
    }
    if (st == MD_OK) st = md_bm25_finish(ix, &err);
    if (st == MD_OK) st = md_snapshot_writer_new(data_dir, version, &w, &err);
    if (st == MD_OK) st = md_bm25_save(ix, md_snapshot_writer_path(w, MD_SNAPSHOT_BM25_FILE), &err);
    if (st == MD_OK) st = md_snapshot_writer_add(w, MD_SNAPSHOT_BM25_FILE, "bm25", md_bm25_n_docs(ix), &err);
#ifndef MEDIFY_NO_ENGINE
    if (st == MD_OK && b.dense) st = cli_dense_builder_commit(b.dense, w, &err);
#endif
    if (st == MD_OK) st = md_snapshot_writer_commit(w, b.dataset_version, b.n, &m, &err);
    int rc = 0;
    uint64_t n_vectors = 0;
    for (size_t i = 0; st == MD_OK && i < m.n_files; i++)
        if (strcmp(m.files[i].kind, "hnsw") == 0) n_vectors = m.files[i].n_items;
    if (st == MD_OK) {
        double secs = (double)(md_clock_monotonic_ns() - t0) / 1e9;
        if (json) {
            printf("{\"version\":\"%s\",\"n_cases\":%llu,\"n_terms\":%zu,\"n_postings\":%llu,\"seconds\":%.3f,",
                   m.version, (unsigned long long)b.n, md_bm25_n_terms(ix), (unsigned long long)md_bm25_n_postings(ix), secs);
            if (m.embed_dim > 0) {
                md_buf jb;
                md_buf_init(&jb);
                md_buf_append_json_str(&jb, m.embed_model, strlen(m.embed_model));
                printf("\"vectors\":true,\"n_vectors\":%llu,\"embed_model\":%s,\"embed_dim\":%u}\n",
                       (unsigned long long)n_vectors, md_buf_ok(&jb) ? jb.data : "null",
                       m.embed_dim);
                md_buf_free(&jb);
            } else {
                printf("\"vectors\":false}\n");
            }
        } else if (m.embed_dim > 0) {
            printf("index %s: %llu cases, %zu terms, %llu postings, %llu vectors (%s, dim %u) in %.2f s\n", m.version,
                   (unsigned long long)b.n, md_bm25_n_terms(ix), (unsigned long long)md_bm25_n_postings(ix),
                   (unsigned long long)n_vectors, m.embed_model, m.embed_dim, secs);
        } else {
            printf("index %s: %llu cases, %zu terms, %llu postings in %.2f s (BM25 only: no --embed-model)\n", m.version,
                   (unsigned long long)b.n, md_bm25_n_terms(ix), (unsigned long long)md_bm25_n_postings(ix), secs);
        }
    } else {
        rc = cli_fail(&err, json);
    }
    md_snapshot_writer_free(w);
    md_bm25_free(ix);
#ifndef MEDIFY_NO_ENGINE
    cli_dense_builder_free(b.dense);
#endif
    if (store) md_store_close(store);
    return rc;
}

static int index_info(const char *data_dir, const char *version, bool json) {
    md_error err = {0};
    md_snapshot_manifest m;
    md_status st = md_snapshot_manifest_read(data_dir, version, &m, &err);
    if (st != MD_OK) return cli_fail(&err, json);
    md_buf b;
    md_buf_init(&b);
    st = md_snapshot_manifest_to_json(&m, &b);
    if (st == MD_OK) fputs(b.data, stdout);
    md_buf_free(&b);
    return st == MD_OK ? 0 : md_status_exit_code(st);
}

static int index_verify(const char *data_dir, const char *version, bool json) {
    md_error err = {0};
    md_snapshot_manifest m;
    md_status st = md_snapshot_verify(data_dir, version, &m, &err);
    for (size_t i = 0; st == MD_OK && i < m.n_files; i++) {
        char path[4096];
        if (strcmp(m.files[i].kind, "hnsw") == 0) {
            md_vindex *vx = NULL;
            if (!md_snapshot_file_path(data_dir, m.version, m.files[i].name, path, sizeof path))
                st = md_error_set(&err, MD_ERR_INVALID_ARG, "path too long");
            else st = md_vindex_verify_file(path, &err);
            if (st == MD_OK) st = md_vindex_load(path, &vx, &err);
            if (st == MD_OK && (md_vindex_size(vx) != m.files[i].n_items || md_vindex_get_params(vx).dim != m.embed_dim))
                st = md_error_set(&err, MD_ERR_PARSE, "%s holds %zu vectors of dim %u, the manifest says %llu of dim %u",
                                  m.files[i].name, md_vindex_size(vx), md_vindex_get_params(vx).dim,
                                  (unsigned long long)m.files[i].n_items, m.embed_dim);
            md_vindex_free(vx);
            continue;
        }
        if (strcmp(m.files[i].kind, "bm25") != 0) continue;
        md_bm25 *ix = NULL;
        if (!md_snapshot_file_path(data_dir, m.version, m.files[i].name, path, sizeof path))
            st = md_error_set(&err, MD_ERR_INVALID_ARG, "path too long");
        else st = md_bm25_load(path, &ix, &err);
        if (st == MD_OK && md_bm25_n_docs(ix) != m.files[i].n_items)
            st = md_error_set(&err, MD_ERR_PARSE, "%s holds %zu documents, the manifest says %llu", m.files[i].name,
                              md_bm25_n_docs(ix), (unsigned long long)m.files[i].n_items);
        md_bm25_free(ix);
    }
    if (st != MD_OK) return cli_fail(&err, json);
    if (json) printf("{\"ok\":true,\"version\":\"%s\",\"files\":%zu}\n", m.version, m.n_files);
    else printf("index %s OK (%zu files)\n", m.version, m.n_files);
    return 0;
}

int cmd_index(int argc, char **argv) {
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        printf("%s", k_usage);
        return argc < 2 ? md_status_exit_code(MD_ERR_INVALID_ARG) : 0;
    }
    const char *data_dir = NULL, *version = NULL, *embed_model = NULL;
    bool json = false;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--json") == 0) json = true;
        else if (strcmp(a, "--data-dir") == 0 && v) data_dir = argv[++i];
        else if (strcmp(a, "--version") == 0 && v) version = argv[++i];
        else if (strcmp(a, "--embed-model") == 0 && v && strcmp(argv[1], "build") == 0) embed_model = argv[++i];
        else {
            fprintf(stderr, "medify: unknown or incomplete option '%s'\n%s", a, k_usage);
            return md_status_exit_code(MD_ERR_INVALID_ARG);
        }
    }
    data_dir = md_store_data_dir(data_dir);
    if (strcmp(argv[1], "build") == 0) return index_build(data_dir, version, embed_model, json);
    if (strcmp(argv[1], "info") == 0) return index_info(data_dir, version, json);
    if (strcmp(argv[1], "verify") == 0) return index_verify(data_dir, version, json);
    fprintf(stderr, "medify: unknown index command '%s'\n%s", argv[1], k_usage);
    return md_status_exit_code(MD_ERR_INVALID_ARG);
}
