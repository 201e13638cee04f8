/* bm25.c: an in-memory inverted index with Okapi BM25 ranking, and its file format.
 *
 * Build: documents are added in order and get dense internal numbers 0..n_docs-1.
 * Each document's tokens are mapped to term numbers (one md_map from term text), the
 * term numbers sorted, and runs turned into (doc, tf) postings appended to each term's
 * list — so every postings list is in strictly increasing doc order by construction.
 * md_bm25_finish computes the average length and each document's length norm
 * k1 * (1 - b + b * dl / avgdl) once, so a query costs one division per posting.
 *
 * Score (Robertson & Zaragoza 2009, eq. 3.15, with Lucene's non-negative idf):
 *     score(d, q) = Σ_{t ∈ q, unique} idf(t) · tf(t,d)·(k1+1) / (tf(t,d) + k1·(1 − b + b·dl/avgdl))
 *     idf(t)      = ln(1 + (N − df(t) + 0.5) / (df(t) + 0.5))
 * Repeated query terms count once (the query-term-frequency factor is taken as 1).
 *
 * Search: term-at-a-time accumulation into a per-query score array, then a bounded
 * min-heap of the k best (score descending, id ascending) among documents that pass
 * the filter.
 *
 * File (little-endian, as written by this host):
 *     magic "MDBM25\0\1", u32 version, u32 reserved, f64 k1, f64 b,
 *     u64 n_docs, u64 n_terms, u64 n_postings, u64 total_len,
 *     n_docs × { u64 id, u32 len, f32 age, u8 sex, u8 pad[3], u32 ext_len, ext bytes },
 *     n_terms × { u32 term_len, term bytes, u32 df, df × { u32 doc, u32 tf } },
 *     u64 FNV-1a 64 of all bytes before it.
 * Load trusts nothing: the checksum first, then each count against the bytes left.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "medify/search.h"

#define BM25_MAGIC "MDBM25\0\1"
#define BM25_VERSION 1u
#define BM25_DOC_FIXED_BYTES 28u /* id 8 + len 4 + age 4 + sex 1 + pad 3 + ext_len 4 + ... */
#define BM25_MAX_EXT_BYTES 256u

typedef struct posting {
    uint32_t doc;
    uint32_t tf;
} posting;

typedef struct term_entry {
    const char *text; /* in ix->strings */
    posting *p;
    uint32_t n, cap;
} term_entry;

struct md_bm25 {
    md_bm25_params params;
    bool finished;
    md_arena strings;
    md_map term_map; /* term text → index into terms */
    term_entry *terms;
    size_t n_terms, cap_terms;
    /* documents, indexed by internal number */
    uint64_t *doc_id;
    uint32_t *doc_len;
    float *doc_age;
    uint8_t *doc_sex;
    const char **doc_ext;
    double *doc_norm; /* k1 * (1 - b + b * dl / avgdl), after finish */
    size_t n_docs, cap_docs;
    md_map id_map; /* 8-byte id → internal number, after finish */
    uint64_t n_postings, total_len;
    double avgdl;
    md_vec scratch; /* uint32 term numbers of the document being added */
};

md_bm25_params md_bm25_default_params(void) { return (md_bm25_params){MD_BM25_DEFAULT_K1, MD_BM25_DEFAULT_B}; }

md_search_filter md_search_filter_none(void) { return (md_search_filter){MD_SEX_UNKNOWN, -1, -1}; }

bool md_search_filter_match(const md_search_filter *f, double age_years, md_sex sex) {
    if (!f) return true;
    if (f->sex != MD_SEX_UNKNOWN && sex != f->sex) return false;
    if (f->age_min_years >= 0 && !(age_years >= 0 && age_years >= f->age_min_years)) return false;
    if (f->age_max_years >= 0 && !(age_years >= 0 && age_years <= f->age_max_years)) return false;
    return true;
}

md_status md_bm25_new(md_bm25_params params, md_bm25 **out, md_error *err) {
    *out = NULL;
    if (!(params.k1 >= 0) || !(params.b >= 0 && params.b <= 1))
        return md_error_set(err, MD_ERR_INVALID_ARG, "bm25: k1 must be >= 0 and b in [0, 1]");
    md_bm25 *ix = md_calloc(1, sizeof *ix);
    if (!ix) return md_error_set(err, MD_ERR_NOMEM, "bm25: out of memory");
    ix->params = params;
    md_arena_init(&ix->strings, 0);
    md_map_init(&ix->term_map);
    md_map_init(&ix->id_map);
    md_vec_init(&ix->scratch, sizeof(uint32_t));
    *out = ix;
    return MD_OK;
}

void md_bm25_free(md_bm25 *ix) {
    if (!ix) return;
    for (size_t i = 0; i < ix->n_terms; i++) md_free(ix->terms[i].p);
    md_free(ix->terms);
    md_free(ix->doc_id);
    md_free(ix->doc_len);
    md_free(ix->doc_age);
    md_free(ix->doc_sex);
    md_free(ix->doc_ext);
    md_free(ix->doc_norm);
    md_map_free(&ix->term_map);
    md_map_free(&ix->id_map);
    md_vec_free(&ix->scratch);
    md_arena_free(&ix->strings);
    md_free(ix);
}

/* ----------------------------------------------------------------- build ---- */

static bool grow(void **p, size_t *cap, size_t need, size_t item_bytes) {
    if (need <= *cap) return true;
    size_t n = *cap ? *cap : 16;
    while (n < need) {
        if (n > SIZE_MAX / 2 / item_bytes) return false;
        n *= 2;
    }
    void *q = md_realloc(*p, n * item_bytes);
    if (!q) return false;
    *p = q;
    *cap = n;
    return true;
}

static md_status reserve_docs(md_bm25 *ix, size_t need) {
    if (need <= ix->cap_docs) return MD_OK;
    size_t cap = ix->cap_docs, c;
    c = cap;
    if (!grow((void **)&ix->doc_id, &c, need, sizeof(uint64_t))) return MD_ERR_NOMEM;
    c = cap;
    if (!grow((void **)&ix->doc_len, &c, need, sizeof(uint32_t))) return MD_ERR_NOMEM;
    c = cap;
    if (!grow((void **)&ix->doc_age, &c, need, sizeof(float))) return MD_ERR_NOMEM;
    c = cap;
    if (!grow((void **)&ix->doc_sex, &c, need, sizeof(uint8_t))) return MD_ERR_NOMEM;
    c = cap;
    if (!grow((void **)&ix->doc_ext, &c, need, sizeof(char *))) return MD_ERR_NOMEM;
    ix->cap_docs = c;
    return MD_OK;
}

/* Term number of `text`, adding the term when new. */
static md_status term_intern(md_bm25 *ix, const char *text, size_t n, uint32_t *out) {
    uint64_t v;
    if (md_map_get(&ix->term_map, text, n, &v)) {
        *out = (uint32_t)v;
        return MD_OK;
    }
    if (ix->n_terms >= UINT32_MAX) return MD_ERR_LIMIT;
    if (!grow((void **)&ix->terms, &ix->cap_terms, ix->n_terms + 1, sizeof(term_entry))) return MD_ERR_NOMEM;
    char *copy = md_arena_strndup(&ix->strings, text, n);
    if (!copy) return MD_ERR_NOMEM;
    md_status s = md_map_put(&ix->term_map, copy, n, ix->n_terms);
    if (s != MD_OK) return s;
    ix->terms[ix->n_terms] = (term_entry){copy, NULL, 0, 0};
    *out = (uint32_t)ix->n_terms++;
    return MD_OK;
}

static md_status collect_term(const char *tok, size_t n, void *ctx) {
    md_bm25 *ix = ctx;
    uint32_t t;
    md_status s = term_intern(ix, tok, n, &t);
    if (s != MD_OK) return s;
    return md_vec_push(&ix->scratch, &t);
}

static int cmp_u32(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

static md_status posting_push(term_entry *te, uint32_t doc, uint32_t tf) {
    if (te->n == te->cap) {
        size_t cap = te->cap;
        if (cap >= UINT32_MAX / 2) return MD_ERR_LIMIT;
        if (!grow((void **)&te->p, &cap, (size_t)te->n + 1, sizeof(posting))) return MD_ERR_NOMEM;
        te->cap = (uint32_t)cap;
    }
    te->p[te->n++] = (posting){doc, tf};
    return MD_OK;
}

md_status md_bm25_add(md_bm25 *ix, const md_search_doc *doc, const char *text, size_t n_bytes, md_error *err) {
    if (!ix || !doc || (!text && n_bytes)) return md_error_set(err, MD_ERR_INVALID_ARG, "bm25: bad arguments");
    if (ix->finished) return md_error_set(err, MD_ERR_INVALID_ARG, "bm25: index is finished; no more documents");
    if (ix->n_docs >= UINT32_MAX - 1) return md_error_set(err, MD_ERR_LIMIT, "bm25: too many documents");
    md_status s = reserve_docs(ix, ix->n_docs + 1);
    if (s != MD_OK) return md_error_set(err, s, "bm25: out of memory");
    const char *ext = doc->external_id ? doc->external_id : "";
    size_t n_ext = strlen(ext);
    if (n_ext > BM25_MAX_EXT_BYTES) return md_error_set(err, MD_ERR_TOO_LARGE, "bm25: external id too long");
    char *ext_copy = md_arena_strndup(&ix->strings, ext, n_ext);
    if (!ext_copy) return md_error_set(err, MD_ERR_NOMEM, "bm25: out of memory");

    md_vec_clear(&ix->scratch);
    s = text ? md_search_tokenize(text, n_bytes, collect_term, ix) : MD_OK;
    if (s != MD_OK) return md_error_set(err, s, "bm25: tokenising failed: %s", md_status_message(s));
    uint32_t *t = ix->scratch.data;
    size_t n = ix->scratch.n;
    if (n > UINT32_MAX) return md_error_set(err, MD_ERR_TOO_LARGE, "bm25: document too long");
    if (n) qsort(t, n, sizeof *t, cmp_u32);
    uint32_t d = (uint32_t)ix->n_docs;
    size_t n_new_postings = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && t[j] == t[i]) j++;
        s = posting_push(&ix->terms[t[i]], d, (uint32_t)(j - i));
        if (s != MD_OK) {
            /* undo this document's postings so the index stays consistent */
            for (size_t r = 0; r < i;) {
                size_t q = r;
                while (q < i && t[q] == t[r]) q++;
                ix->terms[t[r]].n--;
                r = q;
            }
            return md_error_set(err, s, "bm25: out of memory");
        }
        n_new_postings++;
        i = j;
    }
    ix->doc_id[d] = doc->id;
    ix->doc_len[d] = (uint32_t)n;
    ix->doc_age[d] = doc->age_years >= 0 ? (float)doc->age_years : -1.0f;
    ix->doc_sex[d] = (uint8_t)(doc->sex == MD_SEX_FEMALE || doc->sex == MD_SEX_MALE ? doc->sex : MD_SEX_UNKNOWN);
    ix->doc_ext[d] = ext_copy;
    ix->n_docs++;
    ix->n_postings += n_new_postings;
    ix->total_len += n;
    return MD_OK;
}

md_status md_bm25_finish(md_bm25 *ix, md_error *err) {
    if (!ix) return md_error_set(err, MD_ERR_INVALID_ARG, "bm25: no index");
    if (ix->finished) return MD_OK;
    md_map_free(&ix->id_map);
    md_map_init(&ix->id_map);
    md_free(ix->doc_norm);
    ix->doc_norm = md_calloc(ix->n_docs ? ix->n_docs : 1, sizeof(double));
    if (!ix->doc_norm) return md_error_set(err, MD_ERR_NOMEM, "bm25: out of memory");
    for (size_t d = 0; d < ix->n_docs; d++) {
        const uint64_t id = ix->doc_id[d];
        if (md_map_get(&ix->id_map, (const char *)&id, sizeof id, NULL))
            return md_error_set(err, MD_ERR_CONFLICT, "bm25: document id %llu added twice", (unsigned long long)id);
        md_status s = md_map_put(&ix->id_map, (const char *)&id, sizeof id, d);
        if (s != MD_OK) return md_error_set(err, s, "bm25: out of memory");
    }
    ix->avgdl = ix->n_docs ? (double)ix->total_len / (double)ix->n_docs : 0.0;
    const double k1 = ix->params.k1, b = ix->params.b;
    for (size_t d = 0; d < ix->n_docs; d++) {
        double rel = ix->avgdl > 0 ? (double)ix->doc_len[d] / ix->avgdl : 0.0;
        ix->doc_norm[d] = k1 * (1.0 - b + b * rel);
    }
    md_vec_free(&ix->scratch);
    md_vec_init(&ix->scratch, sizeof(uint32_t));
    ix->finished = true;
    return MD_OK;
}

size_t md_bm25_n_docs(const md_bm25 *ix) { return ix ? ix->n_docs : 0; }
size_t md_bm25_n_terms(const md_bm25 *ix) { return ix ? ix->n_terms : 0; }
uint64_t md_bm25_n_postings(const md_bm25 *ix) { return ix ? ix->n_postings : 0; }
double md_bm25_avg_doc_len(const md_bm25 *ix) { return ix ? ix->avgdl : 0.0; }

uint32_t md_bm25_doc_freq(const md_bm25 *ix, const char *term) {
    uint64_t v;
    if (!ix || !term || !md_map_get(&ix->term_map, term, strlen(term), &v)) return 0;
    return ix->terms[v].n;
}

static bool doc_index(const md_bm25 *ix, uint64_t id, size_t *d) {
    uint64_t v;
    if (!ix->finished || !md_map_get(&ix->id_map, (const char *)&id, sizeof id, &v)) return false;
    *d = (size_t)v;
    return true;
}

bool md_bm25_doc(const md_bm25 *ix, uint64_t id, md_search_doc *out) {
    size_t d;
    if (!ix || !doc_index(ix, id, &d)) return false;
    if (out) {
        out->id = id;
        out->external_id = ix->doc_ext[d];
        out->age_years = ix->doc_age[d];
        out->sex = (md_sex)ix->doc_sex[d];
    }
    return true;
}

/* ---------------------------------------------------------------- search ---- */

typedef struct query_terms {
    const md_bm25 *ix;
    uint32_t t[256]; /* unique known terms; a longer query keeps its first 256 */
    size_t n;
} query_terms;

static md_status collect_query_term(const char *tok, size_t n, void *ctx) {
    query_terms *q = ctx;
    uint64_t v;
    if (!md_map_get(&q->ix->term_map, tok, n, &v)) return MD_OK;
    for (size_t i = 0; i < q->n; i++)
        if (q->t[i] == (uint32_t)v) return MD_OK;
    if (q->n < MD_ARRAY_LEN(q->t)) q->t[q->n++] = (uint32_t)v;
    return MD_OK;
}

static double idf(const md_bm25 *ix, uint32_t df) {
    double n = (double)ix->n_docs;
    return log(1.0 + (n - df + 0.5) / (df + 0.5));
}

/* true when a ranks strictly better than b */
static bool hit_better(const md_bm25_hit *a, const md_bm25_hit *b) {
    return a->score > b->score || (a->score == b->score && a->id < b->id);
}

/* min-heap on "better": the root is the worst kept hit */
static void heap_sift_down(md_bm25_hit *h, size_t n, size_t i) {
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, w = i;
        if (l < n && hit_better(&h[w], &h[l])) w = l;
        if (r < n && hit_better(&h[w], &h[r])) w = r;
        if (w == i) return;
        md_bm25_hit tmp = h[i];
        h[i] = h[w];
        h[w] = tmp;
        i = w;
    }
}

static void heap_sift_up(md_bm25_hit *h, size_t i) {
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!hit_better(&h[p], &h[i])) return;
        md_bm25_hit tmp = h[i];
        h[i] = h[p];
        h[p] = tmp;
        i = p;
    }
}

md_status md_bm25_search(const md_bm25 *ix, const char *query, size_t n_bytes, size_t k,
                         const md_search_filter *filter, md_bm25_hit *out, size_t *n_out, md_error *err) {
    if (n_out) *n_out = 0;
    if (!ix || !query || !n_out || (k && !out)) return md_error_set(err, MD_ERR_INVALID_ARG, "bm25: bad arguments");
    if (!ix->finished) return md_error_set(err, MD_ERR_INVALID_ARG, "bm25: index not finished");
    if (k == 0 || ix->n_docs == 0) return MD_OK;
    query_terms q = {.ix = ix, .n = 0};
    md_status s = md_search_tokenize(query, n_bytes, collect_query_term, &q);
    if (s != MD_OK) return md_error_set(err, s, "bm25: tokenising the query failed");
    if (q.n == 0) return MD_OK;

    double *acc = md_calloc(ix->n_docs, sizeof(double));
    uint32_t *touched = md_malloc(ix->n_docs * sizeof(uint32_t));
    if (!acc || !touched) {
        md_free(acc);
        md_free(touched);
        return md_error_set(err, MD_ERR_NOMEM, "bm25: out of memory");
    }
    size_t n_touched = 0;
    const double k1p1 = ix->params.k1 + 1.0;
    for (size_t i = 0; i < q.n; i++) {
        const term_entry *te = &ix->terms[q.t[i]];
        const double w = idf(ix, te->n);
        for (uint32_t j = 0; j < te->n; j++) {
            const posting p = te->p[j];
            if (acc[p.doc] == 0.0) touched[n_touched++] = p.doc;
            const double tf = (double)p.tf;
            acc[p.doc] += w * tf * k1p1 / (tf + ix->doc_norm[p.doc]);
        }
    }
    size_t n_heap = 0;
    for (size_t i = 0; i < n_touched; i++) {
        const uint32_t d = touched[i];
        if (filter && !md_search_filter_match(filter, ix->doc_age[d], (md_sex)ix->doc_sex[d])) continue;
        md_bm25_hit h = {ix->doc_id[d], acc[d]};
        if (n_heap < k) {
            out[n_heap] = h;
            heap_sift_up(out, n_heap++);
        } else if (hit_better(&h, &out[0])) {
            out[0] = h;
            heap_sift_down(out, n_heap, 0);
        }
    }
    md_free(acc);
    md_free(touched);
    /* heap sort in place: repeatedly move the worst to the end */
    for (size_t n = n_heap; n > 1; n--) {
        md_bm25_hit tmp = out[0];
        out[0] = out[n - 1];
        out[n - 1] = tmp;
        heap_sift_down(out, n - 1, 0);
    }
    *n_out = n_heap;
    return MD_OK;
}

md_status md_bm25_score(const md_bm25 *ix, const char *query, size_t n_bytes, uint64_t id, double *score,
                        md_error *err) {
    *score = 0;
    if (!ix || !query) return md_error_set(err, MD_ERR_INVALID_ARG, "bm25: bad arguments");
    size_t d;
    if (!doc_index(ix, id, &d)) return md_error_set(err, MD_ERR_NOT_FOUND, "bm25: no document %llu", (unsigned long long)id);
    query_terms q = {.ix = ix, .n = 0};
    md_status s = md_search_tokenize(query, n_bytes, collect_query_term, &q);
    if (s != MD_OK) return md_error_set(err, s, "bm25: tokenising the query failed");
    double sum = 0;
    for (size_t i = 0; i < q.n; i++) {
        const term_entry *te = &ix->terms[q.t[i]];
        size_t lo = 0, hi = te->n; /* postings are in doc order */
        while (lo < hi) {
            size_t mid = (lo + hi) / 2;
            if (te->p[mid].doc < d) lo = mid + 1;
            else hi = mid;
        }
        if (lo < te->n && te->p[lo].doc == d) {
            double tf = te->p[lo].tf;
            sum += idf(ix, te->n) * tf * (ix->params.k1 + 1.0) / (tf + ix->doc_norm[d]);
        }
    }
    *score = sum;
    return MD_OK;
}

/* ------------------------------------------------------------------- file ---- */

static void put_u32(md_buf *b, uint32_t v) { md_buf_append(b, &v, sizeof v); }
static void put_u64(md_buf *b, uint64_t v) { md_buf_append(b, &v, sizeof v); }
static void put_f64(md_buf *b, double v) { md_buf_append(b, &v, sizeof v); }

md_status md_bm25_save(const md_bm25 *ix, const char *path, md_error *err) {
    if (!ix || !path) return md_error_set(err, MD_ERR_INVALID_ARG, "bm25: bad arguments");
    if (!ix->finished) return md_error_set(err, MD_ERR_INVALID_ARG, "bm25: index not finished");
    md_buf b;
    md_buf_init(&b);
    md_buf_append(&b, BM25_MAGIC, 8);
    put_u32(&b, BM25_VERSION);
    put_u32(&b, 0);
    put_f64(&b, ix->params.k1);
    put_f64(&b, ix->params.b);
    put_u64(&b, ix->n_docs);
    put_u64(&b, ix->n_terms);
    put_u64(&b, ix->n_postings);
    put_u64(&b, ix->total_len);
    for (size_t d = 0; d < ix->n_docs; d++) {
        put_u64(&b, ix->doc_id[d]);
        put_u32(&b, ix->doc_len[d]);
        float age = ix->doc_age[d];
        md_buf_append(&b, &age, sizeof age);
        uint8_t sex_pad[4] = {ix->doc_sex[d], 0, 0, 0};
        md_buf_append(&b, sex_pad, 4);
        uint32_t n_ext = (uint32_t)strlen(ix->doc_ext[d]);
        put_u32(&b, n_ext);
        md_buf_append(&b, ix->doc_ext[d], n_ext);
    }
    for (size_t t = 0; t < ix->n_terms; t++) {
        const term_entry *te = &ix->terms[t];
        uint32_t n_text = (uint32_t)strlen(te->text);
        put_u32(&b, n_text);
        md_buf_append(&b, te->text, n_text);
        put_u32(&b, te->n);
        md_buf_append(&b, te->p, (size_t)te->n * sizeof(posting));
    }
    if (!md_buf_ok(&b)) {
        md_buf_free(&b);
        return md_error_set(err, MD_ERR_NOMEM, "bm25: out of memory serialising the index");
    }
    put_u64(&b, md_hash_bytes(b.data, b.len));
    if (!md_buf_ok(&b)) {
        md_buf_free(&b);
        return md_error_set(err, MD_ERR_NOMEM, "bm25: out of memory serialising the index");
    }
    size_t n_path = strlen(path);
    char *tmp = md_malloc(n_path + 16);
    if (!tmp) {
        md_buf_free(&b);
        return md_error_set(err, MD_ERR_NOMEM, "bm25: out of memory");
    }
    snprintf(tmp, n_path + 16, "%s.tmp", path);
    md_status st = MD_OK;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) {
        st = md_error_set(err, MD_ERR_IO, "bm25: cannot create %s: %s", tmp, strerror(errno));
    } else {
        size_t off = 0;
        while (off < b.len) {
            ssize_t w = write(fd, b.data + off, b.len - off);
            if (w < 0 && errno == EINTR) continue;
            if (w <= 0) break;
            off += (size_t)w;
        }
        if (off != b.len || fsync(fd) != 0) st = md_error_set(err, MD_ERR_IO, "bm25: cannot write %s: %s", tmp, strerror(errno));
        if (close(fd) != 0 && st == MD_OK) st = md_error_set(err, MD_ERR_IO, "bm25: cannot close %s", tmp);
        if (st == MD_OK && rename(tmp, path) != 0)
            st = md_error_set(err, MD_ERR_IO, "bm25: cannot rename to %s: %s", path, strerror(errno));
        if (st != MD_OK) unlink(tmp);
    }
    md_free(tmp);
    md_buf_free(&b);
    return st;
}

typedef struct reader {
    const unsigned char *p;
    size_t left;
} reader;

static bool rd(reader *r, void *dst, size_t n) {
    if (r->left < n) return false;
    memcpy(dst, r->p, n);
    r->p += n;
    r->left -= n;
    return true;
}

#define LOAD_FAIL(...)                                     \
    do {                                                   \
        st = md_error_set(err, MD_ERR_PARSE, __VA_ARGS__); \
        goto fail;                                         \
    } while (0)

md_status md_bm25_load_bytes(const void *bytes, size_t n_bytes, md_bm25 **out, md_error *err) {
    *out = NULL;
    if (!bytes) return md_error_set(err, MD_ERR_INVALID_ARG, "bm25: no bytes");
    if (n_bytes < 8 + 8 + 16 + 32 + 8) return md_error_set(err, MD_ERR_PARSE, "bm25: file too short (%zu bytes)", n_bytes);
    if (memcmp(bytes, BM25_MAGIC, 8) != 0) return md_error_set(err, MD_ERR_PARSE, "bm25: bad magic");
    uint64_t stored_sum;
    memcpy(&stored_sum, (const char *)bytes + n_bytes - 8, 8);
    if (md_hash_bytes(bytes, n_bytes - 8) != stored_sum) return md_error_set(err, MD_ERR_PARSE, "bm25: checksum mismatch");

    reader r = {(const unsigned char *)bytes + 8, n_bytes - 16};
    uint32_t version, reserved;
    double k1, b;
    uint64_t n_docs, n_terms, n_postings, total_len;
    if (!rd(&r, &version, 4) || !rd(&r, &reserved, 4) || !rd(&r, &k1, 8) || !rd(&r, &b, 8) || !rd(&r, &n_docs, 8) ||
        !rd(&r, &n_terms, 8) || !rd(&r, &n_postings, 8) || !rd(&r, &total_len, 8))
        return md_error_set(err, MD_ERR_PARSE, "bm25: truncated header");
    if (version != BM25_VERSION) return md_error_set(err, MD_ERR_PARSE, "bm25: unsupported version %u", version);
    if (!(k1 >= 0 && k1 <= 100) || !(b >= 0 && b <= 1)) return md_error_set(err, MD_ERR_PARSE, "bm25: bad parameters");
    if (n_docs > r.left / BM25_DOC_FIXED_BYTES || n_docs >= UINT32_MAX)
        return md_error_set(err, MD_ERR_PARSE, "bm25: document count %llu exceeds the file", (unsigned long long)n_docs);
    if (n_terms > r.left / 8 || n_terms >= UINT32_MAX)
        return md_error_set(err, MD_ERR_PARSE, "bm25: term count %llu exceeds the file", (unsigned long long)n_terms);
    if (n_postings > r.left / sizeof(posting))
        return md_error_set(err, MD_ERR_PARSE, "bm25: posting count %llu exceeds the file", (unsigned long long)n_postings);

    md_bm25 *ix = NULL;
    md_status st = md_bm25_new((md_bm25_params){k1, b}, &ix, err);
    if (st != MD_OK) return st;
    uint64_t *len_check = NULL;
    st = reserve_docs(ix, n_docs ? (size_t)n_docs : 1);
    if (st != MD_OK) {
        st = md_error_set(err, st, "bm25: out of memory");
        goto fail;
    }
    uint64_t sum_len = 0;
    for (uint64_t d = 0; d < n_docs; d++) {
        uint64_t id;
        uint32_t len, n_ext;
        float age;
        uint8_t sex_pad[4];
        if (!rd(&r, &id, 8) || !rd(&r, &len, 4) || !rd(&r, &age, 4) || !rd(&r, sex_pad, 4) || !rd(&r, &n_ext, 4))
            LOAD_FAIL("bm25: truncated document %llu", (unsigned long long)d);
        if (sex_pad[0] > MD_SEX_MALE) LOAD_FAIL("bm25: document %llu has a bad sex code", (unsigned long long)d);
        if (!(age >= -1.0f && age <= 200.0f)) LOAD_FAIL("bm25: document %llu has a bad age", (unsigned long long)d);
        if (n_ext > BM25_MAX_EXT_BYTES || n_ext > r.left)
            LOAD_FAIL("bm25: document %llu external id length %u exceeds the file", (unsigned long long)d, n_ext);
        char *ext = md_arena_strndup(&ix->strings, (const char *)r.p, n_ext);
        if (!ext) {
            st = md_error_set(err, MD_ERR_NOMEM, "bm25: out of memory");
            goto fail;
        }
        if (memchr(r.p, '\0', n_ext)) LOAD_FAIL("bm25: document %llu external id holds a NUL", (unsigned long long)d);
        r.p += n_ext;
        r.left -= n_ext;
        ix->doc_id[d] = id;
        ix->doc_len[d] = len;
        ix->doc_age[d] = age;
        ix->doc_sex[d] = sex_pad[0];
        ix->doc_ext[d] = ext;
        ix->n_docs++;
        sum_len += len;
    }
    if (sum_len != total_len) LOAD_FAIL("bm25: document lengths add up to %llu, header says %llu",
                                        (unsigned long long)sum_len, (unsigned long long)total_len);
    len_check = md_calloc(n_docs ? (size_t)n_docs : 1, sizeof(uint64_t));
    if (!len_check || !grow((void **)&ix->terms, &ix->cap_terms, n_terms ? (size_t)n_terms : 1, sizeof(term_entry))) {
        st = md_error_set(err, MD_ERR_NOMEM, "bm25: out of memory");
        goto fail;
    }
    uint64_t sum_postings = 0;
    for (uint64_t t = 0; t < n_terms; t++) {
        uint32_t n_text, df;
        if (!rd(&r, &n_text, 4)) LOAD_FAIL("bm25: truncated term %llu", (unsigned long long)t);
        if (n_text == 0 || n_text > MD_SEARCH_MAX_TOKEN_BYTES || n_text > r.left)
            LOAD_FAIL("bm25: term %llu has a bad length %u", (unsigned long long)t, n_text);
        if (memchr(r.p, '\0', n_text)) LOAD_FAIL("bm25: term %llu holds a NUL", (unsigned long long)t);
        if (md_map_get(&ix->term_map, (const char *)r.p, n_text, NULL))
            LOAD_FAIL("bm25: term %llu appears twice", (unsigned long long)t);
        uint32_t ti;
        st = term_intern(ix, (const char *)r.p, n_text, &ti);
        if (st != MD_OK) {
            st = md_error_set(err, st, "bm25: out of memory");
            goto fail;
        }
        r.p += n_text;
        r.left -= n_text;
        if (!rd(&r, &df, 4)) LOAD_FAIL("bm25: truncated term %llu", (unsigned long long)t);
        if (df == 0 || df > n_docs || df > r.left / sizeof(posting))
            LOAD_FAIL("bm25: term %llu document frequency %u is impossible", (unsigned long long)t, df);
        term_entry *te = &ix->terms[ti];
        te->p = md_malloc((size_t)df * sizeof(posting));
        if (!te->p) {
            st = md_error_set(err, MD_ERR_NOMEM, "bm25: out of memory");
            goto fail;
        }
        memcpy(te->p, r.p, (size_t)df * sizeof(posting));
        te->n = te->cap = df;
        r.p += (size_t)df * sizeof(posting);
        r.left -= (size_t)df * sizeof(posting);
        for (uint32_t j = 0; j < df; j++) {
            if (te->p[j].doc >= n_docs || (j > 0 && te->p[j].doc <= te->p[j - 1].doc) || te->p[j].tf == 0)
                LOAD_FAIL("bm25: term %llu has a bad posting %u", (unsigned long long)t, j);
            len_check[te->p[j].doc] += te->p[j].tf;
        }
        sum_postings += df;
    }
    if (sum_postings != n_postings) LOAD_FAIL("bm25: postings add up to %llu, header says %llu",
                                              (unsigned long long)sum_postings, (unsigned long long)n_postings);
    if (r.left != 0) LOAD_FAIL("bm25: %zu unexpected bytes before the checksum", r.left);
    for (uint64_t d = 0; d < n_docs; d++)
        if (len_check[d] != ix->doc_len[d])
            LOAD_FAIL("bm25: document %llu term frequencies add up to %llu, its length is %u", (unsigned long long)d,
                      (unsigned long long)len_check[d], ix->doc_len[d]);
    ix->n_postings = n_postings;
    ix->total_len = total_len;
    md_free(len_check);
    len_check = NULL;
    st = md_bm25_finish(ix, err);
    if (st != MD_OK) {
        if (st == MD_ERR_CONFLICT) st = md_error_set(err, MD_ERR_PARSE, "bm25: duplicate document id in file");
        goto fail;
    }
    *out = ix;
    return MD_OK;
fail:
    md_free(len_check);
    md_bm25_free(ix);
    return st;
}

md_status md_bm25_load(const char *path, md_bm25 **out, md_error *err) {
    *out = NULL;
    char *data = NULL;
    size_t n = 0;
    md_status st = md_read_file(path, MD_BM25_MAX_FILE_BYTES, &data, &n, err);
    if (st != MD_OK) return st;
    st = md_bm25_load_bytes(data, n, out, err);
    md_free(data);
    return st;
}
