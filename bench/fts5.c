/* bench_fts5: SQLite FTS5 against medify's own BM25 index (src/search/bm25.c), on the
 * corpus and queries of bench_bm25: N synthetic cases from the synth generator (seed 1
 * unless --seed), queries = the opening sentences (presentation) of N_QUERIES cases
 * spread evenly over the corpus, top K.
 *
 * Each engine gets its own pass over the generator (the stream is reproducible), so
 * neither index shares memory with the other and the resident-memory growth of each
 * build can be read on its own:
 *   medify  md_bm25_add for every case, md_bm25_finish, md_bm25_search per query;
 *           disk = the file md_bm25_save writes.
 *   FTS5    a contentless table (content='': the index only, as medify's file holds
 *           no text; the text lives in the case store either way) with the unicode61
 *           tokenizer, every case inserted in one transaction (journal off, synchronous
 *           off: a bulk load), then FTS5's 'optimize' (all segments merged into one),
 *           timed apart; queries "SELECT rowid ... MATCH ? ORDER BY rank LIMIT k" with
 *           rank = bm25(). The database is mmapped (PRAGMA mmap_size) so reads come from
 *           the page cache, as medify's index is in RAM. disk = the database file.
 *
 * Scoring differences that no option removes: FTS5's bm25() has k1 = 1.2 and b = 0.75
 * hard-coded (medify's defaults are the same) but takes idf = ln((N - n + 0.5) /
 * (n + 0.5)) clamped to 1e-6 (a term in more than half the documents scores ~0), where
 * medify takes ln(1 + (N - n + 0.5) / (n + 0.5)); and its terms are unicode61's (no
 * stop words, no stemming, no units or abbreviations), so document lengths differ too.
 *
 * FTS5 queries: FTS5 reads bare words as an AND, so the query text becomes an OR of
 * quoted words. A word is a run of ASCII letters and digits or of non-ASCII bytes;
 * FTS5 tokenises inside the quotes with the table's tokenizer. Words are distinct
 * (case-folded) because bm25() sums once per phrase, and medify counts a repeated query
 * term once. Building this string is inside the timed query. FTS5 has no stop words;
 * --drop-stop-words leaves out of the FTS5 queries the words medify's tokenizer drops
 * (a word alone that yields no token), the obvious tuning.
 *
 * Time: wall-clock and process CPU time are both taken, for the build and per query;
 * on a shared machine the CPU times are the steadier figures.
 *
 * Quality: the within-corpus task of tests/golden/test_retrieval_sanity.c (is the case
 * a query was cut from in the top K) for both, and the mean overlap of the two top-K
 * lists (|A ∩ B| / K). `bench_fts5 2000 200 10 --seed 2024` is exactly that test's
 * setting.
 *
 * --tokens prints, instead, the tokens medify's tokenizer and FTS5's tokenizers give
 * for a few medical strings (FTS5's read back through an fts5vocab table).
 *
 * Output: JSON lines (the corpus, one per engine, and the FTS5/medify ratios); speed
 * is never asserted.
 *
 *   bench_fts5 [N_CASES] [N_QUERIES] [K] [--seed S] [--dir DIR] [--drop-stop-words]
 *   bench_fts5 --tokens
 */
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "medify/search.h"
#include "medify/synth.h"

#define FTS5_MMAP_BYTES ((sqlite3_int64)4 << 30) /* more than the index: every page mapped */

typedef struct bench_args {
    size_t n_cases, n_queries, k;
    uint64_t seed;
    const char *dir; /* where the two index files go (removed at the end) */
    bool tokens;
    bool drop_stop; /* FTS5 queries without medify's stop words */
} bench_args;

/* What one engine measured. */
typedef struct engine_result {
    double build_s;    /* adding every case (tokenising included), up to a searchable index */
    double build_cpu_s;
    double finish_s;   /* medify: save to disk; FTS5: optimize */
    double finish_cpu_s;
    uint64_t disk_bytes;
    double rss_mib;    /* resident-memory growth over the build */
    double heap_mib;   /* FTS5: SQLite's own heap high-water mark (0 for medify) */
    uint64_t *top;     /* n_q * k ids, best first */
    size_t *n_top;     /* per query */
    uint64_t *lat_ns;  /* per query wall-clock, sorted after the run */
    uint64_t *cpu_ns;  /* per query CPU time, likewise */
    size_t self_found; /* queries whose own case is in the top k */
} engine_result;

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* CPU time of this process (single-threaded here: SQLite starts no worker threads). */
static uint64_t cpu_ns_now(void) {
    struct timespec ts;
    if (clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts) != 0) return 0;
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Wall-clock and CPU time summed over the intervals between start and stop. */
typedef struct stopwatch {
    uint64_t wall_ns, cpu_ns, wall0, cpu0;
} stopwatch;

static void sw_start(stopwatch *w) {
    w->wall0 = md_clock_monotonic_ns();
    w->cpu0 = cpu_ns_now();
}

static void sw_stop(stopwatch *w) {
    w->cpu_ns += cpu_ns_now() - w->cpu0;
    w->wall_ns += md_clock_monotonic_ns() - w->wall0;
}

static double rss_mib_now(void) {
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long size = 0, resident = 0;
    if (!f) return 0;
    if (fscanf(f, "%lu %lu", &size, &resident) != 2) resident = 0;
    fclose(f);
    return (double)resident * (double)sysconf(_SC_PAGESIZE) / (1024.0 * 1024.0);
}

static uint64_t file_bytes(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 ? (uint64_t)st.st_size : 0;
}

static double pct_ms(const uint64_t *sorted, size_t n, size_t pct) {
    size_t i = n * pct / 100;
    return (double)sorted[i < n ? i : n - 1] / 1e6;
}

static double mean_ms(const uint64_t *lat, size_t n) {
    double sum = 0;
    for (size_t i = 0; i < n; i++) sum += (double)lat[i];
    return sum / (double)n / 1e6;
}

static bool result_alloc(engine_result *r, size_t n_q, size_t k) {
    r->top = calloc(n_q * k, sizeof *r->top);
    r->n_top = calloc(n_q, sizeof *r->n_top);
    r->lat_ns = calloc(n_q, sizeof *r->lat_ns);
    r->cpu_ns = calloc(n_q, sizeof *r->cpu_ns);
    return r->top && r->n_top && r->lat_ns && r->cpu_ns;
}

static void result_free(engine_result *r) {
    free(r->top);
    free(r->n_top);
    free(r->lat_ns);
    free(r->cpu_ns);
}

/* ------------------------------------------------------------ FTS5 query ---- */

static bool word_byte(unsigned char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c >= 0x80;
}

/* Whether the query built so far holds the phrase "w" (ASCII case-folded). */
static bool has_phrase(const md_buf *out, const char *w, size_t n) {
    if (!out->data) return false;
    const char *p = out->data, *end = out->data + out->len;
    while (p < end) {
        const char *open = memchr(p, '"', (size_t)(end - p));
        const char *close = open ? memchr(open + 1, '"', (size_t)(end - open - 1)) : NULL;
        if (!close) break;
        if ((size_t)(close - open - 1) == n && strncasecmp(open + 1, w, n) == 0) return true;
        p = close + 1;
    }
    return false;
}

static md_status count_token(const char *tok, size_t n_bytes, void *ctx) {
    (void)tok;
    (void)n_bytes;
    ++*(size_t *)ctx;
    return MD_OK;
}

/* A word medify's tokenizer turns into nothing: a stop word. */
static bool is_medify_stop_word(const char *w, size_t n) {
    size_t n_tokens = 0;
    return md_search_tokenize(w, n, count_token, &n_tokens) == MD_OK && n_tokens == 0;
}

/* The FTS5 MATCH string for free text: its distinct words as quoted phrases joined by
 * OR (see the file comment), without medify's stop words when drop_stop. An empty
 * string when no word is left. */
static void fts5_or_query(const char *text, size_t n_bytes, bool drop_stop, md_buf *out) {
    md_buf_clear(out);
    size_t i = 0;
    while (i < n_bytes) {
        while (i < n_bytes && !word_byte((unsigned char)text[i])) i++;
        size_t start = i;
        while (i < n_bytes && word_byte((unsigned char)text[i])) i++;
        size_t n = i - start;
        if (n == 0 || has_phrase(out, text + start, n)) continue;
        if (drop_stop && is_medify_stop_word(text + start, n)) continue;
        if (out->len) md_buf_append_str(out, " OR ");
        md_buf_append_char(out, '"');
        md_buf_append(out, text + start, n); /* word bytes hold no '"' to escape */
        md_buf_append_char(out, '"');
    }
}

/* ------------------------------------------------------------- generator ---- */

typedef struct corpus {
    md_kb *kb;
    md_synth_params params;
} corpus;

/* ---------------------------------------------------------------- medify ---- */

static int run_medify(const corpus *cp, const bench_args *a, const char *path, char **queries, size_t n_q,
                      size_t step, engine_result *r, size_t *n_terms, uint64_t *n_postings, double *text_mb) {
    md_error err = {0};
    md_synth *s = NULL;
    md_bm25 *ix = NULL;
    if (md_synth_new(cp->kb, cp->params, &s, &err) != MD_OK ||
        md_bm25_new(md_bm25_default_params(), &ix, &err) != MD_OK) {
        fprintf(stderr, "medify: %s\n", err.message);
        md_synth_free(s);
        return 1;
    }
    double rss0 = rss_mib_now();
    stopwatch build = {0}, save = {0};
    uint64_t text_bytes = 0;
    size_t n_kept = 0;
    for (size_t i = 0; i < a->n_cases; i++) {
        md_synth_case c;
        if (md_synth_next(s, &c, &err) != MD_OK) goto fail;
        if (i % step == 0 && n_kept < n_q && !(queries[n_kept++] = md_strndup(c.text, c.n_summary_bytes))) {
            md_error_set(&err, MD_ERR_NOMEM, "out of memory");
            goto fail;
        }
        md_search_doc d = {i, c.patient_uid, c.age_years, c.sex};
        size_t n = strlen(c.text);
        sw_start(&build);
        md_status st = md_bm25_add(ix, &d, c.text, n, &err);
        sw_stop(&build);
        if (st != MD_OK) goto fail;
        text_bytes += n;
    }
    sw_start(&build);
    md_status st = md_bm25_finish(ix, &err);
    sw_stop(&build);
    if (st != MD_OK) goto fail;
    r->build_s = (double)build.wall_ns / 1e9;
    r->build_cpu_s = (double)build.cpu_ns / 1e9;
    r->rss_mib = rss_mib_now() - rss0;
    *n_terms = md_bm25_n_terms(ix);
    *n_postings = md_bm25_n_postings(ix);
    *text_mb = (double)text_bytes / 1e6;

    md_bm25_hit *hits = calloc(a->k, sizeof *hits);
    if (!hits) goto fail;
    for (size_t q = 0; q < n_q; q++) {
        size_t n = 0;
        stopwatch w = {0};
        sw_start(&w);
        st = md_bm25_search(ix, queries[q], strlen(queries[q]), a->k, NULL, hits, &n, &err);
        sw_stop(&w);
        r->lat_ns[q] = w.wall_ns;
        r->cpu_ns[q] = w.cpu_ns;
        if (st != MD_OK) {
            free(hits);
            goto fail;
        }
        r->n_top[q] = n;
        for (size_t j = 0; j < n; j++) {
            r->top[q * a->k + j] = hits[j].id;
            r->self_found += hits[j].id == q * step;
        }
    }
    free(hits);

    sw_start(&save);
    st = md_bm25_save(ix, path, &err);
    sw_stop(&save);
    if (st != MD_OK) goto fail;
    r->finish_s = (double)save.wall_ns / 1e9;
    r->finish_cpu_s = (double)save.cpu_ns / 1e9;
    r->disk_bytes = file_bytes(path);
    unlink(path);
    md_bm25_free(ix);
    md_synth_free(s);
    return 0;
fail:
    fprintf(stderr, "medify: %s\n", err.message);
    md_bm25_free(ix);
    md_synth_free(s);
    return 1;
}

/* ------------------------------------------------------------------ FTS5 ---- */

static int sql_exec(sqlite3 *db, const char *sql) {
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        fprintf(stderr, "fts5: %s: %s\n", sql, msg ? msg : sqlite3_errmsg(db));
        sqlite3_free(msg);
        return 1;
    }
    return 0;
}

/* Runs every query against the open index; latency includes building the MATCH string. */
static int fts5_queries(sqlite3 *db, sqlite3_stmt *sel, char **queries, size_t n_q, size_t step, size_t k,
                        bool drop_stop, engine_result *r) {
    md_buf qbuf;
    md_buf_init(&qbuf);
    int rc = 1;
    for (size_t q = 0; q < n_q; q++) {
        stopwatch w = {0};
        sw_start(&w);
        fts5_or_query(queries[q], strlen(queries[q]), drop_stop, &qbuf);
        if (!md_buf_ok(&qbuf)) goto done;
        size_t n = 0;
        if (qbuf.len > 0) {
            sqlite3_bind_text(sel, 1, qbuf.data, (int)qbuf.len, SQLITE_STATIC);
            sqlite3_bind_int64(sel, 2, (sqlite3_int64)k);
            int st;
            while ((st = sqlite3_step(sel)) == SQLITE_ROW && n < k)
                r->top[q * k + n++] = (uint64_t)sqlite3_column_int64(sel, 0);
            sqlite3_reset(sel);
            if (st != SQLITE_ROW && st != SQLITE_DONE) {
                fprintf(stderr, "fts5: query: %s\n", sqlite3_errmsg(db));
                goto done;
            }
        }
        sw_stop(&w);
        r->lat_ns[q] = w.wall_ns;
        r->cpu_ns[q] = w.cpu_ns;
        r->n_top[q] = n;
        for (size_t j = 0; j < n; j++) r->self_found += r->top[q * k + j] == q * step;
    }
    rc = 0;
done:
    md_buf_free(&qbuf);
    return rc;
}

/* Builds the FTS5 index and runs the queries. */
static int run_fts5(const corpus *cp, const bench_args *a, const char *path, char **queries, size_t n_q,
                    size_t step, engine_result *r) {
    md_error err = {0};
    md_synth *s = NULL;
    sqlite3 *db = NULL;
    sqlite3_stmt *ins = NULL, *sel = NULL;
    int rc = 1;
    unlink(path);
    if (md_synth_new(cp->kb, cp->params, &s, &err) != MD_OK) {
        fprintf(stderr, "fts5: %s\n", err.message);
        return 1;
    }
    double rss0 = rss_mib_now();
    sqlite3_int64 heap0 = sqlite3_memory_used();
    sqlite3_memory_highwater(1);
    if (sqlite3_open(path, &db) != SQLITE_OK) {
        fprintf(stderr, "fts5: open %s: %s\n", path, sqlite3_errmsg(db));
        goto done;
    }
    if (sql_exec(db, "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;") ||
        sql_exec(db, "CREATE VIRTUAL TABLE cases USING fts5(text, content='', tokenize='unicode61')"))
        goto done;
    if (sqlite3_prepare_v2(db, "INSERT INTO cases(rowid, text) VALUES(?1, ?2)", -1, &ins, NULL) != SQLITE_OK)
        goto sql_fail;
    stopwatch build = {0}, optimize = {0};
    sw_start(&build);
    int bad = sql_exec(db, "BEGIN");
    sw_stop(&build);
    if (bad) goto done;
    for (size_t i = 0; i < a->n_cases; i++) {
        md_synth_case c;
        if (md_synth_next(s, &c, &err) != MD_OK) {
            fprintf(stderr, "fts5: %s\n", err.message);
            goto done;
        }
        sw_start(&build);
        sqlite3_bind_int64(ins, 1, (sqlite3_int64)i);
        sqlite3_bind_text(ins, 2, c.text, -1, SQLITE_STATIC);
        int st = sqlite3_step(ins);
        sqlite3_reset(ins);
        sw_stop(&build);
        if (st != SQLITE_DONE) goto sql_fail;
    }
    sw_start(&build);
    bad = sql_exec(db, "COMMIT");
    sw_stop(&build);
    if (bad) goto done;
    r->build_s = (double)build.wall_ns / 1e9;
    r->build_cpu_s = (double)build.cpu_ns / 1e9;
    sw_start(&optimize);
    bad = sql_exec(db, "INSERT INTO cases(cases) VALUES('optimize')");
    sw_stop(&optimize);
    if (bad) goto done;
    r->finish_s = (double)optimize.wall_ns / 1e9;
    r->finish_cpu_s = (double)optimize.cpu_ns / 1e9;
    r->rss_mib = rss_mib_now() - rss0;
    r->heap_mib = (double)(sqlite3_memory_highwater(0) - heap0) / (1024.0 * 1024.0);
    r->disk_bytes = file_bytes(path);

    char pragma[64];
    snprintf(pragma, sizeof pragma, "PRAGMA mmap_size=%lld", (long long)FTS5_MMAP_BYTES);
    if (sql_exec(db, pragma)) goto done;
    if (sqlite3_prepare_v2(db, "SELECT rowid FROM cases WHERE cases MATCH ?1 ORDER BY rank LIMIT ?2", -1, &sel,
                           NULL) != SQLITE_OK)
        goto sql_fail;
    if (fts5_queries(db, sel, queries, n_q, step, a->k, a->drop_stop, r) != 0) goto done;
    rc = 0;
    goto done;
sql_fail:
    fprintf(stderr, "fts5: %s\n", sqlite3_errmsg(db));
done:
    sqlite3_finalize(ins);
    sqlite3_finalize(sel);
    sqlite3_close(db);
    unlink(path);
    md_synth_free(s);
    return rc;
}

/* ---------------------------------------------------------------- tokens ---- */

static const char *const k_probes[] = {
    "covid-19", "38.5°C", "t2dm", "b12", "hba1c 7.2%", "non-blanching rash", "fever for 3 days", "haemoptysis", "SOB",
};

/* FTS5 tokenizers to show: the default, the stemming one, and hyphens kept in words. */
static const char *const k_fts5_tokenizers[] = {"unicode61", "porter unicode61", "unicode61 tokenchars ''-''"};

typedef struct tok_print {
    md_buf *out;
    size_t n;
} tok_print;

static md_status append_token(const char *tok, size_t n_bytes, void *ctx) {
    tok_print *tp = ctx;
    if (tp->n++) md_buf_append_char(tp->out, ',');
    md_buf_append_json_str(tp->out, tok, n_bytes);
    return MD_OK;
}

static void print_line_head(md_buf *out, const char *probe, const char *tokenizer) {
    md_buf_clear(out);
    md_buf_append_str(out, "{\"bench\":\"fts5_tokens\",\"text\":");
    md_buf_append_json_str(out, probe, strlen(probe));
    md_buf_append_str(out, ",\"tokenizer\":");
    md_buf_append_json_str(out, tokenizer, strlen(tokenizer));
    md_buf_append_str(out, ",\"tokens\":[");
}

static int print_tokens(void) {
    md_buf out;
    md_buf_init(&out);
    for (size_t p = 0; p < MD_ARRAY_LEN(k_probes); p++) {
        const char *probe = k_probes[p];
        print_line_head(&out, probe, "medify");
        tok_print tp = {&out, 0};
        if (md_search_tokenize(probe, strlen(probe), append_token, &tp) != MD_OK) return 1;
        md_buf_append_str(&out, "]}");
        if (!md_buf_ok(&out)) return 1;
        puts(out.data);
    }
    for (size_t t = 0; t < MD_ARRAY_LEN(k_fts5_tokenizers); t++) {
        sqlite3 *db = NULL;
        sqlite3_stmt *ins = NULL, *sel = NULL;
        char sql[160];
        snprintf(sql, sizeof sql,
                 "CREATE VIRTUAL TABLE t USING fts5(x, tokenize='%s');"
                 "CREATE VIRTUAL TABLE v USING fts5vocab(t, 'instance');",
                 k_fts5_tokenizers[t]);
        int ok = sqlite3_open(":memory:", &db) == SQLITE_OK && sql_exec(db, sql) == 0 &&
                 sqlite3_prepare_v2(db, "INSERT INTO t(rowid, x) VALUES(?1, ?2)", -1, &ins, NULL) == SQLITE_OK &&
                 sqlite3_prepare_v2(db, "SELECT term FROM v WHERE doc = ?1 ORDER BY offset, term", -1, &sel,
                                    NULL) == SQLITE_OK;
        for (size_t p = 0; ok && p < MD_ARRAY_LEN(k_probes); p++) {
            sqlite3_bind_int64(ins, 1, (sqlite3_int64)p);
            sqlite3_bind_text(ins, 2, k_probes[p], -1, SQLITE_STATIC);
            ok = sqlite3_step(ins) == SQLITE_DONE;
            sqlite3_reset(ins);
        }
        /* the tokenizer as written in SQL: '' is an escaped quote */
        const char *name = t == 2 ? "unicode61 tokenchars '-'" : k_fts5_tokenizers[t];
        for (size_t p = 0; ok && p < MD_ARRAY_LEN(k_probes); p++) {
            print_line_head(&out, k_probes[p], name);
            sqlite3_bind_int64(sel, 1, (sqlite3_int64)p);
            size_t n = 0;
            while (sqlite3_step(sel) == SQLITE_ROW) {
                if (n++) md_buf_append_char(&out, ',');
                const char *term = (const char *)sqlite3_column_text(sel, 0);
                md_buf_append_json_str(&out, term ? term : "", term ? strlen(term) : 0);
            }
            sqlite3_reset(sel);
            md_buf_append_str(&out, "]}");
            ok = md_buf_ok(&out);
            if (ok) puts(out.data);
        }
        if (!ok) fprintf(stderr, "fts5 tokens (%s): %s\n", k_fts5_tokenizers[t], sqlite3_errmsg(db));
        sqlite3_finalize(ins);
        sqlite3_finalize(sel);
        sqlite3_close(db);
        if (!ok) {
            md_buf_free(&out);
            return 1;
        }
    }
    md_buf_free(&out);
    return 0;
}

/* Mean |A ∩ B| / k of the two engines' top-k lists. */
static double mean_overlap(const engine_result *x, const engine_result *y, size_t n_q, size_t k) {
    double sum = 0;
    for (size_t q = 0; q < n_q; q++) {
        size_t common = 0;
        for (size_t i = 0; i < x->n_top[q]; i++)
            for (size_t j = 0; j < y->n_top[q]; j++) common += x->top[q * k + i] == y->top[q * k + j];
        sum += (double)common / (double)k;
    }
    return sum / (double)n_q;
}

/* Fraction of queries whose first hit is the same document in both. */
static double same_top1(const engine_result *x, const engine_result *y, size_t n_q, size_t k) {
    size_t same = 0;
    for (size_t q = 0; q < n_q; q++) same += x->n_top[q] && y->n_top[q] && x->top[q * k] == y->top[q * k];
    return (double)same / (double)n_q;
}

/* ------------------------------------------------------------------ main ---- */

static int parse_args(int argc, char **argv, bench_args *a) {
    *a = (bench_args){167034, 1000, 10, md_synth_default_params().seed, NULL, false, false};
    size_t n_pos = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--tokens") == 0) a->tokens = true;
        else if (strcmp(argv[i], "--drop-stop-words") == 0) a->drop_stop = true;
        else if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc) a->seed = strtoull(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc) a->dir = argv[++i];
        else if (argv[i][0] != '-' && n_pos < 3) {
            size_t v = strtoul(argv[i], NULL, 10);
            if (n_pos == 0) a->n_cases = v;
            else if (n_pos == 1) a->n_queries = v;
            else a->k = v;
            n_pos++;
        } else {
            fprintf(stderr, "usage: bench_fts5 [N_CASES] [N_QUERIES] [K] [--seed S] [--dir DIR] [--drop-stop-words]\n"
                            "       bench_fts5 --tokens\n");
            return 2;
        }
    }
    if (a->n_cases == 0 || a->n_queries == 0 || a->k == 0 || a->k > 1000) {
        fprintf(stderr, "bench_fts5: N_CASES and N_QUERIES must be > 0, K in 1..1000\n");
        return 2;
    }
    if (a->n_queries > a->n_cases) a->n_queries = a->n_cases;
    if (!a->dir) {
        const char *tmp = getenv("TMPDIR");
        a->dir = tmp && *tmp ? tmp : "/tmp";
    }
    return 0;
}

static void print_engine(const char *engine, const bench_args *a, size_t n_q, const engine_result *r) {
    bool fts5 = strcmp(engine, "fts5") == 0;
    printf("{\"bench\":\"fts5\",\"engine\":\"%s\",\"query\":\"%s\",\"cases\":%zu,\"queries\":%zu,\"k\":%zu,"
           "\"build_s\":%.2f,\"build_cpu_s\":%.2f,\"%s_s\":%.2f,\"%s_cpu_s\":%.2f,\"disk_mb\":%.1f,"
           "\"rss_growth_mib\":%.0f,\"sqlite_heap_peak_mib\":%.1f,\"p50_ms\":%.3f,\"p99_ms\":%.3f,\"mean_ms\":%.3f,"
           "\"p50_cpu_ms\":%.3f,\"p99_cpu_ms\":%.3f,\"mean_cpu_ms\":%.3f,\"self_in_top_k\":%.3f}\n",
           engine, fts5 ? (a->drop_stop ? "or_no_stop_words" : "or_all_words") : "bm25_search", a->n_cases, n_q,
           a->k, r->build_s, r->build_cpu_s, fts5 ? "optimize" : "save", r->finish_s, fts5 ? "optimize" : "save",
           r->finish_cpu_s, (double)r->disk_bytes / 1e6, r->rss_mib, r->heap_mib, pct_ms(r->lat_ns, n_q, 50),
           pct_ms(r->lat_ns, n_q, 99), mean_ms(r->lat_ns, n_q), pct_ms(r->cpu_ns, n_q, 50),
           pct_ms(r->cpu_ns, n_q, 99), mean_ms(r->cpu_ns, n_q), (double)r->self_found / (double)n_q);
}

int main(int argc, char **argv) {
    bench_args a;
    int rc = parse_args(argc, argv, &a);
    if (rc != 0) return rc;
    if (a.tokens) return print_tokens();

    corpus cp = {NULL, md_synth_default_params()};
    cp.params.seed = a.seed;
    md_error err = {0};
    if (md_kb_load_embedded(&cp.kb, &err) != MD_OK) {
        fprintf(stderr, "kb: %s\n", err.message);
        return 1;
    }
    size_t n_q = a.n_queries, step = a.n_cases / a.n_queries;
    char **queries = calloc(n_q, sizeof *queries);
    engine_result med = {0}, fts = {0};
    char med_path[512], fts_path[512];
    snprintf(med_path, sizeof med_path, "%s/bench_fts5_%ld.bm25", a.dir, (long)getpid());
    snprintf(fts_path, sizeof fts_path, "%s/bench_fts5_%ld.db", a.dir, (long)getpid());
    size_t n_terms = 0;
    uint64_t n_postings = 0;
    double text_mb = 0;
    rc = 1;
    if (!queries || !result_alloc(&med, n_q, a.k) || !result_alloc(&fts, n_q, a.k)) goto done;
    if (run_medify(&cp, &a, med_path, queries, n_q, step, &med, &n_terms, &n_postings, &text_mb) != 0) goto done;
    if (run_fts5(&cp, &a, fts_path, queries, n_q, step, &fts) != 0) goto done;

    double overlap = mean_overlap(&med, &fts, n_q, a.k), top1 = same_top1(&med, &fts, n_q, a.k);
    qsort(med.lat_ns, n_q, sizeof *med.lat_ns, cmp_u64);
    qsort(med.cpu_ns, n_q, sizeof *med.cpu_ns, cmp_u64);
    qsort(fts.lat_ns, n_q, sizeof *fts.lat_ns, cmp_u64);
    qsort(fts.cpu_ns, n_q, sizeof *fts.cpu_ns, cmp_u64);
    printf("{\"bench\":\"fts5\",\"corpus\":\"synth\",\"seed\":%llu,\"cases\":%zu,\"text_mb\":%.1f,"
           "\"medify_terms\":%zu,\"medify_postings\":%llu,\"sqlite\":\"%s\"}\n",
           (unsigned long long)a.seed, a.n_cases, text_mb, n_terms, (unsigned long long)n_postings,
           sqlite3_libversion());
    print_engine("medify", &a, n_q, &med);
    print_engine("fts5", &a, n_q, &fts);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("{\"bench\":\"fts5\",\"compare\":\"fts5/medify\",\"build_cpu\":%.2f,\"disk\":%.2f,\"p50\":%.1f,"
           "\"p99\":%.1f,\"p50_cpu\":%.1f,\"p99_cpu\":%.1f,\"top_k_overlap\":%.3f,\"same_top1\":%.3f,"
           "\"peak_rss_mib\":%.0f}\n",
           (fts.build_cpu_s + fts.finish_cpu_s) / med.build_cpu_s, (double)fts.disk_bytes / (double)med.disk_bytes,
           pct_ms(fts.lat_ns, n_q, 50) / pct_ms(med.lat_ns, n_q, 50),
           pct_ms(fts.lat_ns, n_q, 99) / pct_ms(med.lat_ns, n_q, 99),
           pct_ms(fts.cpu_ns, n_q, 50) / pct_ms(med.cpu_ns, n_q, 50),
           pct_ms(fts.cpu_ns, n_q, 99) / pct_ms(med.cpu_ns, n_q, 99), overlap, top1, (double)ru.ru_maxrss / 1024.0);
    rc = 0;
done:
    for (size_t q = 0; queries && q < n_q; q++) md_free(queries[q]);
    free(queries);
    result_free(&med);
    result_free(&fts);
    md_kb_free(cp.kb);
    return rc;
}
