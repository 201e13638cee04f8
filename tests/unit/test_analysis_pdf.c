/* The hand-written report PDF: structure (header, objects, xref offsets that point at
 * their objects, stream lengths, trailer, startxref), pagination with page numbers,
 * WinAnsi text with non-Latin-1 characters replaced, word wrap inside the margins, and
 * — when poppler's pdftotext is installed — that a real reader extracts the text. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../src/analysis/internal.h"
#include "check.h"
#include "medify/analysis.h"

/* Finds needle in hay[0..n) (binary safe). */
static const char *find(const char *hay, size_t n, const char *needle) {
    size_t k = strlen(needle);
    for (size_t i = 0; k <= n && i + k <= n; i++)
        if (memcmp(hay + i, needle, k) == 0) return hay + i;
    return NULL;
}

static size_t count(const char *hay, size_t n, const char *needle) {
    size_t c = 0, k = strlen(needle);
    for (const char *p = hay; (p = find(p, n - (size_t)(p - hay), needle)); p += k) c++;
    return c;
}

/* Checks a PDF in bytes[0..n): xref entries point at "i 0 obj", each stream's /Length
 * is the byte count between "stream\n" and "\nendstream"; returns the page count. */
static int check_structure(const char *pdf, size_t n) {
    CHECK(n > 100 && memcmp(pdf, "%PDF-1.4\n", 9) == 0);
    CHECK(n > 6 && memcmp(pdf + n - 6, "%%EOF\n", 6) == 0);
    const char *sx = NULL;
    for (const char *p = pdf; (p = find(p, n - (size_t)(p - pdf), "startxref\n")); p++) sx = p;
    CHECK(sx != NULL);
    if (!sx) return 0;
    size_t xref = (size_t)strtoull(sx + 10, NULL, 10);
    CHECK(xref < n && memcmp(pdf + xref, "xref\n0 ", 7) == 0);
    if (xref >= n) return 0;
    size_t n_entries = (size_t)strtoull(pdf + xref + 7, NULL, 10);
    const char *e = strchr(pdf + xref + 5, '\n') + 1;
    CHECK(memcmp(e, "0000000000 65535 f\r\n", 20) == 0);
    for (size_t i = 1; i < n_entries; i++) {
        const char *row = e + 20 * i;
        CHECK(row[10] == ' ' && row[16] == ' ' && row[17] == 'n' && row[18] == '\r' && row[19] == '\n');
        size_t off = (size_t)strtoull(row, NULL, 10);
        char want[32];
        int wn = snprintf(want, sizeof want, "%zu 0 obj\n", i);
        CHECK_MSG(off < n && memcmp(pdf + off, want, (size_t)wn) == 0, "object %zu not at offset %zu", i, off);
        /* streams: /Length matches */
        const char *obj_end = find(pdf + off, n - off, "endobj");
        const char *len = find(pdf + off, (size_t)(obj_end - pdf) - off, "/Length ");
        if (len) {
            size_t L = (size_t)strtoull(len + 8, NULL, 10);
            const char *s = find(len, n - (size_t)(len - pdf), "stream\n");
            CHECK(s && memcmp(s + 7 + L, "\nendstream", 10) == 0);
        }
    }
    char trailer[64];
    snprintf(trailer, sizeof trailer, "/Size %zu /Root 1 0 R", n_entries);
    CHECK(find(pdf, n, trailer) != NULL);
    const char *cnt = find(pdf, n, "/Count ");
    int pages = cnt ? atoi(cnt + 7) : 0;
    CHECK_EQ_INT(count(pdf, n, "/Type /Page "), pages);
    CHECK_EQ_INT(n_entries, 6 + 2 * (size_t)pages);
    return pages;
}

static const char k_report_json[] =
    "{\"generator\":\"deterministic\",\"sections\":["
    "{\"key\":\"current_case\",\"title\":\"Current case\",\"text\":\"A 34-year-old woman presents with a "
    "headache (sudden onset). Caf\\u00e9 na\\u00efve \\u201cquoted\\u201d \\u2013 dash \\u2014 em, "
    "Japanese \\u65e5\\u672c, check \\u2713, euro \\u20ac5, a (paren) and back\\\\slash.\\n- "
    "**Associated symptoms:** nausea.\"},"
    "{\"key\":\"triage_red_flags\",\"title\":\"Triage and red flags\",\"text\":\"**Triage: Emergency**\"},"
    "{\"key\":\"differential\",\"title\":\"Differential diagnosis\",\"text\":\"LONGTEXT\"},"
    "{\"key\":\"similar_cases\",\"title\":\"Similar cases\",\"text\":\"- [PMID 1001] patient 1001-1\"},"
    "{\"key\":\"next_steps\",\"title\":\"Suggested next steps\",\"text\":\"- Unbreakable "
    "Supercalifragilisticexpialidociousxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
    "xxxxxxxxxxxxxxxxxxxxxxxxxx word\"},"
    "{\"key\":\"safety_notice\",\"title\":\"Safety notice\",\"text\":\"not a diagnosis\"}],"
    "\"similar_cases\":[{\"case_id\":7,\"pmid\":\"1001\",\"patient_uid\":\"1001-1\",\"title\":\"Migraine\","
    "\"score\":0.016}],\"triage\":{\"level\":\"emergency\"},\"red_flags\":[],\"notes\":[{\"kind\":\"generator\","
    "\"text\":\"a note\"}],\"created_at\":\"2026-12-08T01:02:03.000Z\"}";

int main(void) {
    /* WinAnsi mapping */
    md_buf w;
    md_buf_init(&w);
    const char *in = "caf\xC3\xA9 \xE2\x80\x9Cq\xE2\x80\x9D \xE2\x80\x93 \xE2\x82\xAC \xE6\x97\xA5 \xC5\x81";
    analysis_winansi(in, strlen(in), &w);
    CHECK(w.data && strcmp(w.data, "caf\xE9 \x93q\x94 \x96 \x80 ? l") == 0); /* Ł folds to l */
    md_buf_free(&w);

    /* a report long enough for several pages */
    md_buf long_text;
    md_buf_init(&long_text);
    for (int i = 0; i < 120; i++)
        md_buf_appendf(&long_text, "- Condition number %d: the evidence for and against it is discussed here at some "
                                   "length so that the line has to wrap at least once on the page.\\n", i);
    md_buf js;
    md_buf_init(&js);
    const char *mark = strstr(k_report_json, "LONGTEXT");
    md_buf_append(&js, k_report_json, (size_t)(mark - k_report_json));
    md_buf_append(&js, long_text.data, long_text.len);
    md_buf_append_str(&js, mark + 8);
    md_report r;
    md_error err = {0};
    CHECK(md_report_from_json(js.data, js.len, &r, &err) == MD_OK);
    if (err.message[0]) fprintf(stderr, "%s\n", err.message);

    /* appended to a buffer that already holds bytes: offsets count from %PDF */
    md_buf pdf;
    md_buf_init(&pdf);
    md_buf_append_str(&pdf, "PREFIX");
    CHECK(md_report_pdf(&r, &pdf) == MD_OK);
    const char *doc = pdf.data + 6;
    size_t n = pdf.len - 6;
    int pages = check_structure(doc, n);
    CHECK(pages >= 3);
    char last[32];
    snprintf(last, sizeof last, "(Page %d of %d)", pages, pages);
    CHECK(find(doc, n, "(Page 1 of ") != NULL);
    CHECK(find(doc, n, last) != NULL);
    /* text present, escaped as PDF strings, with WinAnsi bytes in octal */
    CHECK(find(doc, n, "(Current case)") != NULL);
    CHECK(find(doc, n, "(Differential diagnosis)") != NULL);
    CHECK(find(doc, n, "Caf\\351 na\\357ve \\223quoted\\224 \\226 dash \\227 em") != NULL);
    CHECK(find(doc, n, "Japanese ??, check ?, euro \\2005") != NULL);
    CHECK(find(doc, n, "a \\(paren\\) and back\\\\slash") != NULL);
    CHECK(find(doc, n, "**") == NULL); /* Markdown bold markers stripped */
    CHECK(find(doc, n, "(\\225)") != NULL); /* bullets */
    CHECK(find(doc, n, "/BaseFont /Helvetica /Encoding /WinAnsiEncoding") != NULL);
    CHECK(find(doc, n, "PMID 1001; patient 1001-1; Migraine; score 0.0160)") != NULL);
    /* word wrap: no text line starts right of the margin nor runs past the page: each
     * Td x within [56, 540) and every line of the long differential is split */
    size_t n_lines = count(doc, n, " Tj ET");
    CHECK(n_lines > 240);
    for (const char *p = doc; (p = find(p, n - (size_t)(p - doc), " Tf ")); p += 4) {
        double x = strtod(p + 4, NULL);
        CHECK_MSG(x >= 56 && x < 540, "line at x = %g", x);
    }
    /* the overlong word was split rather than overflowing */
    CHECK(find(doc, n, "(Supercalifragilisticexpialidociousxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
                       "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx word)") == NULL);

    /* a real reader, when installed */
    if (system("command -v pdftotext > /dev/null 2>&1") == 0) {
        char path[128], cmd[400];
        snprintf(path, sizeof path, "/tmp/medify-test-report-%d.pdf", (int)getpid());
        FILE *f = fopen(path, "wb");
        CHECK(f != NULL);
        if (f) {
            fwrite(doc, 1, n, f);
            fclose(f);
            snprintf(cmd, sizeof cmd, "pdftotext -enc UTF-8 '%s' - 2>&1", path);
            FILE *pp = popen(cmd, "r");
            md_buf txt;
            md_buf_init(&txt);
            char chunk[4096];
            size_t got;
            while (pp && (got = fread(chunk, 1, sizeof chunk, pp)) > 0) md_buf_append(&txt, chunk, got);
            int rc = pp ? pclose(pp) : -1;
            CHECK_EQ_INT(rc, 0);
            CHECK(txt.data && strstr(txt.data, "Differential diagnosis"));
            CHECK(txt.data && strstr(txt.data, "Caf\xC3\xA9 na\xC3\xAFve \xE2\x80\x9Cquoted\xE2\x80\x9D"));
            CHECK(txt.data && strstr(txt.data, "Condition number 119"));
            CHECK(txt.data && strstr(txt.data, "Page 1 of"));
            CHECK(txt.data && !strstr(txt.data, "Syntax Error"));
            md_buf_free(&txt);
            remove(path);
        }
    } else {
        fprintf(stderr, "test_analysis_pdf: pdftotext not installed; reader check skipped\n");
    }

    /* an empty report is still a valid one-page document */
    md_report empty;
    md_report_init(&empty);
    md_buf_clear(&pdf);
    CHECK(md_report_pdf(&empty, &pdf) == MD_OK);
    CHECK_EQ_INT(check_structure(pdf.data, pdf.len), 1);
    CHECK(find(pdf.data, pdf.len, "not a diagnosis") != NULL); /* the notice is always there */
    md_report_free(&empty);

    md_buf_free(&pdf);
    md_buf_free(&js);
    md_buf_free(&long_text);
    md_report_free(&r);
    return check_report("test_analysis_pdf");
}
