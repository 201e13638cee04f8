/* The report as a PDF 1.4 document, written by hand (ISO 32000-1 / PDF Reference 1.4).
 *
 * Structure: header; catalog (1), page tree (2), Helvetica (3) and Helvetica-Bold (4)
 * as standard Type 1 fonts with WinAnsiEncoding (no embedding: every reader has the
 * 14 standard fonts), the document information dictionary (5), then per page a page
 * object and its uncompressed content stream; a cross-reference table whose entries
 * are exactly 20 bytes ("nnnnnnnnnn ggggg n\r\n" as sec. 3.4.3 requires), the trailer
 * and startxref.
 *
 * Text: UTF-8 is mapped to WinAnsi (Latin-1 plus typographic quotes, dashes, bullet,
 * ellipsis, euro); anything else folds to ASCII or becomes '?'. Lines are broken at
 * spaces by measuring each word with the fonts' AFM advance widths (Adobe Core14
 * metrics, 1/1000 em); a word longer than a line is split. Pages are A4; a heading is
 * never left alone at the bottom of a page; every page carries "Page i of n", so the
 * whole layout is done before anything is written.
 */
#include <string.h>

#include "analysis/internal.h"

/* ---- metrics -------------------------------------------------------------------------- */

/* Advance widths of characters 32..126 (Adobe Helvetica / Helvetica-Bold AFM). */
static const unsigned short k_helv[95] = {
    278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278, 278, 556, 556, 556, 556,
    556, 556, 556, 556, 556, 556, 278, 278, 584, 584, 584, 556, 1015, 667, 667, 722, 722, 667, 611, 778,
    722, 278, 500, 667, 556, 833, 722, 778, 667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 278,
    278, 278, 469, 556, 333, 556, 556, 500, 556, 556, 278, 556, 556, 222, 222, 500, 222, 833, 556, 556,
    556, 556, 333, 500, 278, 556, 500, 722, 500, 500, 500, 334, 260, 334, 584};
static const unsigned short k_helv_bold[95] = {
    278, 333, 474, 556, 556, 889, 722, 238, 333, 333, 389, 584, 278, 333, 278, 278, 556, 556, 556, 556,
    556, 556, 556, 556, 556, 556, 333, 333, 584, 584, 584, 611, 975, 722, 722, 722, 722, 667, 611, 778,
    722, 278, 556, 722, 611, 833, 722, 778, 667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 333,
    278, 333, 584, 556, 333, 556, 611, 556, 611, 556, 333, 611, 611, 278, 278, 556, 278, 889, 611, 611,
    611, 611, 389, 556, 333, 611, 556, 778, 556, 556, 500, 389, 280, 389, 584};

static unsigned char_width(unsigned char ch, bool bold) {
    if (ch >= 32 && ch <= 126) return bold ? k_helv_bold[ch - 32] : k_helv[ch - 32];
    switch (ch) {
    case 0x85: case 0x97: return 1000; /* ellipsis, em dash */
    case 0x95: return 350;             /* bullet */
    case 0x91: case 0x92: return bold ? 278 : 222;
    case 0x93: case 0x94: return bold ? 500 : 333;
    case 0xA0: return 278;
    case 0xB0: return 400;
    default: break;
    }
    /* other Latin-1 letters: never narrower than these (upper case up to 1000 for Æ) */
    if (ch == 0xC6 || ch == 0x8C) return 1000;
    if (ch >= 0xC0 && ch <= 0xDE) return 778;
    return 611;
}

static double text_width(const char *s, size_t n, bool bold, double size) {
    unsigned w = 0;
    for (size_t i = 0; i < n; i++) w += char_width((unsigned char)s[i], bold);
    return w * size / 1000.0;
}

/* ---- UTF-8 → WinAnsi ---------------------------------------------------------------------- */

static const struct {
    uint32_t cp;
    unsigned char byte;
} k_winansi_extra[] = {
    {0x20AC, 0x80}, {0x201A, 0x82}, {0x0192, 0x83}, {0x201E, 0x84}, {0x2026, 0x85}, {0x2020, 0x86},
    {0x2021, 0x87}, {0x02C6, 0x88}, {0x2030, 0x89}, {0x0160, 0x8A}, {0x2039, 0x8B}, {0x0152, 0x8C},
    {0x017D, 0x8E}, {0x2018, 0x91}, {0x2019, 0x92}, {0x201C, 0x93}, {0x201D, 0x94}, {0x2022, 0x95},
    {0x2013, 0x96}, {0x2014, 0x97}, {0x02DC, 0x98}, {0x2122, 0x99}, {0x0161, 0x9A}, {0x203A, 0x9B},
    {0x0153, 0x9C}, {0x017E, 0x9E}, {0x0178, 0x9F},
};

void analysis_winansi(const char *utf8, size_t n_bytes, md_buf *out) {
    const char *p = utf8, *end = utf8 + n_bytes;
    while (p < end) {
        uint32_t cp = md_utf8_decode(&p, end);
        if (cp == '\n') md_buf_append_char(out, '\n');
        else if (cp < 0x20 || cp == 0x7F) md_buf_append_char(out, ' ');
        else if (cp < 0x7F || (cp >= 0xA0 && cp <= 0xFF)) md_buf_append_char(out, (char)(unsigned char)cp);
        else {
            bool done = false;
            for (size_t i = 0; i < sizeof k_winansi_extra / sizeof k_winansi_extra[0]; i++)
                if (k_winansi_extra[i].cp == cp) {
                    md_buf_append_char(out, (char)k_winansi_extra[i].byte);
                    done = true;
                    break;
                }
            if (done) continue;
            char f[2];
            size_t nf = md_utf8_fold(cp, f);
            bool ok = nf > 0;
            for (size_t i = 0; i < nf; i++)
                if ((unsigned char)f[i] < 0x20 || (unsigned char)f[i] > 0x7E) ok = false;
            if (ok) md_buf_append(out, f, nf);
            else md_buf_append_char(out, '?');
        }
    }
}

/* ---- layout ------------------------------------------------------------------------------- */

#define PDF_PAGE_W 595.28 /* A4 in points */
#define PDF_PAGE_H 841.89
#define PDF_MARGIN_X 56.0
#define PDF_MARGIN_TOP 64.0
#define PDF_MARGIN_BOTTOM 64.0
#define PDF_FOOTER_Y 34.0
#define PDF_BODY_SIZE 10.0
#define PDF_BODY_LEADING 13.5
#define PDF_BULLET_INDENT 12.0

typedef struct pdf_line {
    int page;
    double x, y;
    double size;
    bool bold;
    size_t off, len; /* into the layout's text buffer (WinAnsi bytes) */
} pdf_line;

typedef struct pdf_layout {
    md_buf text;   /* all line texts, back to back */
    md_vec lines;  /* pdf_line */
    int page;      /* current page, 0-based */
    double y;      /* baseline of the next line */
    bool failed;
} pdf_layout;

static void new_page(pdf_layout *L) {
    L->page++;
    L->y = PDF_PAGE_H - PDF_MARGIN_TOP;
}

static void emit(pdf_layout *L, double x, double size, double leading, bool bold, const char *s, size_t n) {
    if (L->y - leading < PDF_MARGIN_BOTTOM) new_page(L);
    pdf_line ln = {L->page, x, L->y, size, bold, L->text.len, n};
    md_buf_append(&L->text, s, n);
    if (md_vec_push(&L->lines, &ln) != MD_OK) L->failed = true;
    L->y -= leading;
}

/* Word-wraps one paragraph of WinAnsi text (no newlines) into lines of width w. */
static void wrap(pdf_layout *L, const char *s, size_t n, double x, double first_x, double w, double size,
                 double leading, bool bold) {
    size_t i = 0;
    bool first = true;
    while (i < n) {
        while (i < n && s[i] == ' ') i++;
        if (i >= n) break;
        double lx = first ? first_x : x;
        double avail = w - (lx - PDF_MARGIN_X);
        size_t start = i, last_fit = i;
        double width = 0;
        size_t j = i;
        while (j < n) {
            size_t k = j;
            while (k < n && s[k] == ' ') k++;
            size_t e = k;
            while (e < n && s[e] != ' ') e++;
            double ww = text_width(s + j, e - j, bold, size);
            if (width + ww > avail) break;
            width += ww;
            last_fit = e;
            j = e;
        }
        if (last_fit == start) { /* one word wider than the line: split it */
            size_t e = start;
            double cw = 0;
            while (e < n && s[e] != ' ') {
                double c = char_width((unsigned char)s[e], bold) * size / 1000.0;
                if (cw + c > avail && e > start) break;
                cw += c;
                e++;
            }
            last_fit = e;
        }
        emit(L, lx, size, leading, bold, s + start, last_fit - start);
        i = last_fit;
        first = false;
    }
}

/* Lays out Markdown-light text: "- " bullets, blank-line paragraphs, ** removed. */
static void flow_text(pdf_layout *L, const char *utf8) {
    md_buf w;
    md_buf_init(&w);
    /* drop bold markers before encoding */
    for (const char *p = utf8 ? utf8 : ""; *p; p++) {
        if (p[0] == '*' && p[1] == '*') {
            p++;
            continue;
        }
        md_buf_append_char(&w, *p);
    }
    md_buf enc;
    md_buf_init(&enc);
    if (w.data) analysis_winansi(w.data, w.len, &enc);
    if (!md_buf_ok(&w) || !md_buf_ok(&enc)) L->failed = true;
    const double width = PDF_PAGE_W - 2 * PDF_MARGIN_X;
    const char *p = enc.data ? enc.data : "";
    const char *end = p + enc.len;
    while (p < end && !L->failed) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        size_t i = 0;
        while (i < n && p[i] == ' ') i++;
        if (i == n) {
            L->y -= PDF_BODY_LEADING / 2;
        } else if (n - i >= 2 && (p[i] == '-' || p[i] == '*') && p[i + 1] == ' ') {
            const char bullet = (char)0x95;
            L->y -= 2;
            double y_before = L->y;
            int page_before = L->page;
            wrap(L, p + i + 2, n - i - 2, PDF_MARGIN_X + PDF_BULLET_INDENT, PDF_MARGIN_X + PDF_BULLET_INDENT, width,
                 PDF_BODY_SIZE, PDF_BODY_LEADING, false);
            /* the bullet sits on the first line of the item, wherever it landed */
            pdf_line *first = NULL;
            for (size_t k = L->lines.n; k-- > 0;) {
                pdf_line *ln = md_vec_at(&L->lines, k);
                if (ln->page < page_before || (ln->page == page_before && ln->y > y_before)) break;
                first = ln;
            }
            if (first) {
                pdf_line b = {first->page, PDF_MARGIN_X + 2, first->y, PDF_BODY_SIZE, false, L->text.len, 1};
                md_buf_append_char(&L->text, bullet);
                if (md_vec_push(&L->lines, &b) != MD_OK) L->failed = true;
            }
        } else {
            wrap(L, p + i, n - i, PDF_MARGIN_X, PDF_MARGIN_X, width, PDF_BODY_SIZE, PDF_BODY_LEADING, false);
        }
        p = nl ? nl + 1 : end;
    }
    md_buf_free(&w);
    md_buf_free(&enc);
}

static void heading(pdf_layout *L, const char *utf8, double size) {
    /* keep the heading with at least two lines of what follows */
    if (L->y - (size + 8) - 2 * PDF_BODY_LEADING < PDF_MARGIN_BOTTOM) new_page(L);
    else L->y -= 8;
    md_buf enc;
    md_buf_init(&enc);
    analysis_winansi(utf8, strlen(utf8), &enc);
    if (!md_buf_ok(&enc)) L->failed = true;
    wrap(L, enc.data ? enc.data : "", enc.len, PDF_MARGIN_X, PDF_MARGIN_X, PDF_PAGE_W - 2 * PDF_MARGIN_X, size,
         size + 5, true);
    L->y -= 2;
    md_buf_free(&enc);
}

static void line_utf8(pdf_layout *L, const char *utf8, double size, bool bold) {
    md_buf enc;
    md_buf_init(&enc);
    analysis_winansi(utf8, strlen(utf8), &enc);
    if (!md_buf_ok(&enc)) L->failed = true;
    wrap(L, enc.data ? enc.data : "", enc.len, PDF_MARGIN_X, PDF_MARGIN_X, PDF_PAGE_W - 2 * PDF_MARGIN_X, size,
         size * 1.35, bold);
    md_buf_free(&enc);
}

static void layout_report(pdf_layout *L, const md_report *r) {
    char meta[256];
    line_utf8(L, "medify case-analysis report", 18, true);
    L->y -= 4;
    snprintf(meta, sizeof meta, "Generated %s by %s", r->created_at[0] ? r->created_at : "(unknown time)",
             r->generator ? r->generator : "deterministic");
    line_utf8(L, meta, 9, false);
    snprintf(meta, sizeof meta, "Triage: %s (%s)%s", analysis_triage_label(r->triage), md_triage_level_name(r->triage),
             r->emergency ? " - EMERGENCY" : "");
    line_utf8(L, meta, 11, true);
    for (size_t i = 0; i < r->n_sections && !L->failed; i++) {
        heading(L, r->sections[i].title ? r->sections[i].title : r->sections[i].key, 13);
        flow_text(L, r->sections[i].text);
    }
    if (r->n_similar_cases) {
        heading(L, "Sources", 13);
        md_buf b;
        md_buf_init(&b);
        for (size_t i = 0; i < r->n_similar_cases; i++) {
            const md_report_case *c = &r->similar_cases[i];
            md_buf_appendf(&b, "- %zu. ", i + 1);
            if (c->pmid && *c->pmid) md_buf_appendf(&b, "PMID %s; ", c->pmid);
            if (c->patient_uid && *c->patient_uid) md_buf_appendf(&b, "patient %s; ", c->patient_uid);
            if (c->title && *c->title) md_buf_appendf(&b, "%s; ", c->title);
            md_buf_appendf(&b, "score %.4f\n", c->score);
        }
        if (!md_buf_ok(&b)) L->failed = true;
        flow_text(L, b.data ? b.data : "");
        md_buf_free(&b);
    }
    if (r->n_notes) {
        heading(L, "Notes", 13);
        md_buf b;
        md_buf_init(&b);
        for (size_t i = 0; i < r->n_notes; i++) md_buf_appendf(&b, "- %s\n", r->notes[i]);
        if (!md_buf_ok(&b)) L->failed = true;
        flow_text(L, b.data ? b.data : "");
        md_buf_free(&b);
    }
    if (!md_report_section_text(r, MD_REPORT_SECTION_SAFETY_NOTICE)) {
        heading(L, "Safety notice", 13);
        flow_text(L, r->notice ? r->notice : MD_CLINICAL_NOTICE);
    }
}

/* ---- writing ------------------------------------------------------------------------------ */

static void pdf_string(md_buf *b, const char *s, size_t n) {
    md_buf_append_char(b, '(');
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == '(' || ch == ')' || ch == '\\') {
            md_buf_append_char(b, '\\');
            md_buf_append_char(b, (char)ch);
        } else if (ch < 0x20 || ch >= 0x7F) {
            md_buf_appendf(b, "\\%03o", ch);
        } else {
            md_buf_append_char(b, (char)ch);
        }
    }
    md_buf_append_char(b, ')');
}

static void text_op(md_buf *b, bool bold, double size, double x, double y, const char *s, size_t n) {
    md_buf_appendf(b, "BT /%s %.1f Tf %.2f %.2f Td ", bold ? "F2" : "F1", size, x, y);
    pdf_string(b, s, n);
    md_buf_append_str(b, " Tj ET\n");
}

md_status md_report_pdf(const md_report *r, md_buf *out) {
    if (!r || !out) return MD_ERR_INVALID_ARG;
    pdf_layout L;
    memset(&L, 0, sizeof L);
    md_buf_init(&L.text);
    md_vec_init(&L.lines, sizeof(pdf_line));
    L.y = PDF_PAGE_H - PDF_MARGIN_TOP;
    layout_report(&L, r);
    int n_pages = L.page + 1;
    md_status st = (L.failed || !md_buf_ok(&L.text)) ? MD_ERR_NOMEM : MD_OK;
    size_t n_objs = 5 + 2 * (size_t)n_pages; /* objects 1..n_objs */
    size_t *offs = st == MD_OK ? md_calloc(n_objs + 1, sizeof *offs) : NULL;
    if (st == MD_OK && !offs) st = MD_ERR_NOMEM;
    if (st != MD_OK) {
        md_buf_free(&L.text);
        md_vec_free(&L.lines);
        return st;
    }
    const size_t base = out->len; /* offsets count from the document's first byte */
    md_buf_append_str(out, "%PDF-1.4\n%\xE2\xE3\xCF\xD3\n");
    offs[1] = out->len - base;
    md_buf_append_str(out, "1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n");
    offs[2] = out->len - base;
    md_buf_append_str(out, "2 0 obj\n<< /Type /Pages /Kids [");
    for (int p = 0; p < n_pages; p++) md_buf_appendf(out, "%s%d 0 R", p ? " " : "", 6 + 2 * p);
    md_buf_appendf(out, "] /Count %d >>\nendobj\n", n_pages);
    offs[3] = out->len - base;
    md_buf_append_str(out, "3 0 obj\n<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>\n"
                           "endobj\n");
    offs[4] = out->len - base;
    md_buf_append_str(out, "4 0 obj\n<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica-Bold /Encoding "
                           "/WinAnsiEncoding >>\nendobj\n");
    offs[5] = out->len - base;
    char date[32] = "";
    const char *c = r->created_at; /* "YYYY-MM-DDTHH:MM:SS..." → "D:YYYYMMDDHHMMSSZ" */
    if (strlen(c) >= 19)
        snprintf(date, sizeof date, "D:%.4s%.2s%.2s%.2s%.2s%.2sZ", c, c + 5, c + 8, c + 11, c + 14, c + 17);
    md_buf_append_str(out, "5 0 obj\n<< /Title (medify case-analysis report) /Producer (medify)");
    if (date[0]) md_buf_appendf(out, " /CreationDate (%s)", date);
    md_buf_append_str(out, " >>\nendobj\n");
    md_buf content;
    md_buf_init(&content);
    bool content_ok = true; /* md_buf_clear forgets a failure, so remember it per page */
    for (int p = 0; p < n_pages; p++) {
        md_buf_clear(&content);
        for (size_t i = 0; i < L.lines.n; i++) {
            const pdf_line *ln = md_vec_at(&L.lines, i);
            if (ln->page == p) text_op(&content, ln->bold, ln->size, ln->x, ln->y, L.text.data + ln->off, ln->len);
        }
        char footer[64];
        int nf = snprintf(footer, sizeof footer, "Page %d of %d", p + 1, n_pages);
        double fw = text_width(footer, (size_t)nf, false, 8);
        static const char k_left[] = "medify case-analysis report - not a diagnosis";
        text_op(&content, false, 8, PDF_MARGIN_X, PDF_FOOTER_Y, k_left, sizeof k_left - 1);
        text_op(&content, false, 8, PDF_PAGE_W - PDF_MARGIN_X - fw, PDF_FOOTER_Y, footer, (size_t)nf);
        int page_obj = 6 + 2 * p, content_obj = page_obj + 1;
        offs[page_obj] = out->len - base;
        md_buf_appendf(out,
                       "%d 0 obj\n<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %.2f %.2f] /Resources << /Font << /F1 3 "
                       "0 R /F2 4 0 R >> >> /Contents %d 0 R >>\nendobj\n",
                       page_obj, PDF_PAGE_W, PDF_PAGE_H, content_obj);
        content_ok = content_ok && md_buf_ok(&content);
        offs[content_obj] = out->len - base;
        md_buf_appendf(out, "%d 0 obj\n<< /Length %zu >>\nstream\n", content_obj, content.len);
        md_buf_append(out, content.data ? content.data : "", content.len);
        md_buf_append_str(out, "\nendstream\nendobj\n");
    }
    size_t xref = out->len - base;
    md_buf_appendf(out, "xref\n0 %zu\n0000000000 65535 f\r\n", n_objs + 1);
    for (size_t i = 1; i <= n_objs; i++) md_buf_appendf(out, "%010zu 00000 n\r\n", offs[i]);
    md_buf_appendf(out, "trailer\n<< /Size %zu /Root 1 0 R /Info 5 0 R >>\nstartxref\n%zu\n%%%%EOF\n", n_objs + 1,
                   xref);
    st = md_buf_ok(out) && content_ok ? MD_OK : MD_ERR_NOMEM;
    md_buf_free(&content);
    md_free(offs);
    md_buf_free(&L.text);
    md_vec_free(&L.lines);
    return st;
}
