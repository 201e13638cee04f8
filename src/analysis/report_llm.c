/* The LLM generator: prompt, streaming, section parsing and citation checking.
 *
 * The model writes four sections (current_case, differential, similar_cases,
 * next_steps) under level-2 Markdown headings. Triage, red flags and the safety
 * notice are never the model's: they stay the deterministic engine's text whatever the
 * answer contains. Citations must name one of the cases given in the prompt, as
 * "[PMID n]", "[patient <uid>]" or "[case <id>]"; any other id is removed from the text
 * and recorded as a note, so a report never points a clinician at an invented paper.
 * A section the model did not write keeps its deterministic text (with a note).
 */
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "analysis/internal.h"

/* ---- prompt ---------------------------------------------------------------------- */

static const char k_system_prompt[] =
    "You are the report writer of medify, a clinical decision-support system. You write a concise "
    "case-analysis report for a clinician who will review it. Use only the facts in the data given; never "
    "invent findings, history, test results or sources. Similar historical cases may be cited only with "
    "the ids given, written exactly as given in square brackets, e.g. [PMID 12345678] or [patient 1234567-1]; "
    "cite nothing else. Do not change the triage level or the red flags: they come from a rules engine and "
    "are shown separately. Do not give a definitive diagnosis. Write exactly these four sections, each under "
    "a level-2 Markdown heading with exactly this title, in this order:\n"
    "## Current case\n## Differential diagnosis\n## Similar cases\n## Suggested next steps\n"
    "Use short paragraphs and '- ' bullets. No other headings.";

md_status analysis_report_prompt(const md_report_input *in, const md_report *r, md_arena *a, const char **system,
                                 const char **user) {
    md_buf b;
    md_buf_init(&b);
    md_patient pt = md_case_patient(in->c);
    md_buf_appendf(&b, "Patient: %s.\n", analysis_patient_phrase(a, pt));
    md_buf_appendf(&b, "Triage (fixed, from the rules engine): %s (%s).\n", md_triage_level_name(r->triage),
                   analysis_triage_label(r->triage));
    if (r->n_red_flags == 0) md_buf_append_str(&b, "Red flags (fixed): none.\n");
    for (size_t i = 0; i < r->n_red_flags; i++)
        md_buf_appendf(&b, "Red flag (fixed): %s: %s\n", r->red_flags[i].name, r->red_flags[i].guidance);
    md_buf_appendf(&b, "\nStructured clinical summary (JSON):\n%s\n", r->summary_json ? r->summary_json : "{}");
    const char *diff = md_report_section_text(r, MD_REPORT_SECTION_DIFFERENTIAL);
    md_buf_appendf(&b, "\nDifferential from the probabilistic model (keep its order and numbers):\n%s\n",
                   diff ? diff : "(none)");
    const char *steps = md_report_section_text(r, MD_REPORT_SECTION_NEXT_STEPS);
    md_buf_appendf(&b, "\nNext steps from the knowledge base:\n%s\n", steps ? steps : "(none)");
    if (r->n_similar_cases == 0) {
        md_buf_append_str(&b, "\nSimilar cases: none were found; say so and cite nothing.\n");
    } else {
        md_buf_append_str(&b, "\nSimilar historical cases (the only citable sources):\n");
        for (size_t i = 0; i < r->n_similar_cases; i++) {
            const md_report_case *rc = &r->similar_cases[i];
            md_buf_appendf(&b, "%zu. id ", i + 1);
            if (rc->pmid && *rc->pmid) md_buf_appendf(&b, "[PMID %s]", rc->pmid);
            else if (rc->patient_uid && *rc->patient_uid) md_buf_appendf(&b, "[patient %s]", rc->patient_uid);
            else md_buf_appendf(&b, "[case %lld]", (long long)rc->case_id);
            if (rc->patient_uid && *rc->patient_uid) md_buf_appendf(&b, "; patient_uid %s", rc->patient_uid);
            if (rc->title && *rc->title) md_buf_appendf(&b, "; title: %s", rc->title);
            if (rc->age_years >= 0) md_buf_appendf(&b, "; age %.0f", rc->age_years);
            if (rc->sex != MD_SEX_UNKNOWN) md_buf_appendf(&b, "; %s", md_sex_name(rc->sex));
            if (rc->shared_findings && *rc->shared_findings)
                md_buf_appendf(&b, "; findings in common: %s", rc->shared_findings);
            md_buf_appendf(&b, "\n   Text: %s\n", rc->snippet ? rc->snippet : "");
        }
    }
    md_buf_append_str(&b, "\nWrite the report now.");
    *system = k_system_prompt;
    *user = md_buf_ok(&b) ? md_arena_strdup(a, b.data) : NULL;
    md_buf_free(&b);
    return *user ? MD_OK : MD_ERR_NOMEM;
}

/* ---- section splitting ---------------------------------------------------------------- */

/* Words that identify each section in a heading, by key order. */
static const char *const k_heading_words[MD_REPORT_N_SECTIONS][4] = {
    {"current case", "presentation", "case summary", "history"},
    {"triage", "red flag", NULL, NULL},
    {"differential", "diagnos", "assessment", NULL},
    {"similar", "literature", "comparable", NULL},
    {"next step", "recommend", "plan", "management"},
    {"safety", "notice", "disclaimer", NULL},
};

static int heading_section(const char *h, size_t n) {
    char low[128];
    size_t k = 0;
    for (size_t i = 0; i < n && k + 1 < sizeof low; i++) {
        char ch = (char)tolower((unsigned char)h[i]);
        low[k++] = ch == '_' ? ' ' : ch;
    }
    low[k] = '\0';
    for (int s = 0; s < MD_REPORT_N_SECTIONS; s++)
        for (int w = 0; w < 4 && k_heading_words[s][w]; w++)
            if (strstr(low, k_heading_words[s][w])) return s;
    return -1;
}

/* A heading line: up to three '#', or a whole line in bold ("**Similar cases**"). */
static bool heading_of_line(const char *line, size_t n, const char **h, size_t *hn) {
    size_t i = 0;
    while (i < n && line[i] == ' ') i++;
    size_t hashes = 0;
    while (i < n && line[i] == '#') i++, hashes++;
    if (hashes >= 1 && hashes <= 3 && i < n && line[i] == ' ') {
        while (i < n && line[i] == ' ') i++;
    } else if (hashes == 0 && n - i >= 4 && line[i] == '*' && line[i + 1] == '*') {
        size_t e = n;
        while (e > i && (line[e - 1] == ' ' || line[e - 1] == ':')) e--;
        if (e - i < 5 || line[e - 1] != '*' || line[e - 2] != '*') return false;
        for (size_t k = i + 2; k < e - 2; k++)
            if (line[k] == '*') return false;
        *h = line + i + 2;
        *hn = e - 2 - (i + 2);
        return true;
    } else {
        return false;
    }
    /* strip "1." numbering and trailing '#', ':' and bold markers */
    while (i < n && (isdigit((unsigned char)line[i]) || line[i] == '.' || line[i] == ')' || line[i] == ' ' ||
                     line[i] == '*'))
        i++;
    size_t e = n;
    while (e > i && (line[e - 1] == ' ' || line[e - 1] == '#' || line[e - 1] == ':' || line[e - 1] == '*')) e--;
    *h = line + i;
    *hn = e - i;
    return true;
}

static const char *trimmed_copy(md_arena *a, const char *s, size_t n) {
    while (n && isspace((unsigned char)*s)) s++, n--;
    while (n && isspace((unsigned char)s[n - 1])) n--;
    return md_arena_strndup(a, s, n);
}

size_t analysis_split_sections(const char *answer, md_arena *a, const char *texts[MD_REPORT_N_SECTIONS]) {
    for (int i = 0; i < MD_REPORT_N_SECTIONS; i++) texts[i] = NULL;
    if (!answer) return 0;
    int cur = -1;
    const char *body = NULL;
    size_t n_found = 0;
    const char *p = answer;
    for (;;) {
        const char *eol = strchr(p, '\n');
        size_t n = eol ? (size_t)(eol - p) : strlen(p);
        const char *h;
        size_t hn;
        bool is_heading = heading_of_line(p, n, &h, &hn);
        int s = is_heading ? heading_section(h, hn) : -1;
        if (is_heading || !eol) {
            const char *end = is_heading ? p : p + n;
            if (cur >= 0 && body && !texts[cur]) {
                texts[cur] = trimmed_copy(a, body, (size_t)(end - body));
                if (texts[cur] && *texts[cur]) n_found++;
                else texts[cur] = NULL;
            }
            if (is_heading) {
                cur = s; /* an unknown heading ends the previous section and is dropped */
                body = eol ? eol + 1 : p + n;
            }
        }
        if (!eol) break;
        p = eol + 1;
    }
    return n_found;
}

/* ---- citations ------------------------------------------------------------------------ */

typedef enum { CITE_NONE, CITE_OK, CITE_BAD } cite_verdict;

/* Judges one citation part ("PMID 123", "patient 12-1", "case 7"); CITE_NONE when the
 * part is not a citation at all. */
static cite_verdict judge_part(const char *s, size_t n, const md_report_case *cases, size_t n_cases) {
    while (n && (*s == ' ' || *s == ',')) s++, n--;
    while (n && (s[n - 1] == ' ' || s[n - 1] == '.')) n--;
    static const struct {
        const char *prefix;
        int field; /* 0 pmid, 1 patient uid, 2 case id */
    } k_prefixes[] = {{"pmid", 0}, {"patient_uid", 1}, {"patient uid", 1}, {"patient", 1}, {"case", 2}};
    for (size_t k = 0; k < sizeof k_prefixes / sizeof k_prefixes[0]; k++) {
        size_t pl = strlen(k_prefixes[k].prefix);
        if (n <= pl || strncasecmp(s, k_prefixes[k].prefix, pl) != 0) continue;
        const char *v = s + pl;
        size_t vn = n - pl;
        if (*v != ' ' && *v != ':' && *v != '#') continue;
        while (vn && (*v == ' ' || *v == ':' || *v == '#')) v++, vn--;
        if (vn == 0) return CITE_NONE;
        for (size_t i = 0; i < n_cases; i++) {
            char idbuf[32];
            const char *want = k_prefixes[k].field == 0   ? cases[i].pmid
                               : k_prefixes[k].field == 1 ? cases[i].patient_uid
                                                          : (snprintf(idbuf, sizeof idbuf, "%lld",
                                                                      (long long)cases[i].case_id),
                                                             idbuf);
            if (want && *want && strlen(want) == vn && strncmp(want, v, vn) == 0) return CITE_OK;
        }
        return CITE_BAD;
    }
    return CITE_NONE;
}

md_status analysis_verify_citations(const char *text, const md_report_case *cases, size_t n_cases, md_arena *a,
                                    const char **out, const char ***removed, size_t *n_removed) {
    *out = NULL;
    *removed = NULL;
    *n_removed = 0;
    md_buf b;
    md_buf_init(&b);
    md_vec bad;
    md_vec_init(&bad, sizeof(const char *));
    md_status st = MD_OK;
    const char *p = text ? text : "";
    while (*p && st == MD_OK) {
        const char *open = strchr(p, '[');
        if (!open) {
            md_buf_append_str(&b, p);
            break;
        }
        const char *close = strchr(open, ']');
        const char *nl = strchr(open, '\n');
        if (!close || (nl && nl < close) || close - open > 400) {
            md_buf_append(&b, p, (size_t)(open - p) + 1);
            p = open + 1;
            continue;
        }
        /* a bracket: split at ';' and ',' and judge each part */
        md_buf kept;
        md_buf_init(&kept);
        bool any_cite = false;
        const char *q = open + 1;
        while (q <= close) {
            const char *e = q;
            while (e < close && *e != ';' && *e != ',') e++;
            cite_verdict v = judge_part(q, (size_t)(e - q), cases, n_cases);
            const char *s0 = q;
            size_t sn = (size_t)(e - q);
            while (sn && *s0 == ' ') s0++, sn--;
            if (v != CITE_NONE) any_cite = true;
            if (v == CITE_BAD) {
                const char *id = md_arena_strndup(a, s0, sn);
                if (!id || md_vec_push(&bad, &id) != MD_OK) st = MD_ERR_NOMEM;
            } else if (sn) {
                if (kept.len) md_buf_append_str(&kept, "; ");
                md_buf_append(&kept, s0, sn);
            }
            q = e + 1;
        }
        size_t before = (size_t)(open - p);
        if (!any_cite) {
            md_buf_append(&b, p, (size_t)(close - p) + 1);
        } else if (kept.len) {
            md_buf_append(&b, p, before);
            md_buf_appendf(&b, "[%s]", kept.data);
        } else {
            /* nothing citable left: drop the bracket and the space before it */
            while (before && p[before - 1] == ' ') before--;
            md_buf_append(&b, p, before);
        }
        md_buf_free(&kept);
        p = close + 1;
    }
    if (st == MD_OK && !md_buf_ok(&b)) st = MD_ERR_NOMEM;
    if (st == MD_OK) {
        *out = md_arena_strdup(a, b.data ? b.data : "");
        if (!*out) st = MD_ERR_NOMEM;
    }
    if (st == MD_OK && bad.n) {
        const char **arr = md_arena_alloc(a, bad.n * sizeof *arr);
        if (!arr) st = MD_ERR_NOMEM;
        else {
            memcpy(arr, bad.data, bad.n * sizeof *arr);
            *removed = arr;
            *n_removed = bad.n;
        }
    }
    md_vec_free(&bad);
    md_buf_free(&b);
    return st;
}

/* ---- generation -------------------------------------------------------------------------- */

typedef struct piece_relay {
    md_analysis_piece_fn fn;
    void *ctx;
    bool listening;
} piece_relay;

static bool relay_piece(const char *piece, size_t len, void *ctx) {
    piece_relay *pr = ctx;
    if (pr->fn && pr->listening) pr->listening = pr->fn(piece, len, pr->ctx);
    return true; /* the report is finished even when nobody listens any more */
}

/* The sections the model may write. */
static bool model_writes(size_t i) {
    const char *k = md_report_section_key(i);
    return strcmp(k, MD_REPORT_SECTION_TRIAGE) != 0 && strcmp(k, MD_REPORT_SECTION_SAFETY_NOTICE) != 0;
}

md_status analysis_generate_llm(md_analysis *an, const md_report_input *in, md_report *r,
                                md_analysis_piece_fn on_piece, void *cb_ctx, md_error *err) {
    const char *system = NULL, *user = NULL;
    md_status st = analysis_report_prompt(in, r, &r->arena, &system, &user);
    if (st != MD_OK) return md_error_set(err, st, "out of memory");
    md_llm_message msgs[2] = {{"system", system}, {"user", user}};
    md_buf answer;
    md_buf_init(&answer);
    md_llm_usage usage;
    memset(&usage, 0, sizeof usage);
    piece_relay pr = {on_piece, cb_ctx, true};
    st = md_llm_chat(an->llm, msgs, 2, &an->params.sampling, relay_piece, &pr, &answer, &usage, err);
    if (st == MD_OK && !md_buf_ok(&answer)) st = md_error_set(err, MD_ERR_NOMEM, "out of memory");
    const char *texts[MD_REPORT_N_SECTIONS];
    size_t n_found = 0;
    if (st == MD_OK) {
        n_found = analysis_split_sections(answer.data ? answer.data : "", &r->arena, texts);
        if (n_found == 0)
            st = md_error_set(err, MD_ERR_PARSE, "the model's answer has none of the report's section headings");
    }
    md_buf_free(&answer);
    if (st != MD_OK) return st;

    /* everything below only adds to the arena until the final swap, so a failure
     * leaves the deterministic report as it was */
    const char *new_text[MD_REPORT_N_SECTIONS] = {0};
    const char **removed[MD_REPORT_N_SECTIONS] = {0};
    size_t n_removed[MD_REPORT_N_SECTIONS] = {0};
    for (size_t i = 0; i < MD_REPORT_N_SECTIONS && st == MD_OK; i++) {
        const char *key = md_report_section_key(i);
        if (!model_writes(i) || !texts[i]) continue;
        if (strcmp(key, MD_REPORT_SECTION_SIMILAR_CASES) == 0 && r->n_similar_cases == 0) continue;
        st = analysis_verify_citations(texts[i], r->similar_cases, r->n_similar_cases, &r->arena, &new_text[i],
                                       &removed[i], &n_removed[i]);
    }
    const char *name = NULL;
    if (st == MD_OK) {
        const char *llm_name = md_llm_name(an->llm);
        name = md_arena_strdup(&r->arena, llm_name ? llm_name : "llm");
        if (!name) st = MD_ERR_NOMEM;
    }
    if (st != MD_OK) return md_error_set(err, st, "out of memory");
    for (size_t i = 0; i < r->n_sections; i++) {
        size_t ix = MD_REPORT_N_SECTIONS;
        for (size_t k = 0; k < MD_REPORT_N_SECTIONS; k++)
            if (strcmp(md_report_section_key(k), r->sections[i].key) == 0) ix = k;
        if (ix == MD_REPORT_N_SECTIONS || !model_writes(ix)) continue;
        if (new_text[ix]) r->sections[i].text = new_text[ix];
        else if (!(strcmp(r->sections[i].key, MD_REPORT_SECTION_SIMILAR_CASES) == 0 && r->n_similar_cases == 0))
            (void)analysis_report_add_note(r, "the model wrote no '%s' section; the deterministic text is shown",
                                           r->sections[i].title);
    }
    for (size_t i = 0; i < MD_REPORT_N_SECTIONS; i++)
        for (size_t k = 0; k < n_removed[i]; k++)
            (void)analysis_report_add_note(
                r, "the model cited '%s', which is not among the retrieved cases; the citation was removed",
                removed[i][k]);
    if (strcmp(usage.finish_reason, "length") == 0)
        (void)analysis_report_add_note(r, "the model's answer reached its token budget and may be cut short");
    r->generator = name;
    r->usage.prompt_tokens = usage.prompt_tokens;
    r->usage.completion_tokens = usage.completion_tokens;
    r->usage.cost = usage.prompt_tokens / 1000.0 * an->params.cost_per_1k_prompt +
                    usage.completion_tokens / 1000.0 * an->params.cost_per_1k_completion;
    return MD_OK;
}
