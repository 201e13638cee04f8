/* medify explain --condition ID: evidence for and against one condition. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

static const char k_usage[] =
    "usage: medify explain --condition ID [--age N] [--sex male|female] [--kb DIR] [--json] < text\n"
    "Lists the findings that support and oppose the condition, and the questions that\n"
    "would tell most about it.\n";

static void items_json(md_buf *b, const md_kb *kb, const md_explain_item *items, size_t n) {
    md_buf_append_char(b, '[');
    for (size_t i = 0; i < n; i++) {
        const md_kb_observation *o = md_kb_observation_at(kb, items[i].obs);
        if (i) md_buf_append_char(b, ',');
        md_buf_append_str(b, "{\"id\":");
        md_buf_append_json_str(b, o->id, strlen(o->id));
        md_buf_append_str(b, ",\"name\":");
        md_buf_append_json_str(b, o->name, strlen(o->name));
        md_buf_appendf(b, ",\"status\":\"%s\",\"likelihood_ratio\":%.4g}", md_obs_status_name(items[i].status),
                       items[i].likelihood_ratio);
    }
    md_buf_append_char(b, ']');
}

static int explain_run(cli_clinical_opts o) {
    int rc = 0;
    md_error err = {0};
    if (!o.condition) {
        fprintf(stderr, "medify: explain needs --condition ID\n%s", k_usage);
        return md_status_exit_code(MD_ERR_INVALID_ARG);
    }
    char *text = NULL;
    size_t n = 0;
    md_status st = md_read_stream(stdin, MD_CLINICAL_MAX_TEXT_BYTES, &text, &n, &err);
    if (st != MD_OK) return cli_fail(&err, o.json);
    md_kb *kb = NULL;
    rc = cli_load_kb(&o, &kb);
    if (rc) {
        md_free(text);
        return rc;
    }
    int32_t cond = md_kb_condition_find(kb, o.condition);
    md_case *c = NULL;
    md_explanation ex = {0};
    md_buf b;
    md_buf_init(&b);
    if (cond < 0) {
        st = md_error_set(&err, MD_ERR_NOT_FOUND, "unknown condition '%s'", o.condition);
    } else if (!(c = md_case_new(kb))) {
        st = md_error_set(&err, MD_ERR_NOMEM, "out of memory");
    } else if ((st = md_case_add_text(c, text, n, &err)) == MD_OK) {
        md_case_set_patient(c, o.age_years, o.sex);
        st = md_explain(c, (uint32_t)cond, &ex, &err);
    }
    if (st == MD_OK) {
        const md_kb_condition *cd = md_kb_condition_at(kb, (size_t)cond);
        if (o.json) {
            md_buf_append_str(&b, "{\"condition\":{\"id\":");
            md_buf_append_json_str(&b, cd->id, strlen(cd->id));
            md_buf_append_str(&b, ",\"name\":");
            md_buf_append_json_str(&b, cd->name, strlen(cd->name));
            md_buf_appendf(&b, "},\"probability\":%.4f,\"prior\":%.4f,\"supporting\":", ex.probability, ex.prior);
            items_json(&b, kb, ex.supporting, ex.n_supporting);
            md_buf_append_str(&b, ",\"opposing\":");
            items_json(&b, kb, ex.opposing, ex.n_opposing);
            md_buf_append_str(&b, ",\"unasked\":[");
            for (size_t i = 0; i < ex.n_unasked; i++) {
                const char *id = md_kb_observation_at(kb, ex.unasked[i])->id;
                if (i) md_buf_append_char(&b, ',');
                md_buf_append_json_str(&b, id, strlen(id));
            }
            md_buf_append_str(&b, "],\"notice\":");
            md_buf_append_json_str(&b, MD_CLINICAL_NOTICE, strlen(MD_CLINICAL_NOTICE));
            md_buf_append_str(&b, "}\n");
        } else {
            md_buf_appendf(&b, "%s: probability %.1f%% (prior share %.2f%%)\n", cd->name, ex.probability * 100,
                           ex.prior * 100);
            md_buf_append_str(&b, "For:\n");
            for (size_t i = 0; i < ex.n_supporting; i++)
                md_buf_appendf(&b, "  + %s (%s, x%.2f)\n", md_kb_observation_at(kb, ex.supporting[i].obs)->name,
                               md_obs_status_name(ex.supporting[i].status), ex.supporting[i].likelihood_ratio);
            md_buf_append_str(&b, "Against:\n");
            for (size_t i = 0; i < ex.n_opposing; i++)
                md_buf_appendf(&b, "  - %s (%s, x%.2f)\n", md_kb_observation_at(kb, ex.opposing[i].obs)->name,
                               md_obs_status_name(ex.opposing[i].status), ex.opposing[i].likelihood_ratio);
            md_buf_append_str(&b, "Not yet asked:\n");
            for (size_t i = 0; i < ex.n_unasked && i < 8; i++)
                md_buf_appendf(&b, "  ? %s\n", md_kb_observation_at(kb, ex.unasked[i])->question);
            md_buf_appendf(&b, "%s\n", MD_CLINICAL_NOTICE);
        }
        if (md_buf_ok(&b)) fputs(b.data, stdout);
        else st = md_error_set(&err, MD_ERR_NOMEM, "out of memory");
    }
    md_buf_free(&b);
    md_explanation_free(&ex);
    md_case_free(c);
    md_kb_free(kb);
    md_free(text);
    return st == MD_OK ? 0 : cli_fail(&err, o.json);
}

int cmd_explain(int argc, char **argv) {
    cli_clinical_opts o;
    int rc = cli_parse_clinical_opts(argc, argv, &o, k_usage);
    if (rc) return rc;
    rc = explain_run(o);
    cli_opts_free(&o);
    return rc;
}
