/* md_parse: free text → findings.
 *
 *   validate (size, UTF-8, not binary, not blank)
 *   → tokenise (text.c) → resolve words and spelling (matcher.c)
 *   → longest synonym matches (matcher.c) → one finding per match, present
 *   → context: negation, uncertainty, hypothetical, historical, family (context.c)
 *   → attributes and demographics (attributes.c)
 *   → implied findings (`implies` in the KB), deduplicated per observation and context.
 */
#include <string.h>

#include "clinical/internal.h"

static md_status validate_text(const char *text, size_t n_bytes, md_error *err) {
    if (!text && n_bytes) return md_error_set(err, MD_ERR_INVALID_ARG, "no text");
    if (n_bytes > MD_CLINICAL_MAX_TEXT_BYTES)
        return md_error_set(err, MD_ERR_TOO_LARGE, "text is %zu bytes; the limit is %d bytes", n_bytes,
                            MD_CLINICAL_MAX_TEXT_BYTES);
    size_t bad;
    if (md_bytes_look_binary(text, n_bytes))
        return md_error_set(err, MD_ERR_BINARY, "input looks like binary data, not text");
    if (!md_utf8_valid(text, n_bytes, &bad))
        return md_error_set(err, MD_ERR_UTF8, "text is not valid UTF-8 (first bad byte at offset %zu)", bad);
    bool blank = true;
    for (size_t i = 0; i < n_bytes && blank; i++)
        if (!(text[i] == ' ' || text[i] == '\t' || text[i] == '\n' || text[i] == '\r')) blank = false;
    if (blank) return md_error_set(err, MD_ERR_EMPTY, "no symptoms described: the text is empty");
    return MD_OK;
}

static void ps_free(parse_state *ps) {
    tok_list_free(&ps->toks);
    md_free(ps->matches);
    md_free(ps->findings);
    md_arena_free(&ps->arena);
}

md_status md_parse(const md_kb *kb, const char *text, size_t n_bytes, md_parse_result *out, md_error *err) {
    memset(out, 0, sizeof *out);
    out->patient.age_years = -1;
    md_status st = validate_text(text, n_bytes, err);
    if (st != MD_OK) return st;

    parse_state ps = {0};
    ps.kb = kb;
    md_arena_init(&ps.arena, 16 * 1024);
    st = text_tokenize(text, n_bytes, &ps.arena, &ps.toks);
    if (st != MD_OK) {
        ps_free(&ps);
        return md_error_set(err, st, "out of memory tokenising the text");
    }
    lexicon_mark(&kb->lexicon, &ps.toks);
    matcher_resolve_words(kb->matcher, &ps.toks);
    /* Room for one finding per token plus attribute-made findings (temperatures). */
    size_t cap = ps.toks.n + 8;
    ps.matches = md_calloc(cap, sizeof *ps.matches);
    ps.findings = md_calloc(cap, sizeof *ps.findings);
    if (!ps.matches || !ps.findings) {
        ps_free(&ps);
        return md_error_set(err, MD_ERR_NOMEM, "out of memory parsing the text");
    }
    ps.n_matches = matcher_scan(kb->matcher, &ps.toks, ps.matches);
    for (size_t m = 0; m < ps.n_matches; m++) {
        const match *mt = &ps.matches[m];
        md_finding *f = &ps.findings[m];
        f->obs = mt->obs;
        f->status = MD_OBS_STATUS_PRESENT;
        f->context = MD_OBS_CONTEXT_CURRENT;
        f->span_begin = ps.toks.items[mt->tok_begin].begin;
        f->span_end = ps.toks.items[mt->tok_end - 1].end;
        md_attrs_init(&f->attrs);
        for (size_t k = mt->tok_begin; k < mt->tok_end; k++) ps.toks.items[k].finding = (int32_t)m;
    }
    context_apply(&ps);
    /* Temperatures can add at most one finding per number token: bounded by cap. */
    size_t room = cap - ps.n_matches;
    if (room > 8) room = 8;
    attributes_apply(&ps);
    demographics_apply(&ps);

    /* Implied findings and deduplication: keep one finding per (observation, context);
     * a later explicit mention replaces an earlier one; implied ones never replace. */
    size_t n_max = ps.n_matches;
    for (size_t f = 0; f < ps.n_matches; f++) n_max += kb->obs[ps.findings[f].obs].n_implies;
    md_finding *all = md_calloc(n_max + 1, sizeof *all);
    if (!all) {
        ps_free(&ps);
        return md_error_set(err, MD_ERR_NOMEM, "out of memory parsing the text");
    }
    size_t n_all = 0;
    for (size_t f = 0; f < ps.n_matches; f++) {
        const md_finding *src = &ps.findings[f];
        size_t k;
        for (k = 0; k < n_all; k++)
            if (all[k].obs == src->obs && all[k].context == src->context) break;
        if (k < n_all) {
            if (all[k].implied || src->status != MD_OBS_STATUS_UNKNOWN) {
                md_attrs keep = all[k].attrs;
                all[k] = *src;
                /* Attributes said earlier about the same thing still hold. */
                if (all[k].attrs.onset == MD_ONSET_UNKNOWN) all[k].attrs.onset = keep.onset;
                if (all[k].attrs.severity < 0) all[k].attrs.severity = keep.severity;
                if (all[k].attrs.duration_hours < 0) all[k].attrs.duration_hours = keep.duration_hours;
                if (all[k].attrs.temperature_c < 0) all[k].attrs.temperature_c = keep.temperature_c;
            }
        } else {
            all[n_all++] = *src;
        }
        if (src->status != MD_OBS_STATUS_PRESENT) continue;
        const md_kb_observation *o = &kb->obs[src->obs];
        for (size_t j = 0; j < o->n_implies; j++) {
            uint32_t target = o->implies[j];
            bool seen = false;
            for (size_t q = 0; q < n_all; q++)
                if (all[q].obs == target && all[q].context == src->context) seen = true;
            if (seen) continue;
            md_finding imp = *src;
            imp.obs = target;
            imp.implied = true;
            all[n_all++] = imp;
        }
    }
    out->findings = all;
    out->n_findings = n_all;
    out->patient = ps.patient;
    ps_free(&ps);
    (void)room;
    return MD_OK;
}

void md_parse_result_free(md_parse_result *r) {
    if (!r) return;
    md_free(r->findings);
    r->findings = NULL;
    r->n_findings = 0;
}
