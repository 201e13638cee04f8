/* The case-analysis report pipeline: open the data directory's index, then per report
 * assess the case → structured summary → retrieve similar cases → write the sections
 * (deterministic templates, or the LLM with the deterministic report as fallback).
 *
 * Retrieval. The query is the names of the observations the patient reported as
 * present now plus words for age and sex ("woman", "child"), because historical case
 * texts open with exactly that ("A 45-year-old woman presented with ..."). Filters:
 * paediatric (< 18) against adult always; for adults ±age_window_years around the
 * patient's age; and sex when the conditions carrying most of the probability (the
 * smallest top set reaching 80%, at most five) are all impossible for one sex in the
 * KB (sex multiplier 0), so a gynaecological picture never retrieves male cases. The
 * minimum fused score of the params is applied by the hybrid search itself.
 *
 * Threads: the index is read-only after loading; the store's SQLite connection is
 * used under store_lock; everything else is per call.
 */
#include <stdlib.h>
#include <string.h>

#include "analysis/internal.h"

/* ---- sections ----------------------------------------------------------------------- */

static const struct {
    const char *key;
    const char *title;
} k_sections[MD_REPORT_N_SECTIONS] = {
    {MD_REPORT_SECTION_CURRENT_CASE, "Current case"},
    {MD_REPORT_SECTION_TRIAGE, "Triage and red flags"},
    {MD_REPORT_SECTION_DIFFERENTIAL, "Differential diagnosis"},
    {MD_REPORT_SECTION_SIMILAR_CASES, "Similar cases"},
    {MD_REPORT_SECTION_NEXT_STEPS, "Suggested next steps"},
    {MD_REPORT_SECTION_SAFETY_NOTICE, "Safety notice"},
};

const char *md_report_section_key(size_t i) { return i < MD_REPORT_N_SECTIONS ? k_sections[i].key : NULL; }

const char *md_report_section_title(const char *key) {
    if (!key) return NULL;
    for (size_t i = 0; i < MD_REPORT_N_SECTIONS; i++)
        if (strcmp(k_sections[i].key, key) == 0) return k_sections[i].title;
    return NULL;
}

const char *md_report_section_text(const md_report *r, const char *key) {
    if (!r || !key) return NULL;
    for (size_t i = 0; i < r->n_sections; i++)
        if (r->sections[i].key && strcmp(r->sections[i].key, key) == 0) return r->sections[i].text;
    return NULL;
}

/* ---- params ------------------------------------------------------------------------- */

#define ANALYSIS_MAX_SIMILAR 20
#define ANALYSIS_MAX_DEPTH 10000
#define ANALYSIS_SEX_SET_MASS 0.8  /* the condition set whose sex specificity decides the filter */
#define ANALYSIS_SEX_SET_MAX 5
#define ANALYSIS_ADULT_AGE_YEARS 18.0
#define ANALYSIS_MAX_SHOWN_CONDITIONS 5
#define ANALYSIS_MIN_SHOWN_PROBABILITY 0.01

md_analysis_params md_analysis_default_params(void) {
    md_analysis_params p;
    memset(&p, 0, sizeof p);
    p.n_similar = MD_ANALYSIS_DEFAULT_N_SIMILAR;
    p.min_score = 0;
    p.depth = MD_HYBRID_DEFAULT_DEPTH;
    p.demographic_filter = true;
    p.age_window_years = MD_ANALYSIS_DEFAULT_AGE_WINDOW_YEARS;
    p.snippet_bytes = MD_ANALYSIS_DEFAULT_SNIPPET_BYTES;
    p.assess = md_assess_default_params();
    p.sampling = md_llm_sampling_default();
    p.sampling.temperature = 0.2f; /* reports should read the same on a rerun */
    p.sampling.max_tokens = 0;
    p.cost_per_1k_prompt = 0;
    p.cost_per_1k_completion = 0;
    return p;
}

/* ---- open / free -------------------------------------------------------------------- */

md_status md_analysis_open(const char *data_dir, const md_kb *kb, md_llm *llm, const md_analysis_params *p,
                           md_analysis **out, md_error *err) {
    if (!out) return md_error_set(err, MD_ERR_INVALID_ARG, "analysis: no output handle");
    *out = NULL;
    if (!kb) return md_error_set(err, MD_ERR_INVALID_ARG, "analysis: no knowledge base");
    md_analysis_params params = p ? *p : md_analysis_default_params();
    if (params.n_similar > ANALYSIS_MAX_SIMILAR)
        return md_error_set(err, MD_ERR_INVALID_ARG, "analysis: n_similar %zu is above %d", params.n_similar,
                            ANALYSIS_MAX_SIMILAR);
    if (params.depth < params.n_similar) params.depth = params.n_similar;
    if (params.depth > ANALYSIS_MAX_DEPTH) params.depth = ANALYSIS_MAX_DEPTH;
    if (!(params.min_score >= 0) || !(params.age_window_years >= 0) || !(params.cost_per_1k_prompt >= 0) ||
        !(params.cost_per_1k_completion >= 0))
        return md_error_set(err, MD_ERR_INVALID_ARG,
                            "analysis: min_score, age window and costs must be non-negative numbers");
    if (params.snippet_bytes == 0) params.snippet_bytes = MD_ANALYSIS_DEFAULT_SNIPPET_BYTES;

    md_analysis *an = md_calloc(1, sizeof *an);
    if (!an) return md_error_set(err, MD_ERR_NOMEM, "out of memory");
    an->kb = kb;
    an->llm = llm;
    an->params = params;
    md_map_init(&an->kb_vocab);
    if (!analysis_kb_vocab_build(&an->kb_vocab, kb)) {
        md_map_free(&an->kb_vocab);
        md_free(an);
        return md_error_set(err, MD_ERR_NOMEM, "out of memory");
    }
    if (pthread_mutex_init(&an->store_lock, NULL) != 0) {
        md_map_free(&an->kb_vocab);
        md_free(an);
        return md_error_set(err, MD_ERR_INTERNAL, "analysis: cannot create a lock");
    }
    const char *dir = md_store_data_dir(data_dir);
    md_error e2 = {0};
    md_status st = md_snapshot_current(dir, an->index_version, &e2);
    if (st == MD_ERR_NOT_FOUND) {
        snprintf(an->no_index_reason, sizeof an->no_index_reason,
                 "the data directory has no case index yet ('medify index build'), so no similar cases were searched");
        *out = an;
        return MD_OK;
    }
    char path[4096];
    if (st == MD_OK && !md_snapshot_file_path(dir, an->index_version, MD_SNAPSHOT_BM25_FILE, path, sizeof path))
        st = md_error_set(&e2, MD_ERR_INVALID_ARG, "analysis: data directory path too long");
    if (st == MD_OK) st = md_bm25_load(path, &an->bm25, &e2);
    md_snapshot_manifest manifest;
    if (st == MD_OK) st = md_snapshot_manifest_read(dir, an->index_version, &manifest, &e2);
    if (st == MD_OK) {
        st = analysis_dense_open(dir, &manifest, params.depth, &an->dense, &e2);
        if (st == MD_ERR_NOT_FOUND || st == MD_ERR_UNSUPPORTED) {
            snprintf(an->dense_note, sizeof an->dense_note,
                     "the index has dense vectors but their encoder is %s, so similar cases were ranked by BM25 alone",
                     st == MD_ERR_NOT_FOUND ? "not readable here" : "not built into this binary");
            st = MD_OK;
        }
    }
    if (st == MD_OK) st = md_store_open(dir, &an->store, &e2);
    if (st != MD_OK) {
        if (err) *err = e2;
        md_analysis_free(an);
        return st;
    }
    *out = an;
    return MD_OK;
}

void md_analysis_free(md_analysis *an) {
    if (!an) return;
    md_bm25_free(an->bm25);
    analysis_dense_free(an->dense);
    if (an->store) md_store_close(an->store);
    pthread_mutex_destroy(&an->store_lock);
    md_map_free(&an->kb_vocab);
    md_free(an);
}

size_t md_analysis_n_indexed(const md_analysis *an) { return an && an->bm25 ? md_bm25_n_docs(an->bm25) : 0; }

/* ---- report object ------------------------------------------------------------------ */

void md_report_init(md_report *r) {
    memset(r, 0, sizeof *r);
    md_arena_init(&r->arena, 0);
    r->notice = MD_CLINICAL_NOTICE;
    r->generator = "deterministic";
}

void md_report_free(md_report *r) {
    if (!r) return;
    md_arena_free(&r->arena);
    memset(r, 0, sizeof *r);
}

md_status analysis_report_add_note(md_report *r, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    md_buf b;
    md_buf_init(&b);
    md_buf_vappendf(&b, fmt, ap);
    va_end(ap);
    const char *s = md_buf_ok(&b) ? md_arena_strdup(&r->arena, b.data ? b.data : "") : NULL;
    md_buf_free(&b);
    const char **notes = md_arena_alloc(&r->arena, (r->n_notes + 1) * sizeof *notes);
    if (!s || !notes) return MD_ERR_NOMEM;
    if (r->n_notes) memcpy(notes, r->notes, r->n_notes * sizeof *notes);
    notes[r->n_notes++] = s;
    r->notes = notes;
    return MD_OK;
}

/* ---- retrieval ---------------------------------------------------------------------- */

/* The sex every condition of the leading set is limited to, or UNKNOWN. */
static md_sex condition_set_sex(const md_kb *kb, const md_assessment *a) {
    md_sex only = MD_SEX_UNKNOWN;
    double mass = 0;
    for (size_t i = 0; i < a->n_conditions && i < ANALYSIS_SEX_SET_MAX; i++) {
        const md_kb_condition *cond = md_kb_condition_at(kb, a->conditions[i].condition);
        md_sex s = MD_SEX_UNKNOWN;
        if (cond->sex_multiplier[MD_SEX_MALE] <= 0 && cond->sex_multiplier[MD_SEX_FEMALE] > 0) s = MD_SEX_FEMALE;
        else if (cond->sex_multiplier[MD_SEX_FEMALE] <= 0 && cond->sex_multiplier[MD_SEX_MALE] > 0) s = MD_SEX_MALE;
        if (s == MD_SEX_UNKNOWN || (i > 0 && s != only)) return MD_SEX_UNKNOWN;
        only = s;
        mass += a->conditions[i].probability;
        if (mass >= ANALYSIS_SEX_SET_MASS) break;
    }
    return only;
}

static md_search_filter build_filter(const md_analysis *an, const md_assessment *a, md_patient pt) {
    md_search_filter f = md_search_filter_none();
    if (!an->params.demographic_filter) return f;
    if (pt.age_years >= 0) {
        if (pt.age_years < ANALYSIS_ADULT_AGE_YEARS) {
            f.age_min_years = 0;
            f.age_max_years = ANALYSIS_ADULT_AGE_YEARS - 0.001;
        } else {
            f.age_min_years = pt.age_years - an->params.age_window_years;
            if (f.age_min_years < ANALYSIS_ADULT_AGE_YEARS) f.age_min_years = ANALYSIS_ADULT_AGE_YEARS;
            f.age_max_years = pt.age_years + an->params.age_window_years;
        }
    }
    md_sex s = condition_set_sex(an->kb, a);
    if (s != MD_SEX_UNKNOWN) f.sex = pt.sex != MD_SEX_UNKNOWN ? pt.sex : s;
    return f;
}

/* The retrieval query: present findings' names and demographic words. *q is NULL
 * when the patient reported nothing to search with; MD_ERR_NOMEM on failure. */
static md_status build_query(const md_kb *kb, const md_case *c, md_patient pt, md_arena *a, const char **q) {
    *q = NULL;
    md_buf b;
    md_buf_init(&b);
    size_t n_obs = md_kb_n_observations(kb);
    for (uint32_t o = 0; o < n_obs; o++) {
        const md_case_entry *e = md_case_entry_at(c, o);
        if (!e || e->status != MD_OBS_STATUS_PRESENT || e->context != MD_OBS_CONTEXT_CURRENT) continue;
        const md_kb_observation *ob = md_kb_observation_at(kb, o);
        if (b.len) md_buf_append_char(&b, ' ');
        md_buf_append_str(&b, ob->name);
    }
    if (b.len == 0) {
        bool ok = md_buf_ok(&b);
        md_buf_free(&b);
        return ok ? MD_OK : MD_ERR_NOMEM;
    }
    bool child = pt.age_years >= 0 && pt.age_years < ANALYSIS_ADULT_AGE_YEARS;
    if (pt.sex == MD_SEX_FEMALE) md_buf_append_str(&b, child ? " girl" : " woman female");
    else if (pt.sex == MD_SEX_MALE) md_buf_append_str(&b, child ? " boy" : " man male");
    else if (child) md_buf_append_str(&b, " child");
    *q = md_buf_ok(&b) ? md_arena_strdup(a, b.data) : NULL;
    md_buf_free(&b);
    return *q ? MD_OK : MD_ERR_NOMEM;
}

/* The start of text, at most n bytes, cut at a word boundary and never inside a UTF-8
 * sequence, with an ellipsis when shortened. */
static const char *make_snippet(md_arena *a, const char *text, size_t n) {
    size_t len = strlen(text);
    if (len <= n) return md_arena_strdup(a, text);
    size_t cut = n;
    while (cut > 0 && ((unsigned char)text[cut] & 0xC0) == 0x80) cut--;
    size_t sp = cut;
    while (sp > n / 2 && text[sp] != ' ') sp--;
    if (text[sp] == ' ') cut = sp;
    while (cut > 0 && (text[cut - 1] == ' ' || text[cut - 1] == ',')) cut--;
    return md_arena_sprintf(a, "%.*s\xE2\x80\xA6", (int)cut, text);
}

static md_status retrieve(md_analysis *an, const md_case *c, const md_assessment *as, md_report *r,
                          md_search_filter *filter_out, bool *dense_failed, md_error *err) {
    md_patient pt = md_case_patient(c);
    *filter_out = build_filter(an, as, pt);
    if (!an->bm25) return analysis_report_add_note(r, "%s", an->no_index_reason) == MD_OK ? MD_OK : MD_ERR_NOMEM;
    if (build_query(an->kb, c, pt, &r->arena, &r->query) != MD_OK)
        return md_error_set(err, MD_ERR_NOMEM, "out of memory");
    if (!r->query)
        return analysis_report_add_note(r, "the patient reported no symptom to search similar cases with") == MD_OK
                   ? MD_OK
                   : MD_ERR_NOMEM;
    if (an->params.n_similar == 0) return MD_OK;
    md_hybrid_params hp = md_hybrid_default_params();
    hp.k = an->params.n_similar;
    hp.depth = an->params.depth;
    hp.min_score = an->params.min_score;
    hp.filter = *filter_out;
    md_hybrid_hit hits[ANALYSIS_MAX_SIMILAR];
    size_t n_hits = 0;
    if (an->dense_note[0] && analysis_report_add_note(r, "%s", an->dense_note) != MD_OK) return MD_ERR_NOMEM;
    md_status st = md_hybrid_search(an->bm25, analysis_dense_embedder(an->dense), analysis_dense_ranker(an->dense),
                                    r->query, strlen(r->query), hp, hits, &n_hits, err);
    if (st != MD_OK && st != MD_ERR_NOMEM && an->dense) {
        /* the dense side failed (the encoder refused the query): BM25 alone, said so */
        *dense_failed = true;
        if (analysis_report_add_note(r, "dense retrieval failed (%s); similar cases were ranked by BM25 alone",
                                     md_status_name(st)) != MD_OK)
            return MD_ERR_NOMEM;
        md_error_clear(err);
        st = md_hybrid_search(an->bm25, NULL, NULL, r->query, strlen(r->query), hp, hits, &n_hits, err);
    }
    if (st != MD_OK) return st;
    r->similar_cases = md_arena_calloc(&r->arena, n_hits + 1, sizeof *r->similar_cases);
    if (!r->similar_cases) return md_error_set(err, MD_ERR_NOMEM, "out of memory");
    md_arena tmp;
    md_arena_init(&tmp, 0);
    pthread_mutex_lock(&an->store_lock);
    for (size_t i = 0; i < n_hits && st == MD_OK; i++) {
        md_case_record rec;
        md_arena_reset(&tmp);
        st = md_store_case_get(an->store, (int64_t)hits[i].id, &tmp, &rec, err);
        if (st == MD_ERR_NOT_FOUND) { /* index newer than the store: skip, say so below */
            st = MD_OK;
            continue;
        }
        if (st != MD_OK) break;
        md_report_case *rc = &r->similar_cases[r->n_similar_cases];
        rc->case_id = (int64_t)hits[i].id;
        rc->pmid = md_arena_strdup(&r->arena, rec.pmid ? rec.pmid : "");
        rc->patient_uid = md_arena_strdup(&r->arena, rec.external_id ? rec.external_id : "");
        rc->title = md_arena_strdup(&r->arena, rec.title ? rec.title : "");
        rc->score = hits[i].score;
        rc->bm25 = hits[i].has_bm25 ? hits[i].bm25 : 0;
        rc->has_dense = hits[i].has_dense;
        rc->dense = hits[i].has_dense ? hits[i].dense : 0;
        rc->age_years = rec.age_years;
        rc->sex = MD_SEX_UNKNOWN;
        if (rec.sex && !md_sex_parse(rec.sex, &rc->sex)) rc->sex = MD_SEX_UNKNOWN;
        rc->snippet = make_snippet(&r->arena, rec.text ? rec.text : "", an->params.snippet_bytes);
        rc->shared_findings = analysis_shared_findings(an->kb, c, rec.text, &r->arena);
        if (!rc->pmid || !rc->patient_uid || !rc->title || !rc->snippet || !rc->shared_findings)
            st = md_error_set(err, MD_ERR_NOMEM, "out of memory");
        else r->n_similar_cases++;
    }
    pthread_mutex_unlock(&an->store_lock);
    md_arena_free(&tmp);
    if (st == MD_OK && r->n_similar_cases < n_hits)
        st = analysis_report_add_note(r, "%zu indexed case(s) are no longer in the store and were left out",
                                      n_hits - r->n_similar_cases);
    return st;
}

/* ---- the report --------------------------------------------------------------------- */

static md_status copy_red_flags(const md_kb *kb, const md_assessment *as, md_report *r) {
    r->red_flags = md_arena_calloc(&r->arena, as->n_redflags + 1, sizeof *r->red_flags);
    if (!r->red_flags) return MD_ERR_NOMEM;
    for (size_t i = 0; i < as->n_redflags; i++) {
        /* the same flag may fire through several observations: keep it once */
        bool dup = false;
        for (size_t j = 0; j < i; j++)
            if (as->redflags[j].redflag == as->redflags[i].redflag) dup = true;
        if (dup) continue;
        const md_kb_redflag *rf = md_kb_redflag_at(kb, as->redflags[i].redflag);
        md_report_redflag *o = &r->red_flags[r->n_red_flags++];
        o->id = rf->id;
        o->name = rf->name;
        o->guidance = rf->guidance ? rf->guidance : "";
        o->level = rf->level;
    }
    return MD_OK;
}

/* Deterministic sections, each streamed as a Markdown block when `stream` is set. */
static md_status write_sections(const md_report_input *in, md_report *r, md_analysis_piece_fn on_piece,
                                void *cb_ctx) {
    r->sections = md_arena_calloc(&r->arena, MD_REPORT_N_SECTIONS, sizeof *r->sections);
    if (!r->sections) return MD_ERR_NOMEM;
    r->n_sections = MD_REPORT_N_SECTIONS;
    md_buf b;
    md_buf_init(&b);
    md_status st = MD_OK;
    for (size_t i = 0; i < MD_REPORT_N_SECTIONS && st == MD_OK; i++) {
        md_buf_clear(&b);
        r->sections[i].key = k_sections[i].key;
        r->sections[i].title = k_sections[i].title;
        analysis_section_text(in, r, k_sections[i].key, &b);
        r->sections[i].text = md_buf_ok(&b) ? md_arena_strdup(&r->arena, b.data ? b.data : "") : NULL;
        if (!r->sections[i].text) st = MD_ERR_NOMEM;
    }
    if (st == MD_OK && on_piece) {
        bool listening = true;
        for (size_t i = 0; i < MD_REPORT_N_SECTIONS && listening; i++) {
            md_buf_clear(&b);
            md_buf_appendf(&b, "%s## %s\n\n%s\n", i ? "\n" : "", r->sections[i].title, r->sections[i].text);
            if (!md_buf_ok(&b)) {
                st = MD_ERR_NOMEM;
                break;
            }
            listening = on_piece(b.data, b.len, cb_ctx);
        }
    }
    md_buf_free(&b);
    return st;
}

/* The caller's piece callback, silenced for good once it returns false. */
typedef struct report_stream {
    md_analysis_piece_fn fn;
    void *ctx;
    bool listening;
} report_stream;

static bool stream_piece(const char *piece, size_t len, void *ctx) {
    report_stream *rs = ctx;
    if (rs->fn && rs->listening) rs->listening = rs->fn(piece, len, rs->ctx);
    return rs->listening;
}

/* The case carries its own KB; indexes in its assessment must name this KB's entries. */
static bool assessment_fits_kb(const md_kb *kb, const md_assessment *as) {
    for (size_t i = 0; i < as->n_conditions; i++)
        if (as->conditions[i].condition >= md_kb_n_conditions(kb)) return false;
    for (size_t i = 0; i < as->n_redflags; i++)
        if (as->redflags[i].redflag >= md_kb_n_redflags(kb) || as->redflags[i].obs >= md_kb_n_observations(kb))
            return false;
    return true;
}

md_status md_analysis_report(md_analysis *an, const md_case *c, md_analysis_piece_fn on_piece, void *cb_ctx,
                             md_report *out, md_error *err) {
    if (out) md_report_init(out);
    if (!an || !c || !out) return md_error_set(err, MD_ERR_INVALID_ARG, "analysis: missing handle, case or report");
    uint64_t t0 = md_clock_monotonic_ns();
    md_clock_wall_iso8601(out->created_at);
    md_assessment as;
    md_status st = md_assess(c, an->params.assess, &as, err);
    if (st != MD_OK) return st;
    if (!assessment_fits_kb(an->kb, &as)) {
        md_assessment_free(&as);
        return md_error_set(err, MD_ERR_INVALID_ARG, "analysis: the case was built on another knowledge base");
    }
    md_explanation expl[ANALYSIS_MAX_SHOWN_CONDITIONS];
    size_t n_expl = 0;
    md_buf sj;
    md_buf_init(&sj);
    md_search_filter filter = md_search_filter_none();

    out->triage = as.level;
    out->emergency = as.emergency;
    st = copy_red_flags(an->kb, &as, out);
    if (st == MD_OK) {
        st = md_summary_to_json(c, &as, &sj);
        out->summary_json = st == MD_OK ? md_arena_strdup(&out->arena, sj.data ? sj.data : "{}") : NULL;
        if (!out->summary_json) st = md_error_set(err, MD_ERR_NOMEM, "out of memory");
    }
    for (size_t i = 0; st == MD_OK && i < as.n_conditions && n_expl < ANALYSIS_MAX_SHOWN_CONDITIONS; i++) {
        if (i > 0 && as.conditions[i].probability < ANALYSIS_MIN_SHOWN_PROBABILITY) break;
        st = md_explain(c, as.conditions[i].condition, &expl[n_expl], err);
        if (st == MD_OK) n_expl++;
    }
    bool dense_failed = false;
    if (st == MD_OK) st = retrieve(an, c, &as, out, &filter, &dense_failed, err);
    md_report_input in = {
        .kb = an->kb,
        .c = c,
        .a = &as,
        .expl = expl,
        .n_expl = n_expl,
        .filter = &filter,
        .n_indexed = md_analysis_n_indexed(an),
        .have_index = an->bm25 != NULL,
        .dense = an->dense != NULL && !dense_failed,
    };
    bool llm_done = false;
    report_stream rs = {on_piece, cb_ctx, on_piece != NULL};
    if (st == MD_OK && an->llm) {
        /* the deterministic sections first: the LLM keeps some of them verbatim and they
         * are the fallback */
        st = write_sections(&in, out, NULL, NULL);
        if (st == MD_OK) {
            md_error lerr = {0};
            md_status ls = analysis_generate_llm(an, &in, out, stream_piece, &rs, &lerr);
            if (ls == MD_OK) {
                llm_done = true;
            } else if (ls == MD_ERR_NOMEM) {
                st = md_error_set(err, MD_ERR_NOMEM, "out of memory");
            } else {
                /* the model failed: the deterministic report stands, said so; only the
                 * status name is recorded (the message may quote the endpoint's body) */
                st = analysis_report_add_note(out,
                                              "the language model failed (%s), so this report was written by the "
                                              "deterministic generator",
                                              md_status_name(ls));
                static const char k_marker[] = "\n\n[generation failed; the deterministic report follows]\n\n";
                if (st == MD_OK) (void)stream_piece(k_marker, sizeof k_marker - 1, &rs);
            }
        }
    }
    if (st == MD_OK && !llm_done) {
        if (an->llm) {
            md_buf b;
            md_buf_init(&b);
            for (size_t i = 0; i < out->n_sections && rs.listening; i++) {
                md_buf_clear(&b);
                md_buf_appendf(&b, "%s## %s\n\n%s\n", i ? "\n" : "", out->sections[i].title, out->sections[i].text);
                if (md_buf_ok(&b)) (void)stream_piece(b.data, b.len, &rs);
            }
            md_buf_free(&b);
        } else {
            st = write_sections(&in, out, on_piece ? stream_piece : NULL, &rs);
        }
        out->generator = "deterministic";
    }
    if (st == MD_ERR_NOMEM && err && err->status != MD_ERR_NOMEM) md_error_set(err, MD_ERR_NOMEM, "out of memory");
    out->usage.latency_ms = (double)(md_clock_monotonic_ns() - t0) / 1e6;
    for (size_t i = 0; i < n_expl; i++) md_explanation_free(&expl[i]);
    md_buf_free(&sj);
    md_assessment_free(&as);
    return st;
}
