/* medify cases synth|search: write synthetic PMC-Patients CSV; search stored cases.
 *
 * search reads the query on stdin, runs hybrid search (BM25 from the current index
 * snapshot, fused by RRF with the dense ranker when the snapshot holds vectors and
 * their encoder is given with --embed-model or found at the path the manifest records;
 * cli_dense.h) and prints
 * {"results":[{"case_id","patient_uid","pmid","title","age","sex","score","bm25",
 * "dense","snippet"}]} with case details from the store.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/cli_dense.h"
#include "medify/search.h"
#include "medify/store.h"
#include "medify/synth.h"


#define CASES_MAX_QUERY_BYTES (64 * 1024)
#define CASES_MAX_K 1000
#define CASES_SNIPPET_BYTES 240

static const char k_usage[] =
    "usage: medify cases synth --n N [--seed S] --out FILE\n"
    "       medify cases search [--k 10] [--sex male|female] [--age-min N] [--age-max N]\n"
    "                           [--min-score S] [--data-dir DIR] [--embed-model E.gguf] [--json] < query.txt\n"
    "synth writes N synthetic cases from the knowledge base as PMC-Patients CSV\n"
    "(reproducible per seed). search finds stored cases similar to the text on stdin\n"
    "using the current index snapshot ('medify index build'); dense scores need a snapshot\n"
    "built with --embed-model (its model is used when --embed-model is not given).\n";

static bool parse_u64(const char *s, uint64_t *out) {
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (!s[0] || s[0] == '-' || *end || errno) return false;
    *out = v;
    return true;
}

static bool parse_double(const char *s, double *out) {
    char *end;
    double v = strtod(s, &end);
    if (!s[0] || *end || v != v) return false;
    *out = v;
    return true;
}

static int usage_fail(const char *msg, const char *arg) {
    fprintf(stderr, "medify: %s%s%s\n%s", msg, arg ? ": " : "", arg ? arg : "", k_usage);
    return md_status_exit_code(MD_ERR_INVALID_ARG);
}

static int cases_synth(int argc, char **argv) {
    uint64_t n = 0, seed = 1;
    const char *out_path = NULL;
    bool have_n = false;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--n") == 0 && v) {
            if (!parse_u64(v, &n)) return usage_fail("--n needs a count", v);
            have_n = true;
            i++;
        } else if (strcmp(a, "--seed") == 0 && v) {
            if (!parse_u64(v, &seed)) return usage_fail("--seed needs a non-negative integer", v);
            i++;
        } else if (strcmp(a, "--out") == 0 && v) {
            out_path = v;
            i++;
        } else {
            return usage_fail("unknown or incomplete option", a);
        }
    }
    if (!have_n || !out_path) return usage_fail("synth needs --n and --out", NULL);
    md_error err = {0};
    md_kb *kb = NULL;
    md_status st = md_kb_load_default(NULL, &kb, &err);
    if (st != MD_OK) return cli_fail(&err, false);
    FILE *f = strcmp(out_path, "-") == 0 ? stdout : fopen(out_path, "wb");
    if (!f) {
        md_error_set(&err, MD_ERR_IO, "cannot create %s: %s", out_path, strerror(errno));
        md_kb_free(kb);
        return cli_fail(&err, false);
    }
    md_synth_params p = md_synth_default_params();
    p.seed = seed;
    st = md_synth_write_csv(kb, p, n, f, &err);
    if (f != stdout && fclose(f) != 0 && st == MD_OK) st = md_error_set(&err, MD_ERR_IO, "cannot write %s", out_path);
    md_kb_free(kb);
    if (st != MD_OK) return cli_fail(&err, false);
    fprintf(stderr, "medify: wrote %llu synthetic cases to %s (seed %llu)\n", (unsigned long long)n, out_path,
            (unsigned long long)seed);
    return 0;
}

/* The first CASES_SNIPPET_BYTES of text, cut at a UTF-8 boundary. */
static size_t snippet_len(const char *text) {
    size_t n = strlen(text);
    if (n <= CASES_SNIPPET_BYTES) return n;
    n = CASES_SNIPPET_BYTES;
    while (n > 0 && ((unsigned char)text[n] & 0xC0) == 0x80) n--;
    return n;
}

static int cases_search(int argc, char **argv) {
    md_hybrid_params hp = md_hybrid_default_params();
    const char *data_dir = NULL, *embed_model = NULL;
    bool json = false;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        uint64_t u;
        double d;
        if (strcmp(a, "--json") == 0) {
            json = true;
        } else if (strcmp(a, "--k") == 0 && v) {
            if (!parse_u64(v, &u) || u == 0 || u > CASES_MAX_K) return usage_fail("--k needs 1..1000", v);
            hp.k = (size_t)u;
            i++;
        } else if (strcmp(a, "--sex") == 0 && v) {
            if (!md_sex_parse(v, &hp.filter.sex) || hp.filter.sex == MD_SEX_UNKNOWN)
                return usage_fail("--sex must be male or female", v);
            i++;
        } else if (strcmp(a, "--age-min") == 0 && v) {
            if (!parse_double(v, &d) || d < 0 || d > 150) return usage_fail("--age-min needs years 0..150", v);
            hp.filter.age_min_years = d;
            i++;
        } else if (strcmp(a, "--age-max") == 0 && v) {
            if (!parse_double(v, &d) || d < 0 || d > 150) return usage_fail("--age-max needs years 0..150", v);
            hp.filter.age_max_years = d;
            i++;
        } else if (strcmp(a, "--min-score") == 0 && v) {
            if (!parse_double(v, &d) || d < 0) return usage_fail("--min-score needs a number >= 0", v);
            hp.min_score = d;
            i++;
        } else if (strcmp(a, "--data-dir") == 0 && v) {
            data_dir = v;
            i++;
        } else if (strcmp(a, "--embed-model") == 0 && v) {
            embed_model = v;
            i++;
        } else {
            return usage_fail("unknown or incomplete option", a);
        }
    }
    if (hp.filter.age_min_years >= 0 && hp.filter.age_max_years >= 0 && hp.filter.age_min_years > hp.filter.age_max_years)
        return usage_fail("--age-min is above --age-max", NULL);
    if (hp.depth < hp.k) hp.depth = hp.k;
    data_dir = md_store_data_dir(data_dir);

    md_error err = {0};
    char *query = NULL;
    size_t n_query = 0;
    md_bm25 *ix = NULL;
    md_store *store = NULL;
    md_hybrid_hit *hits = NULL;
    md_snapshot_manifest manifest;
#ifndef MEDIFY_NO_ENGINE
    cli_dense_search *dense = NULL;
#endif
    md_buf b;
    md_buf_init(&b);
    md_arena a;
    md_arena_init(&a, 0);
    int rc = 0;
    md_status st = md_read_stream(stdin, CASES_MAX_QUERY_BYTES, &query, &n_query, &err);
    if (st == MD_OK && !md_utf8_valid(query, n_query, NULL)) st = md_error_set(&err, MD_ERR_UTF8, "the query is not valid UTF-8");
    char version[64], path[4096];
    if (st == MD_OK) st = md_snapshot_current(data_dir, version, &err);
    if (st == MD_OK && !md_snapshot_file_path(data_dir, version, MD_SNAPSHOT_BM25_FILE, path, sizeof path))
        st = md_error_set(&err, MD_ERR_INVALID_ARG, "data directory path too long");
    if (st == MD_OK) st = md_bm25_load(path, &ix, &err);
    if (st == MD_OK) st = md_snapshot_manifest_read(data_dir, version, &manifest, &err);
    const md_embedder *embedder = NULL;
    const md_dense_ranker *ranker = NULL;
#ifndef MEDIFY_NO_ENGINE
    if (st == MD_OK) st = cli_dense_search_open(data_dir, &manifest, embed_model, &dense, &err);
    if (st == MD_OK && dense) {
        embedder = cli_dense_search_embedder(dense);
        ranker = cli_dense_search_ranker(dense);
    } else if (st == MD_OK && manifest.embed_dim > 0) {
        fprintf(stderr, "medify: the snapshot's embedding model %s is not readable; BM25 only\n",
                manifest.embed_model_path);
    }
#else
    if (st == MD_OK && embed_model) st = md_error_set(&err, MD_ERR_UNSUPPORTED, "--embed-model needs the inference engine");
#endif
    if (st == MD_OK) st = md_store_open(data_dir, &store, &err);
    size_t n_hits = 0;
    if (st == MD_OK) {
        hits = md_calloc(hp.k, sizeof *hits);
        if (!hits) st = md_error_set(&err, MD_ERR_NOMEM, "out of memory");
    }
    /* without vectors BM25 alone, dense reported as null */
    if (st == MD_OK) st = md_hybrid_search(ix, embedder, ranker, query, n_query, hp, hits, &n_hits, &err);
    if (st == MD_OK) {
        md_buf_append_str(&b, "{\"results\":[");
        for (size_t i = 0; i < n_hits && st == MD_OK; i++) {
            md_case_record rec;
            md_arena_reset(&a);
            st = md_store_case_get(store, (int64_t)hits[i].id, &a, &rec, &err);
            if (st != MD_OK) break;
            md_buf_appendf(&b, "%s{\"case_id\":%lld,\"patient_uid\":", i ? "," : "", (long long)hits[i].id);
            const char *strs[2] = {rec.external_id, rec.pmid};
            for (int k = 0; k < 2; k++) {
                if (k) md_buf_append_str(&b, ",\"pmid\":");
                if (strs[k]) md_buf_append_json_str(&b, strs[k], strlen(strs[k]));
                else md_buf_append_str(&b, "null");
            }
            md_buf_append_str(&b, ",\"title\":");
            if (rec.title) md_buf_append_json_str(&b, rec.title, strlen(rec.title));
            else md_buf_append_str(&b, "null");
            if (rec.age_years >= 0) md_buf_appendf(&b, ",\"age\":%.4g", rec.age_years);
            else md_buf_append_str(&b, ",\"age\":null");
            md_buf_append_str(&b, ",\"sex\":");
            if (rec.sex) md_buf_append_json_str(&b, rec.sex, strlen(rec.sex));
            else md_buf_append_str(&b, "null");
            md_buf_appendf(&b, ",\"score\":%.6g", hits[i].score);
            if (hits[i].has_bm25) md_buf_appendf(&b, ",\"bm25\":%.6g", hits[i].bm25);
            else md_buf_append_str(&b, ",\"bm25\":null");
            if (hits[i].has_dense) md_buf_appendf(&b, ",\"dense\":%.6g", hits[i].dense);
            else md_buf_append_str(&b, ",\"dense\":null");
            md_buf_append_str(&b, ",\"snippet\":");
            const char *text = rec.text ? rec.text : "";
            md_buf_append_json_str(&b, text, snippet_len(text));
            md_buf_append_char(&b, '}');
        }
        md_buf_append_str(&b, "]}\n");
        if (st == MD_OK && !md_buf_ok(&b)) st = md_error_set(&err, MD_ERR_NOMEM, "out of memory");
    }
    if (st == MD_OK) {
        if (json) {
            fputs(b.data, stdout);
        } else {
            for (size_t i = 0; i < n_hits; i++) {
                printf("%2zu. case %llu  score %.5f  bm25 %.3f", i + 1, (unsigned long long)hits[i].id, hits[i].score,
                       hits[i].bm25);
                if (hits[i].has_dense) printf("  dense %.4f", hits[i].dense);
                putchar('\n');
            }
            if (n_hits == 0) printf("no matching cases\n");
        }
    } else {
        rc = cli_fail(&err, json);
    }
    md_buf_free(&b);
    md_arena_free(&a);
    md_free(hits);
    md_free(query);
    md_bm25_free(ix);
#ifndef MEDIFY_NO_ENGINE
    cli_dense_search_free(dense);
#endif
    if (store) md_store_close(store);
    return rc;
}

int cmd_cases(int argc, char **argv) {
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        printf("%s", k_usage);
        return argc < 2 ? md_status_exit_code(MD_ERR_INVALID_ARG) : 0;
    }
    if (strcmp(argv[1], "synth") == 0) return cases_synth(argc, argv);
    if (strcmp(argv[1], "search") == 0) return cases_search(argc, argv);
    fprintf(stderr, "medify: unknown cases command '%s'\n%s", argv[1], k_usage);
    return md_status_exit_code(MD_ERR_INVALID_ARG);
}
