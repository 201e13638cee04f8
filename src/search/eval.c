/* eval.c: retrieval metrics as trec_eval (9.x) computes them, and the input parsers.
 *
 * trec_eval's conventions, reproduced here:
 *   - a query's results are ranked by score descending, ties broken by doc id
 *     descending (strcmp) — trec_eval re-sorts and ignores the rank column;
 *   - at most MD_EVAL_MAX_RESULTS (1000, its -M default) results count per query;
 *   - relevant means relevance >= 1 (its relevance_level);
 *   - averages run over queries present in both the qrels and the results (no -c);
 *   - recip_rank: 1 / rank of the first relevant result, 0 when none;
 *   - P_10: relevant results among the first 10 divided by 10, even if fewer returned;
 *   - ndcg_cut_10: DCG = Σ_{i=1..10} gain_i / log2(i + 1) with gain the judged
 *     relevance (0 for unjudged or non-positive), over the ideal DCG of the judged
 *     gains sorted descending, cut at 10; 0 when the ideal is 0;
 *   - recall_1000: relevant results among the first 1000 over all relevant judged.
 */
#include <ctype.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "medify/search.h"

typedef struct qgroup {
    const char *qid;
    md_vec rels;    /* md_eval_qrel * */
    md_vec results; /* md_eval_result */
} qgroup;

static int cmp_result(const void *pa, const void *pb) {
    const md_eval_result *a = pa, *b = pb;
    if (a->score != b->score) return a->score > b->score ? -1 : 1;
    return -strcmp(a->doc_id, b->doc_id);
}

static int cmp_int_desc(const void *pa, const void *pb) {
    int a = *(const int *)pa, b = *(const int *)pb;
    return (a < b) - (a > b);
}

/* Relevance of doc in the query's judgements; 0 when unjudged. */
static int rel_of(const md_map *judged, const char *doc) {
    uint64_t v;
    if (!md_map_get(judged, doc, strlen(doc), &v)) return 0;
    return (int)(int64_t)v;
}

static md_status eval_query(qgroup *g, double m[4]) {
    md_map judged;
    md_map_init(&judged);
    size_t n_rel = 0, n_j = g->rels.n;
    int *gains = md_calloc(n_j ? n_j : 1, sizeof(int));
    if (!gains) return MD_ERR_NOMEM;
    for (size_t i = 0; i < n_j; i++) {
        const md_eval_qrel *q = *(md_eval_qrel **)md_vec_at(&g->rels, i);
        md_status s = md_map_put(&judged, q->doc_id, strlen(q->doc_id), (uint64_t)(int64_t)q->relevance);
        if (s != MD_OK) {
            md_free(gains);
            md_map_free(&judged);
            return s;
        }
    }
    /* gains per distinct judged doc (a later duplicate judgement wins, as in the map) */
    size_t n_g = 0, it = 0;
    const char *key;
    size_t key_len;
    uint64_t val;
    while (md_map_next(&judged, &it, &key, &key_len, &val)) {
        int r = (int)(int64_t)val;
        if (r >= 1) n_rel++;
        gains[n_g++] = r > 0 ? r : 0;
    }
    md_eval_result *res = g->results.data;
    size_t n = g->results.n;
    qsort(res, n, sizeof *res, cmp_result);
    if (n > MD_EVAL_MAX_RESULTS) n = MD_EVAL_MAX_RESULTS;
    double rr = 0, dcg = 0, idcg = 0;
    size_t rel_10 = 0, rel_1000 = 0;
    for (size_t i = 0; i < n; i++) {
        int r = rel_of(&judged, res[i].doc_id);
        if (r >= 1) {
            if (rr == 0) rr = 1.0 / (double)(i + 1);
            if (i < 10) rel_10++;
            rel_1000++;
        }
        if (i < 10 && r > 0) dcg += (double)r / log2((double)(i + 2));
    }
    qsort(gains, n_g, sizeof *gains, cmp_int_desc);
    for (size_t i = 0; i < n_g && i < 10; i++)
        if (gains[i] > 0) idcg += (double)gains[i] / log2((double)(i + 2));
    m[0] = rr;
    m[1] = (double)rel_10 / 10.0;
    m[2] = idcg > 0 ? dcg / idcg : 0.0;
    m[3] = n_rel ? (double)rel_1000 / (double)n_rel : 0.0;
    md_free(gains);
    md_map_free(&judged);
    return MD_OK;
}

md_status md_eval_compute(const md_eval_qrel *qrels, size_t n_qrels, const md_eval_result *results,
                          size_t n_results, md_eval_metrics *out, md_error *err) {
    memset(out, 0, sizeof *out);
    if ((n_qrels && !qrels) || (n_results && !results)) return md_error_set(err, MD_ERR_INVALID_ARG, "eval: bad arguments");
    md_map index; /* qid → group */
    md_vec groups;
    md_map_init(&index);
    md_vec_init(&groups, sizeof(qgroup));
    md_status s = MD_OK;
    for (size_t i = 0; i < n_qrels && s == MD_OK; i++) {
        const char *q = qrels[i].query_id;
        uint64_t gi;
        if (!md_map_get(&index, q, strlen(q), &gi)) {
            qgroup g = {.qid = q};
            md_vec_init(&g.rels, sizeof(md_eval_qrel *));
            md_vec_init(&g.results, sizeof(md_eval_result));
            if ((s = md_vec_push(&groups, &g)) != MD_OK) break;
            gi = groups.n - 1;
            if ((s = md_map_put(&index, q, strlen(q), gi)) != MD_OK) break;
        }
        const md_eval_qrel *p = &qrels[i];
        s = md_vec_push(&((qgroup *)md_vec_at(&groups, (size_t)gi))->rels, &p);
    }
    for (size_t i = 0; i < n_results && s == MD_OK; i++) {
        uint64_t gi;
        if (!md_map_get(&index, results[i].query_id, strlen(results[i].query_id), &gi)) continue; /* unjudged query */
        s = md_vec_push(&((qgroup *)md_vec_at(&groups, (size_t)gi))->results, &results[i]);
    }
    double sum[4] = {0};
    size_t n_q = 0;
    for (size_t i = 0; i < groups.n && s == MD_OK; i++) {
        qgroup *g = md_vec_at(&groups, i);
        if (g->results.n == 0) continue;
        double m[4] = {0};
        s = eval_query(g, m);
        if (s != MD_OK) break;
        for (int j = 0; j < 4; j++) sum[j] += m[j];
        n_q++;
    }
    for (size_t i = 0; i < groups.n; i++) {
        qgroup *g = md_vec_at(&groups, i);
        md_vec_free(&g->rels);
        md_vec_free(&g->results);
    }
    md_vec_free(&groups);
    md_map_free(&index);
    if (s != MD_OK) return md_error_set(err, s, "eval: out of memory");
    if (n_q) {
        out->mrr = sum[0] / (double)n_q;
        out->p_10 = sum[1] / (double)n_q;
        out->ndcg_10 = sum[2] / (double)n_q;
        out->recall_1000 = sum[3] / (double)n_q;
    }
    out->n_queries = n_q;
    return MD_OK;
}

/* --------------------------------------------------------------- parsing ---- */

static char *next_field(char **p) {
    char *s = *p;
    while (*s == ' ' || *s == '\t') s++;
    if (!*s) return NULL;
    char *e = s;
    while (*e && *e != ' ' && *e != '\t') e++;
    if (*e) *e++ = '\0';
    *p = e;
    return s;
}

md_status md_eval_parse_qrels(char *text, md_arena *a, md_eval_qrel **out, size_t *n_out, md_error *err) {
    *out = NULL;
    *n_out = 0;
    md_vec v;
    md_vec_init(&v, sizeof(md_eval_qrel));
    size_t line_no = 0;
    char *line = text;
    md_status s = MD_OK;
    while (line && *line) {
        line_no++;
        char *nl = strchr(line, '\n');
        if (nl) *nl = '\0';
        size_t len = strlen(line);
        if (len && line[len - 1] == '\r') line[len - 1] = '\0';
        char *p = line;
        char *f[5];
        int n_f = 0;
        while (n_f < 5 && (f[n_f] = next_field(&p)) != NULL) n_f++;
        if (n_f == 0 || f[0][0] == '#') {
            line = nl ? nl + 1 : NULL;
            continue;
        }
        /* also accept the 3-column form "qid docid rel" of BEIR-style qrels (with a header) */
        if (n_f == 3 && line_no == 1 && !isdigit((unsigned char)f[2][0]) && f[2][0] != '-') {
            line = nl ? nl + 1 : NULL;
            continue;
        }
        if (n_f != 4 && n_f != 3) {
            s = md_error_set(err, MD_ERR_PARSE, "qrels line %zu: expected 'query-id 0 doc-id relevance'", line_no);
            break;
        }
        const char *rel_s = f[n_f - 1];
        char *end;
        long rel = strtol(rel_s, &end, 10);
        if (end == rel_s || *end || rel < -1000 || rel > 1000) {
            s = md_error_set(err, MD_ERR_PARSE, "qrels line %zu: relevance '%s' is not an integer", line_no, rel_s);
            break;
        }
        md_eval_qrel q = {f[0], n_f == 4 ? f[2] : f[1], (int)rel};
        if ((s = md_vec_push(&v, &q)) != MD_OK) {
            s = md_error_set(err, s, "qrels: out of memory");
            break;
        }
        line = nl ? nl + 1 : NULL;
    }
    if (s == MD_OK && v.n) {
        *out = md_arena_calloc(a, v.n, sizeof(md_eval_qrel));
        if (!*out) s = md_error_set(err, MD_ERR_NOMEM, "qrels: out of memory");
        else {
            memcpy(*out, v.data, v.n * sizeof(md_eval_qrel));
            *n_out = v.n;
        }
    }
    md_vec_free(&v);
    return s;
}

/* One JSON object → query, strings copied into the arena. */
static md_status json_query(json_t *o, md_arena *a, md_vec *v, md_error *err) {
    if (!json_is_object(o)) return md_error_set(err, MD_ERR_PARSE, "queries: expected JSON objects");
    static const char *const id_keys[] = {"_id", "query_id", "qid", "id", "patient_uid"};
    static const char *const text_keys[] = {"text", "patient", "query"};
    const char *id = NULL, *text = NULL;
    char num[32];
    for (size_t i = 0; i < MD_ARRAY_LEN(id_keys) && !id; i++) {
        json_t *x = json_object_get(o, id_keys[i]);
        if (json_is_string(x)) id = json_string_value(x);
        else if (json_is_integer(x)) {
            snprintf(num, sizeof num, "%lld", (long long)json_integer_value(x));
            id = num;
        }
    }
    for (size_t i = 0; i < MD_ARRAY_LEN(text_keys) && !text; i++) {
        json_t *x = json_object_get(o, text_keys[i]);
        if (json_is_string(x)) text = json_string_value(x);
    }
    if (!id || !text) return md_error_set(err, MD_ERR_PARSE, "queries: an object lacks an id or a text field");
    md_eval_query q = {md_arena_strdup(a, id), md_arena_strdup(a, text)};
    if (!q.id || !q.text) return md_error_set(err, MD_ERR_NOMEM, "queries: out of memory");
    md_status s = md_vec_push(v, &q);
    return s == MD_OK ? MD_OK : md_error_set(err, s, "queries: out of memory");
}

md_status md_eval_parse_queries(char *text, md_arena *a, md_eval_query **out, size_t *n_out, md_error *err) {
    *out = NULL;
    *n_out = 0;
    md_vec v;
    md_vec_init(&v, sizeof(md_eval_query));
    md_status s = MD_OK;
    char *p = text;
    if (strncmp(p, "\xEF\xBB\xBF", 3) == 0) p += 3;
    while (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t') p++;
    if (*p == '[') { /* a JSON array of objects */
        json_error_t je;
        json_t *root = json_loads(p, 0, &je);
        if (!json_is_array(root)) s = md_error_set(err, MD_ERR_PARSE, "queries: bad JSON at line %d: %s", je.line, je.text);
        for (size_t i = 0; s == MD_OK && i < json_array_size(root); i++) s = json_query(json_array_get(root, i), a, &v, err);
        json_decref(root);
    } else {
        size_t line_no = 0;
        char *line = p;
        while (s == MD_OK && line && *line) {
            line_no++;
            char *nl = strchr(line, '\n');
            if (nl) *nl = '\0';
            size_t len = strlen(line);
            if (len && line[len - 1] == '\r') line[--len] = '\0';
            if (len == 0) {
                line = nl ? nl + 1 : NULL;
                continue;
            }
            if (line[0] == '{') {
                json_error_t je;
                json_t *o = json_loads(line, 0, &je);
                if (!o) s = md_error_set(err, MD_ERR_PARSE, "queries line %zu: bad JSON: %s", line_no, je.text);
                else s = json_query(o, a, &v, err);
                json_decref(o);
            } else {
                char *tab = strchr(line, '\t');
                if (!tab || tab == line) {
                    s = md_error_set(err, MD_ERR_PARSE, "queries line %zu: expected 'query-id<TAB>text'", line_no);
                } else {
                    *tab = '\0';
                    md_eval_query q = {line, tab + 1};
                    s = md_vec_push(&v, &q);
                    if (s != MD_OK) s = md_error_set(err, s, "queries: out of memory");
                }
            }
            line = nl ? nl + 1 : NULL;
        }
    }
    if (s == MD_OK && v.n) {
        *out = md_arena_calloc(a, v.n, sizeof(md_eval_query));
        if (!*out) s = md_error_set(err, MD_ERR_NOMEM, "queries: out of memory");
        else {
            memcpy(*out, v.data, v.n * sizeof(md_eval_query));
            *n_out = v.n;
        }
    }
    md_vec_free(&v);
    return s;
}
