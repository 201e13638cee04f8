/* medify chat: the symptom interview in a terminal, or over a pipe for tests.
 *
 * Every turn goes through the same engine as `medify assess`: the reply is applied
 * to the question, red flags are checked at once (an emergency ends the interview
 * with what to do now), then the next question is asked. The interview ends when
 * the engine says it should stop, on "done"/"quit", or at end of input, and always
 * prints the clinical summary and the notice. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"

static const char k_usage[] =
    "usage: medify chat [--age N] [--sex male|female] [--kb DIR] [--json]\n"
    "Runs the symptom interview on the terminal. Answer in your own words; type 'done'\n"
    "to finish early. With --json the final assessment is printed as JSON.\n";

#define MAX_LINE_BYTES 8192

/* Reads one line (without the newline) into buf; false at end of input. A line longer
 * than the buffer is consumed whole and truncated at a UTF-8 boundary. */
static bool read_line(char *buf, size_t cap, size_t *n) {
    if (!fgets(buf, (int)cap, stdin)) return false;
    size_t len = strlen(buf);
    if (len > 0 && buf[len - 1] != '\n' && !feof(stdin)) {
        int ch;
        while ((ch = getchar()) != EOF && ch != '\n') {
        }
        while (len > 0 && ((unsigned char)buf[len - 1] & 0xC0) == 0x80) len--;
        if (len > 0 && ((unsigned char)buf[len - 1] & 0x80)) len--;
    }
    while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r')) len--;
    buf[len] = '\0';
    *n = len;
    return true;
}

static bool is_done(const char *s) {
    static const char *const words[] = {"done", "quit", "exit", "stop", "finish", "bye", "q"};
    for (size_t i = 0; i < MD_ARRAY_LEN(words); i++)
        if (strcmp(s, words[i]) == 0) return true;
    return false;
}

static void print_question(const md_next_question *q) {
    printf("\n%s\n", q->text);
    if (q->type == MD_QUESTION_TYPE_YESNO) {
        printf("  (yes / no / not sure)\n");
    } else if (q->type == MD_QUESTION_TYPE_CHOICE) {
        for (size_t i = 0; i < q->n_choices && q->choices; i++) printf("  %zu. %s\n", i + 1, q->choices[i]);
    }
    printf("> ");
    fflush(stdout);
}

static void print_emergency(const md_kb *kb, const md_assessment *a, bool *shown) {
    for (size_t i = 0; i < a->n_redflags; i++) {
        uint32_t r = a->redflags[i].redflag;
        if (shown[r]) continue;
        shown[r] = true;
        const md_kb_redflag *rf = md_kb_redflag_at(kb, r);
        printf("\n!!! %s: %s\n!!! %s\n", md_triage_level_name(rf->level), rf->name, rf->guidance);
    }
    fflush(stdout);
}

static int chat_run(cli_clinical_opts o) {
    int rc = 0;
    md_kb *kb = NULL;
    rc = cli_load_kb(&o, &kb);
    if (rc) return rc;
    md_error err = {0};
    md_case *c = md_case_new(kb);
    bool *shown = md_calloc(md_kb_n_redflags(kb) + 1, sizeof *shown);
    char *line = md_malloc(MAX_LINE_BYTES);
    md_assessment a = {0};
    bool have_a = false;
    md_status st = (c && shown && line) ? MD_OK : md_error_set(&err, MD_ERR_NOMEM, "out of memory");
    if (st == MD_OK) md_case_set_patient(c, o.age_years, o.sex);
    bool tty = isatty(STDIN_FILENO);
    if (st == MD_OK) {
        printf("medify symptom interview\n%s\n\nPlease describe your symptoms in your own words.\n> ", MD_CLINICAL_NOTICE);
        fflush(stdout);
    }
    size_t n = 0;
    /* First turn: free text, until something non-empty arrives. */
    bool got_text = false;
    while (st == MD_OK && read_line(line, MAX_LINE_BYTES, &n)) {
        if (n == 0) {
            if (tty) printf("> ");
            continue;
        }
        if (is_done(line)) break;
        md_error perr = {0};
        md_status ps = md_case_add_text(c, line, n, &perr);
        if (ps == MD_OK) {
            got_text = true;
            break;
        }
        if (ps == MD_ERR_NOMEM) {
            st = ps;
            err = perr;
            break;
        }
        printf("Sorry, I could not read that (%s). Please describe your symptoms.\n> ", perr.message);
        fflush(stdout);
    }
    while (st == MD_OK && got_text) {
        if (have_a) md_assessment_free(&a);
        have_a = false;
        st = md_assess(c, md_assess_default_params(), &a, &err);
        if (st != MD_OK) break;
        have_a = true;
        print_emergency(kb, &a, shown);
        if (a.should_stop || !a.has_question) break;
        if (md_case_mark_asked(c, a.question.id) != MD_OK) {
            st = md_error_set(&err, MD_ERR_NOMEM, "out of memory");
            break;
        }
        print_question(&a.question);
        if (!read_line(line, MAX_LINE_BYTES, &n)) break;
        if (is_done(line)) break;
        md_error aerr = {0};
        md_status as = md_case_answer(c, &a.question, line, n, &aerr);
        if (as == MD_ERR_NOMEM) {
            st = as;
            err = aerr;
        } else if (as != MD_OK) {
            printf("Sorry, I could not read that (%s).\n", aerr.message);
        }
    }
    if (st == MD_OK && got_text) {
        if (!have_a) {
            st = md_assess(c, md_assess_default_params(), &a, &err);
            have_a = st == MD_OK;
        }
        if (st == MD_OK) {
            md_buf b;
            md_buf_init(&b);
            st = o.json ? md_assessment_to_json(c, &a, &b) : md_summary_to_text(c, &a, &b);
            if (st == MD_OK) printf("\n%s%s", b.data, o.json ? "\n" : "");
            else md_error_set(&err, st, "out of memory writing the summary");
            md_buf_free(&b);
        }
    } else if (st == MD_OK) {
        printf("\nNo symptoms were described.\n%s\n", MD_CLINICAL_NOTICE);
    }
    if (have_a) md_assessment_free(&a);
    md_free(line);
    md_free(shown);
    md_case_free(c);
    md_kb_free(kb);
    return st == MD_OK ? 0 : cli_fail(&err, o.json);
}

int cmd_chat(int argc, char **argv) {
    cli_clinical_opts o;
    int rc = cli_parse_clinical_opts(argc, argv, &o, k_usage);
    if (rc) return rc;
    rc = chat_run(o);
    cli_opts_free(&o);
    return rc;
}
