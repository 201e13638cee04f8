/* Questions about a report ("why is this urgent?", "what did the similar cases have?").
 *
 * On topic or not: the question's search tokens (search.h: folded, stemmed, stop words
 * dropped) are compared with two vocabularies: the report's own (its sections but
 * the boilerplate notice, case titles, red flags, the clinician's notes) plus the
 * KB's (every observation and condition name and synonym), and a short list of words
 * that are about a report or medicine in general ("diagnosis", "test", "why"...). A
 * question is on topic when one of its words is in the report/KB vocabulary, or when
 * at least half of its words are general report words. Anything else gets a polite
 * redirect and on_topic false, without calling a model.
 *
 * Deterministic answer: the sections (and notes) sharing most words with the question,
 * quoted line by line where the question's words occur. LLM answer: a prompt holding
 * the report as Markdown and the notes, told to answer from them only; a citation the
 * model invents is flagged after the answer. Every answer ends with the notice.
 */
#include <jansson.h>
#include <string.h>

#include "analysis/internal.h"

static const char k_meta_words[] =
    "report case patient diagnosis diagnose differential triage urgent urgency emergency red flag flags test tests "
    "investigation investigations examination exam treatment treat therapy medicine medication drug dose referral "
    "refer specialist symptom symptoms sign signs condition conditions risk likely likelihood probability why how "
    "what explain evidence similar cite citation source sources pmid next step steps plan management follow "
    "prognosis guideline guidance doctor clinician hospital ambulance history finding findings cause causes "
    "differential summary section note notes";

#define ANSWER_MAX_QUOTED_LINES 6

typedef struct vocab_ctx {
    md_map *map;
    uint64_t value;
    bool failed;
} vocab_ctx;

static md_status add_token(const char *tok, size_t n, void *ctx) {
    vocab_ctx *v = ctx;
    if (n < 3 && !(n == 2 && tok[0] >= '0' && tok[0] <= '9')) return MD_OK;
    uint64_t old = 0;
    if (md_map_get(v->map, tok, n, &old) && (old & v->value)) return MD_OK;
    if (md_map_put(v->map, tok, n, old | v->value) != MD_OK) {
        v->failed = true;
        return MD_ERR_NOMEM;
    }
    return MD_OK;
}

static bool add_text(md_map *m, const char *s, uint64_t value) {
    if (!s || !*s) return true;
    vocab_ctx v = {m, value, false};
    md_status st = md_search_tokenize(s, strlen(s), add_token, &v);
    return st == MD_OK && !v.failed;
}

#define VOCAB_REPORT 1u
#define VOCAB_META 2u

bool analysis_kb_vocab_build(md_map *m, const md_kb *kb) {
    bool ok = add_text(m, k_meta_words, VOCAB_META);
    for (size_t i = 0; ok && kb && i < md_kb_n_observations(kb); i++) {
        const md_kb_observation *o = md_kb_observation_at(kb, i);
        ok = add_text(m, o->name, VOCAB_REPORT);
        for (size_t k = 0; ok && k < o->n_synonyms; k++) ok = add_text(m, o->synonyms[k], VOCAB_REPORT);
    }
    for (size_t i = 0; ok && kb && i < md_kb_n_conditions(kb); i++) {
        const md_kb_condition *c = md_kb_condition_at(kb, i);
        ok = add_text(m, c->name, VOCAB_REPORT);
        for (size_t k = 0; ok && k < c->n_lay_names; k++) ok = add_text(m, c->lay_names[k], VOCAB_REPORT);
    }
    return ok;
}

static bool build_report_vocab(md_map *m, const md_report *r, const char *notes_text) {
    bool ok = true;
    for (size_t i = 0; ok && r && i < r->n_sections; i++) {
        if (r->sections[i].key && strcmp(r->sections[i].key, MD_REPORT_SECTION_SAFETY_NOTICE) == 0) continue;
        ok = add_text(m, r->sections[i].text, VOCAB_REPORT) && add_text(m, r->sections[i].title, VOCAB_REPORT);
    }
    for (size_t i = 0; ok && r && i < r->n_similar_cases; i++)
        ok = add_text(m, r->similar_cases[i].title, VOCAB_REPORT);
    for (size_t i = 0; ok && r && i < r->n_red_flags; i++) ok = add_text(m, r->red_flags[i].name, VOCAB_REPORT);
    if (ok) ok = add_text(m, notes_text, VOCAB_REPORT);
    return ok;
}

static bool question_tokens(const char *q, md_map *out) {
    vocab_ctx v = {out, 1, false};
    return md_search_tokenize(q, strlen(q), add_token, &v) == MD_OK && !v.failed;
}

md_status analysis_question_on_topic(const md_map *kb_vocab, const md_kb *kb, const md_report *r,
                                     const char *notes_text, const char *question, bool *on_topic) {
    md_map own_kb, vocab, q;
    md_map_init(&own_kb);
    md_map_init(&vocab);
    md_map_init(&q);
    *on_topic = false;
    bool ok = true;
    if (!kb_vocab) {
        ok = analysis_kb_vocab_build(&own_kb, kb);
        kb_vocab = &own_kb;
    }
    ok = ok && build_report_vocab(&vocab, r, notes_text) && question_tokens(question, &q);
    if (ok) {
        size_t n = 0, n_report = 0, n_meta = 0;
        size_t it = 0;
        const char *key;
        size_t klen;
        uint64_t val;
        while (md_map_next(&q, &it, &key, &klen, &val)) {
            uint64_t v = 0, w = 0;
            n++;
            (void)md_map_get(&vocab, key, klen, &v);
            (void)md_map_get(kb_vocab, key, klen, &w);
            v |= w;
            if (v & VOCAB_REPORT) n_report++;
            else if (v & VOCAB_META) n_meta++;
        }
        *on_topic = n_report > 0 || (n_meta > 0 && n_meta * 2 >= n);
    }
    md_map_free(&own_kb);
    md_map_free(&vocab);
    md_map_free(&q);
    return ok ? MD_OK : MD_ERR_NOMEM;
}

/* ---- notes ------------------------------------------------------------------------------ */

/* notes_json → "- text\n" lines (caller frees). */
static md_status notes_to_text(const char *notes_json, char **out, md_error *err) {
    *out = NULL;
    md_buf b;
    md_buf_init(&b);
    if (notes_json && *notes_json) {
        json_error_t je;
        json_t *root = json_loads(notes_json, 0, &je);
        if (!root || !json_is_array(root)) {
            json_decref(root);
            return md_error_set(err, MD_ERR_PARSE, "notes must be a JSON array of notes");
        }
        for (size_t i = 0; i < json_array_size(root); i++) {
            json_t *n = json_array_get(root, i);
            const char *t = json_is_string(n) ? json_string_value(n) : json_string_value(json_object_get(n, "text"));
            if (!t) {
                json_decref(root);
                md_buf_free(&b);
                return md_error_set(err, MD_ERR_PARSE, "note %zu has no text", i + 1);
            }
            const char *kind = json_string_value(json_object_get(n, "kind"));
            md_buf_appendf(&b, "- %s%s%s\n", kind ? kind : "", kind ? ": " : "", t);
        }
        json_decref(root);
    }
    *out = md_buf_ok(&b) ? md_buf_steal(&b) : NULL;
    md_buf_free(&b);
    return *out ? MD_OK : md_error_set(err, MD_ERR_NOMEM, "out of memory");
}

/* ---- deterministic answer ---------------------------------------------------------------- */

typedef struct count_ctx {
    const md_map *q;
    md_map seen;
    size_t hits;
    bool failed;
} count_ctx;

static md_status count_token(const char *tok, size_t n, void *ctx) {
    count_ctx *c = ctx;
    if (!md_map_get(c->q, tok, n, NULL) || md_map_get(&c->seen, tok, n, NULL)) return MD_OK;
    if (md_map_put(&c->seen, tok, n, 1) != MD_OK) {
        c->failed = true;
        return MD_ERR_NOMEM;
    }
    c->hits++;
    return MD_OK;
}

/* Distinct question tokens occurring in text; sets *oom when counting ran out of memory. */
static size_t overlap(const md_map *q, const char *text, size_t n, bool *oom) {
    count_ctx c = {q, {0}, 0, false};
    md_map_init(&c.seen);
    (void)md_search_tokenize(text, n, count_token, &c);
    md_map_free(&c.seen);
    if (c.failed) *oom = true;
    return c.hits;
}

/* Quotes the lines of text that share words with the question (all lines when none
 * does and quote_all), at most ANSWER_MAX_QUOTED_LINES. */
static void quote_lines(md_buf *b, const md_map *q, const char *text, bool quote_all, bool *oom) {
    size_t n_quoted = 0;
    for (int pass = 0; pass < 2 && n_quoted == 0; pass++) {
        if (pass == 1 && !quote_all) break;
        bool list_follows = false;
        for (const char *p = text; *p && n_quoted < ANSWER_MAX_QUOTED_LINES;) {
            const char *nl = strchr(p, '\n');
            size_t n = nl ? (size_t)(nl - p) : strlen(p);
            bool blank = true;
            for (size_t i = 0; i < n; i++)
                if (p[i] != ' ') blank = false;
            if (!blank && (pass == 1 || overlap(q, p, n, oom) > 0 || (list_follows && n >= 2 && p[0] == '-'))) {
                md_buf_append_str(b, "> ");
                md_buf_append(b, p, n);
                md_buf_append_char(b, '\n');
                n_quoted++;
                /* a matching lead-in ("These red flags were found:") brings its list */
                if (!(n >= 2 && p[0] == '-')) list_follows = true;
            } else if (!(n >= 2 && p[0] == '-')) {
                list_follows = false;
            }
            p = nl ? nl + 1 : p + n;
        }
    }
}

/* Returns MD_ERR_NOMEM when the answer could not be computed for lack of memory. */
static md_status deterministic_answer(const md_report *r, const char *notes_text, const char *question, md_buf *b) {
    md_map q;
    md_map_init(&q);
    bool oom = !question_tokens(question, &q);
    size_t best[2] = {SIZE_MAX, SIZE_MAX}, score[2] = {0, 0};
    for (size_t i = 0; i < r->n_sections; i++) {
        if (!r->sections[i].text || strcmp(r->sections[i].key, MD_REPORT_SECTION_SAFETY_NOTICE) == 0) continue;
        const char *title = r->sections[i].title ? r->sections[i].title : "";
        size_t s = overlap(&q, r->sections[i].text, strlen(r->sections[i].text), &oom) * 2 +
                   overlap(&q, title, strlen(title), &oom) * 3;
        if (s > score[0]) {
            best[1] = best[0], score[1] = score[0];
            best[0] = i, score[0] = s;
        } else if (s > score[1]) {
            best[1] = i, score[1] = s;
        }
    }
    size_t note_score = notes_text && *notes_text ? overlap(&q, notes_text, strlen(notes_text), &oom) : 0;
    if (score[0] == 0 && note_score == 0) {
        md_buf_append_str(b, "The report does not address that directly. It covers ");
        for (size_t i = 0; i < r->n_sections; i++)
            md_buf_appendf(b, "%s%s", i == 0 ? "" : i + 1 == r->n_sections ? " and " : ", ",
                           r->sections[i].title ? r->sections[i].title : r->sections[i].key);
        md_buf_append_str(b, "; the reviewing clinician can answer anything beyond that.\n");
    }
    for (int k = 0; k < 2; k++) {
        if (best[k] == SIZE_MAX || score[k] == 0) continue;
        if (k == 1 && score[1] * 2 < score[0]) continue; /* the second is much weaker: leave it out */
        const md_report_section *s = &r->sections[best[k]];
        md_buf_appendf(b, "%sFrom the report's \"%s\" section:\n", k ? "\n" : "", s->title ? s->title : s->key);
        quote_lines(b, &q, s->text, true, &oom);
    }
    if (note_score) {
        md_buf_appendf(b, "%sFrom the clinician's notes:\n", score[0] ? "\n" : "");
        quote_lines(b, &q, notes_text, true, &oom);
    }
    md_map_free(&q);
    return oom || !md_buf_ok(b) ? MD_ERR_NOMEM : MD_OK;
}

/* ---- LLM answer ------------------------------------------------------------------------- */

static const char k_answer_system[] =
    "You answer questions about one medify case-analysis report. Use only the report and the clinician's "
    "notes given below; if they do not contain the answer, say so plainly. Cite similar cases only with the ids "
    "the report uses ([PMID n] or [patient uid]). Do not give a definitive diagnosis and do not change the "
    "triage level or red flags. Answer in a few sentences.";

typedef struct answer_relay {
    md_analysis_piece_fn fn;
    void *ctx;
    bool listening;
} answer_relay;

static bool relay(const char *piece, size_t len, void *ctx) {
    answer_relay *ar = ctx;
    if (ar->fn && ar->listening) ar->listening = ar->fn(piece, len, ar->ctx);
    return true;
}

static md_status llm_answer(md_analysis *an, const md_report *r, const char *notes_text, const char *question,
                            answer_relay *ar, md_buf *text, md_error *err) {
    md_buf user;
    md_buf_init(&user);
    md_status st = md_report_to_markdown(r, &user);
    md_buf_appendf(&user, "\n\nClinician's notes:\n%s\nQuestion: %s", notes_text && *notes_text ? notes_text : "(none)\n",
                   question);
    if (st != MD_OK || !md_buf_ok(&user)) {
        md_buf_free(&user);
        return md_error_set(err, MD_ERR_NOMEM, "out of memory");
    }
    md_llm_message msgs[2] = {{"system", k_answer_system}, {"user", user.data}};
    st = md_llm_chat(an->llm, msgs, 2, &an->params.sampling, relay, ar, text, NULL, err);
    md_buf_free(&user);
    if (st == MD_OK && !md_buf_ok(text)) st = md_error_set(err, MD_ERR_NOMEM, "out of memory");
    return st;
}

/* ---- entry point ------------------------------------------------------------------------- */

static void emit(md_buf *answer, answer_relay *ar, const char *s, size_t n) {
    if (!s || n == 0) return; /* nothing, or a buffer that failed (checked at the end) */
    md_buf_append(answer, s, n);
    relay(s, n, ar);
}

md_status md_analysis_answer(md_analysis *an, const md_report *r, const char *notes_json, const char *question,
                             md_analysis_piece_fn on_piece, void *cb_ctx, md_buf *answer, bool *on_topic,
                             md_error *err) {
    if (on_topic) *on_topic = false;
    if (!an || !r || !answer) return md_error_set(err, MD_ERR_INVALID_ARG, "analysis: missing handle, report or buffer");
    if (!question) return md_error_set(err, MD_ERR_EMPTY, "the question is empty");
    size_t qn = strlen(question);
    if (qn > MD_ANALYSIS_MAX_QUESTION_BYTES)
        return md_error_set(err, MD_ERR_TOO_LARGE, "the question is longer than %d bytes", MD_ANALYSIS_MAX_QUESTION_BYTES);
    if (!md_utf8_valid(question, qn, NULL)) return md_error_set(err, MD_ERR_UTF8, "the question is not valid UTF-8");
    bool blank = true;
    for (size_t i = 0; i < qn; i++)
        if (question[i] != ' ' && question[i] != '\t' && question[i] != '\n' && question[i] != '\r') blank = false;
    if (blank) return md_error_set(err, MD_ERR_EMPTY, "the question is empty");
    char *notes_text = NULL;
    md_status st = notes_to_text(notes_json, &notes_text, err);
    if (st != MD_OK) return st;
    if (notes_text && !md_utf8_valid(notes_text, strlen(notes_text), NULL)) {
        md_free(notes_text);
        return md_error_set(err, MD_ERR_UTF8, "the notes are not valid UTF-8");
    }
    bool on = false;
    st = analysis_question_on_topic(&an->kb_vocab, an->kb, r, notes_text, question, &on);
    if (st != MD_OK) {
        md_free(notes_text);
        return md_error_set(err, st, "out of memory");
    }
    answer_relay ar = {on_piece, cb_ctx, true};
    md_buf text;
    md_buf_init(&text);
    if (!on) {
        md_buf_append_str(&text, "I can only answer questions about this case-analysis report: the patient's "
                                 "presentation, triage and red flags, the differential diagnosis, the similar "
                                 "cases and the suggested next steps. Please ask about one of those.");
        emit(answer, &ar, text.data, text.len);
    } else if (an->llm) {
        md_error lerr = {0};
        st = llm_answer(an, r, notes_text, question, &ar, &text, &lerr);
        if (st == MD_OK) {
            md_buf_append(answer, text.data ? text.data : "", text.len);
            /* flag citations the model made up (the text has been streamed already) */
            md_arena a;
            md_arena_init(&a, 0);
            const char *clean, **removed;
            size_t n_removed = 0;
            if (analysis_verify_citations(text.data ? text.data : "", r->similar_cases, r->n_similar_cases, &a, &clean,
                                          &removed, &n_removed) == MD_OK) {
                for (size_t i = 0; i < n_removed; i++) {
                    md_buf note;
                    md_buf_init(&note);
                    md_buf_appendf(&note, "\n\n(Note: '%s' is not one of the report's similar cases; disregard that "
                                          "citation.)", removed[i]);
                    if (md_buf_ok(&note)) emit(answer, &ar, note.data, note.len);
                    md_buf_free(&note);
                }
            }
            md_arena_free(&a);
        } else if (st == MD_ERR_NOMEM) {
            md_buf_free(&text);
            md_free(notes_text);
            if (err) *err = lerr;
            return st;
        } else {
            st = MD_OK;
            md_buf_clear(&text);
            md_buf_append_str(&text, "\n\n[The language model is unavailable; answering from the report.]\n\n");
            st = deterministic_answer(r, notes_text, question, &text);
            if (st == MD_OK) emit(answer, &ar, text.data, text.len);
        }
    } else {
        st = deterministic_answer(r, notes_text, question, &text);
        if (st == MD_OK) emit(answer, &ar, text.data ? text.data : "", text.len);
    }
    if (st != MD_OK) {
        md_buf_free(&text);
        md_free(notes_text);
        return md_error_set(err, MD_ERR_NOMEM, "out of memory");
    }
    bool ok = md_buf_ok(&text); /* md_buf_clear below would forget a failure */
    md_buf_clear(&text);
    md_buf_appendf(&text, "\n\n%s", MD_CLINICAL_NOTICE);
    emit(answer, &ar, text.data, text.len);
    ok = ok && md_buf_ok(&text) && md_buf_ok(answer);
    md_buf_free(&text);
    md_free(notes_text);
    if (!ok) return md_error_set(err, MD_ERR_NOMEM, "out of memory");
    if (on_topic) *on_topic = on;
    return MD_OK;
}
