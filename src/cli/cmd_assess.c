/* medify assess: free text on stdin → one assessment (JSON with --json). */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

static const char k_usage[] =
    "usage: medify assess [--age N] [--sex male|female] [--kb DIR] [--json | --fhir] < text\n"
    "Reads a description of symptoms on stdin and prints red flags, triage, likely\n"
    "conditions, the next question to ask and a structured summary (--json: medify's\n"
    "JSON; --fhir: a FHIR R4 Bundle).\n";

static int assess_run(cli_clinical_opts o) {
    int rc = 0;
    md_error err = {0};
    char *text = NULL;
    size_t n = 0;
    /* Read at most one byte past the parser's limit: a 10 MB paste is refused without
     * being read whole. */
    md_status st = md_read_stream(stdin, MD_CLINICAL_MAX_TEXT_BYTES, &text, &n, &err);
    if (st != MD_OK) return cli_fail(&err, o.json);
    md_kb *kb = NULL;
    rc = cli_load_kb(&o, &kb);
    if (rc) {
        md_free(text);
        return rc;
    }
    md_case *c = md_case_new(kb);
    md_assessment a;
    md_buf out;
    md_buf_init(&out);
    if (!c) {
        st = md_error_set(&err, MD_ERR_NOMEM, "out of memory");
    } else {
        st = md_case_add_text(c, text, n, &err);
        if (st == MD_OK) {
            md_case_set_patient(c, o.age_years, o.sex);
            uint64_t t0 = md_clock_monotonic_ns();
            st = md_assess(c, md_assess_default_params(), &a, &err);
            if (st == MD_OK) {
                /* counts and codes only: never the patient's words */
                md_log(&o.log, MD_LOG_LEVEL_INFO, "assessment", MD_LOG_STR("triage", md_triage_level_name(a.level)),
                       MD_LOG_BOOL("emergency", a.emergency), MD_LOG_INT("red_flags", a.n_redflags),
                       MD_LOG_INT("text_bytes", n), MD_LOG_DOUBLE("ms", (double)(md_clock_monotonic_ns() - t0) / 1e6));
                st = o.fhir ? md_assessment_to_fhir(c, &a, &out)
                     : o.json ? md_assessment_to_json(c, &a, &out)
                              : md_summary_to_text(c, &a, &out);
                if (st == MD_OK && (o.json || o.fhir)) md_buf_append_char(&out, '\n');
                if (st == MD_OK && !o.json && !o.fhir && a.has_question)
                    md_buf_appendf(&out, "Next question: %s\n", a.question.text);
                md_assessment_free(&a);
                if (st != MD_OK) md_error_set(&err, st, "out of memory writing the assessment");
            }
        }
    }
    if (st == MD_OK) fputs(out.data, stdout);
    md_buf_free(&out);
    md_case_free(c);
    md_kb_free(kb);
    md_free(text);
    return st == MD_OK ? 0 : cli_fail(&err, o.json);
}

int cmd_assess(int argc, char **argv) {
    cli_clinical_opts o;
    int rc = cli_parse_clinical_opts(argc, argv, &o, k_usage);
    if (rc) return rc;
    rc = assess_run(o);
    cli_opts_free(&o);
    return rc;
}
