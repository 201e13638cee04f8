/* gen_unicode_tables: writes src/engine/unicode_tables.c, the Unicode character
 * properties the tokenizers need, as compact sorted tables.
 *
 *   cc -std=c11 -O2 -o gen_unicode_tables tools/gen_unicode_tables.c
 *   ./gen_unicode_tables [UCD_DIR] > src/engine/unicode_tables.c
 *
 * UCD_DIR holds UnicodeData.txt and PropList.txt from the Unicode Character Database
 * (Debian's `unicode-data` package installs them in /usr/share/unicode, the default).
 * Nothing is downloaded; the generated file is committed, so a build never needs this.
 *
 * Why these tables and this version: medify's tokenizers must split text exactly as
 * llama.cpp does, and llama.cpp classifies code points with tables generated from
 * UnicodeData.txt of Unicode 15.1. The tables here are derived the same way from the
 * public data (UAX #44 field meanings):
 *
 *   - general category (field 2) folded to one class per code point: letter (L*),
 *     number (N*), mark (M*), punctuation (P*), symbol (S*), separator (Z*),
 *     control (Cc, Cf, Co, Cs) or unassigned (Cn); stored as [start, class) ranges;
 *   - White_Space from PropList.txt (the regex \s of the pre-tokenizers);
 *   - the simple lower-case mapping (field 13), used by WordPiece and by the
 *     case-insensitive contractions of the Llama 3 pre-tokenizer;
 *   - the first code point of each character's canonical decomposition (NFD, UAX #15:
 *     field 5 applied recursively, canonical ordering by field 3, Hangul syllables
 *     decomposed arithmetically). llama.cpp's WordPiece "normalisation" replaces a
 *     character by exactly that code point, which strips accents from precomposed
 *     letters (e -> e, A-ring -> A) while keeping the base letter.
 *
 * If UCD_DIR holds Unicode 15.0 (Debian bookworm ships 15.0.0), the 627 characters
 * Unicode 15.1 added are applied from the 15.1 release notes: CJK Unified Ideographs
 * Extension I U+2EBF0..U+2EE5D (Lo), the ideographic description characters
 * U+2FFC..U+2FFF (So) and U+31EF CJK STROKE HXG (So). 15.1 added no case mappings and
 * no decompositions.
 *
 * Input is checked line by line: a malformed line (wrong field count, bad hex, unknown
 * general category, unpaired <..., First>/<..., Last> range, code points out of order
 * or above U+10FFFF, decomposition cycles) stops the tool with `FILE:LINE: reason` on
 * stderr and a non-zero exit, before anything is written to stdout. Exit codes follow
 * sysexits.h: 64 usage, 65 bad data, 66 cannot open input, 71 out of memory, 74 I/O.
 *
 * This is a build-time tool, not part of the library: plain C11 and stdio/stdlib. It
 * reproduces the committed file byte for byte (its predecessor was a Python script);
 * check with `./gen_unicode_tables > /tmp/u.c && cmp /tmp/u.c src/engine/unicode_tables.c`. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TOOL           "gen_unicode_tables"
#define MAX_CP         0x110000u
#define NO_LOWER       0xFFFFFFFFu
#define LINE_MAX_BYTES 4096
#define PATH_MAX_BYTES 4096
#define MAX_DECOMP     32 /* code points in one field-5 decomposition (UCD max is 18) */
#define MAX_EXPANSION  64 /* code points in a full canonical decomposition */
#define MAX_DEPTH      16 /* recursion depth of the decomposition (catches cycles) */

#define EXIT_USAGE   64
#define EXIT_DATA    65
#define EXIT_NOINPUT 66
#define EXIT_OSERR   71
#define EXIT_IOERR   74

/* Classes: must match MD_UCD_CLASS_* in src/engine/tokenizer_internal.h. */
#define CLASS_UNDEFINED   0x01
#define CLASS_NUMBER      0x02
#define CLASS_LETTER      0x04
#define CLASS_SEPARATOR   0x08
#define CLASS_MARK        0x10
#define CLASS_PUNCTUATION 0x20
#define CLASS_SYMBOL      0x40
#define CLASS_CONTROL     0x80

/* General categories; index 0 is Cn, the category of every code point not listed. */
static const struct {
    const char *name;
    uint8_t cls;
} CATEGORIES[] = {
    {"Cn", CLASS_UNDEFINED},   {"Cc", CLASS_CONTROL},     {"Cf", CLASS_CONTROL},     {"Co", CLASS_CONTROL},
    {"Cs", CLASS_CONTROL},     {"Lu", CLASS_LETTER},      {"Ll", CLASS_LETTER},      {"Lt", CLASS_LETTER},
    {"Lm", CLASS_LETTER},      {"Lo", CLASS_LETTER},      {"Mn", CLASS_MARK},        {"Mc", CLASS_MARK},
    {"Me", CLASS_MARK},        {"Nd", CLASS_NUMBER},      {"Nl", CLASS_NUMBER},      {"No", CLASS_NUMBER},
    {"Pc", CLASS_PUNCTUATION}, {"Pd", CLASS_PUNCTUATION}, {"Ps", CLASS_PUNCTUATION}, {"Pe", CLASS_PUNCTUATION},
    {"Pi", CLASS_PUNCTUATION}, {"Pf", CLASS_PUNCTUATION}, {"Po", CLASS_PUNCTUATION}, {"Sm", CLASS_SYMBOL},
    {"Sc", CLASS_SYMBOL},      {"Sk", CLASS_SYMBOL},      {"So", CLASS_SYMBOL},      {"Zs", CLASS_SEPARATOR},
    {"Zl", CLASS_SEPARATOR},   {"Zp", CLASS_SEPARATOR},
};
#define N_CATEGORIES (sizeof CATEGORIES / sizeof CATEGORIES[0])

/* Unicode 15.1 additions over 15.0 (UTS #38 / 15.1.0 release notes). */
static const struct {
    uint32_t first, last;
    const char *category;
} UNICODE_15_1_ADDITIONS[] = {
    {0x2EBF0, 0x2EE5D, "Lo"},
    {0x2FFC, 0x2FFF, "So"},
    {0x31EF, 0x31EF, "So"},
};

#define HANGUL_S_BASE  0xAC00u
#define HANGUL_L_BASE  0x1100u
#define HANGUL_S_COUNT 11172u
#define HANGUL_NV_TN   (21u * 28u)

/* Everything read from the UCD, indexed by code point. */
typedef struct ucd {
    uint8_t *category;   /* index into CATEGORIES; 0 = Cn */
    uint8_t *ccc;        /* canonical combining class (field 3) */
    uint32_t *lower;     /* simple lower-case mapping (field 13), NO_LOWER if none */
    uint32_t *decomp_at; /* 1 + offset of the canonical decomposition in decomp, 0 if none */
    uint32_t *decomp;    /* length, then code points, for each decomposition */
    size_t n_decomp;
    size_t cap_decomp;
    uint32_t *white_space; /* White_Space code points, sorted */
    size_t n_white_space;
    size_t cap_white_space;
} ucd;

/* A line being parsed, for error messages. */
typedef struct where {
    const char *path;
    unsigned long line;
} where;

static int bad_line(const where *at, const char *what, const char *text) {
    if (at->line > 0)
        fprintf(stderr, "%s: %s:%lu: %s", TOOL, at->path, at->line, what);
    else
        fprintf(stderr, "%s: %s: %s", TOOL, at->path, what);
    if (text) fprintf(stderr, " '%s'", text);
    fputc('\n', stderr);
    return EXIT_DATA;
}

static int out_of_memory(void) {
    fprintf(stderr, "%s: out of memory\n", TOOL);
    return EXIT_OSERR;
}

/* Parses 1..6 hex digits spanning [s, end) as a code point below MAX_CP. */
static int parse_cp(const char *s, const char *end, uint32_t *cp) {
    size_t n = (size_t)(end - s);
    if (n == 0 || n > 6) return -1;
    uint32_t v = 0;
    for (const char *p = s; p < end; p++) {
        int d;
        if (*p >= '0' && *p <= '9')
            d = *p - '0';
        else if (*p >= 'A' && *p <= 'F')
            d = *p - 'A' + 10;
        else if (*p >= 'a' && *p <= 'f')
            d = *p - 'a' + 10;
        else
            return -1;
        v = v * 16 + (uint32_t)d;
    }
    if (v >= MAX_CP) return -1;
    *cp = v;
    return 0;
}

static int parse_cp_str(const char *s, uint32_t *cp) { return parse_cp(s, s + strlen(s), cp); }

static int category_index(const char *name) {
    for (size_t i = 0; i < N_CATEGORIES; i++)
        if (strcmp(CATEGORIES[i].name, name) == 0) return (int)i;
    return -1;
}

static int ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* Reads the next line into buf without its line ending ("\n" or "\r\n") and counts it in
 * at->line. Returns 1 on a line, 0 at end of file, or minus an exit code on a read error,
 * a NUL byte or a line that does not fit in cap bytes. */
static int read_line(FILE *f, char *buf, size_t cap, where *at) {
    size_t n = 0;
    int c;
    while ((c = getc(f)) != EOF && c != '\n') {
        if (c == '\0' || n + 1 == cap) {
            at->line++;
            return -bad_line(at, c == '\0' ? "NUL byte in line" : "line longer than the tool accepts", NULL);
        }
        buf[n++] = (char)c;
    }
    if (ferror(f)) {
        fprintf(stderr, "%s: %s: read error\n", TOOL, at->path);
        return -EXIT_IOERR;
    }
    if (c == EOF && n == 0) return 0;
    at->line++;
    if (n > 0 && buf[n - 1] == '\r') n--;
    buf[n] = '\0';
    return 1;
}

static FILE *open_in(const char *dir, const char *name, char *path, size_t cap) {
    if ((size_t)snprintf(path, cap, "%s/%s", dir, name) >= cap) {
        fprintf(stderr, "%s: path too long: %s/%s\n", TOOL, dir, name);
        return NULL;
    }
    FILE *f = fopen(path, "rb");
    if (!f) fprintf(stderr, "%s: %s: %s\n", TOOL, path, strerror(errno));
    return f;
}

static int push_decomp(ucd *u, uint32_t value) {
    if (u->n_decomp == u->cap_decomp) {
        size_t cap = u->cap_decomp ? u->cap_decomp * 2 : 4096;
        uint32_t *p = realloc(u->decomp, cap * sizeof *p);
        if (!p) return -1;
        u->decomp = p;
        u->cap_decomp = cap;
    }
    u->decomp[u->n_decomp++] = value;
    return 0;
}

/* Field 5: "<tag> ..." is a compatibility decomposition (ignored); otherwise a list of
 * code points separated by spaces. */
static int parse_decomposition(ucd *u, uint32_t cp, char *field, const where *at) {
    if (field[0] == '\0' || field[0] == '<') return 0;
    uint32_t cps[MAX_DECOMP];
    size_t n = 0;
    char *p = field;
    for (;;) {
        while (*p == ' ')
            p++;
        if (*p == '\0') break;
        char *end = p;
        while (*end != '\0' && *end != ' ')
            end++;
        if (n == MAX_DECOMP) return bad_line(at, "decomposition too long", field);
        if (parse_cp(p, end, &cps[n]) != 0) return bad_line(at, "bad code point in decomposition", field);
        n++;
        p = end;
    }
    if (n == 0) return bad_line(at, "empty decomposition", field);
    if (u->n_decomp + n + 1 >= UINT32_MAX) return out_of_memory();
    u->decomp_at[cp] = (uint32_t)u->n_decomp + 1;
    if (push_decomp(u, (uint32_t)n) != 0) return out_of_memory();
    for (size_t i = 0; i < n; i++)
        if (push_decomp(u, cps[i]) != 0) return out_of_memory();
    return 0;
}

/* UnicodeData.txt: 15 fields separated by ';' (UAX #44, section 5.3). */
static int read_unicode_data(ucd *u, const char *dir) {
    char path[PATH_MAX_BYTES], line[LINE_MAX_BYTES];
    FILE *f = open_in(dir, "UnicodeData.txt", path, sizeof path);
    if (!f) return EXIT_NOINPUT;
    where at = {path, 0};
    int64_t prev_cp = -1;
    int64_t range_start = -1; /* code point of a pending "<..., First>" line */
    int rc = 0, got;
    while ((got = read_line(f, line, sizeof line, &at)) == 1) {
        char *fields[15];
        size_t n_fields = 0;
        char *p = line;
        for (;;) {
            if (n_fields == 15) {
                n_fields++;
                break;
            }
            fields[n_fields++] = p;
            char *semi = strchr(p, ';');
            if (!semi) break;
            *semi = '\0';
            p = semi + 1;
        }
        if (n_fields != 15) {
            rc = bad_line(&at, "expected 15 fields separated by ';'", NULL);
            break;
        }
        uint32_t cp;
        if (parse_cp_str(fields[0], &cp) != 0) {
            rc = bad_line(&at, "bad code point", fields[0]);
            break;
        }
        if ((int64_t)cp <= prev_cp) {
            rc = bad_line(&at, "code point not above the previous line's", fields[0]);
            break;
        }
        prev_cp = cp;
        const char *name = fields[1];
        int cat = category_index(fields[2]);
        if (cat < 0) {
            rc = bad_line(&at, "unknown general category", fields[2]);
            break;
        }
        int is_first = ends_with(name, ", First>"), is_last = ends_with(name, ", Last>");
        if (range_start >= 0 && !is_last) {
            rc = bad_line(&at, "expected the \"<..., Last>\" line of the open range, got", name);
            break;
        }
        if (is_first) {
            range_start = cp;
            continue;
        }
        if (is_last) {
            if (range_start < 0) {
                rc = bad_line(&at, "\"<..., Last>\" without a \"<..., First>\" line", name);
                break;
            }
            for (uint32_t c = (uint32_t)range_start; c <= cp; c++)
                u->category[c] = (uint8_t)cat;
            range_start = -1;
            continue;
        }
        u->category[cp] = (uint8_t)cat;
        const char *ccc = fields[3];
        if (ccc[0] != '\0' && strcmp(ccc, "0") != 0) {
            unsigned v = 0;
            size_t n = 0;
            for (; ccc[n] >= '0' && ccc[n] <= '9' && n < 4; n++)
                v = v * 10 + (unsigned)(ccc[n] - '0');
            if (ccc[n] != '\0' || v > 254) {
                rc = bad_line(&at, "bad canonical combining class", ccc);
                break;
            }
            u->ccc[cp] = (uint8_t)v;
        }
        if ((rc = parse_decomposition(u, cp, fields[5], &at)) != 0) break;
        if (fields[13][0] != '\0') {
            if (parse_cp_str(fields[13], &u->lower[cp]) != 0) {
                rc = bad_line(&at, "bad simple lower-case mapping", fields[13]);
                break;
            }
        }
    }
    if (got < 0) rc = -got;
    if (rc == 0 && range_start >= 0) rc = bad_line(&at, "file ends after a \"<..., First>\" line", NULL);
    if (rc == 0 && prev_cp < 0) rc = bad_line(&at, "no code points", NULL);
    fclose(f);
    return rc;
}

static int push_white_space(ucd *u, uint32_t cp) {
    if (u->n_white_space == u->cap_white_space) {
        size_t cap = u->cap_white_space ? u->cap_white_space * 2 : 64;
        uint32_t *p = realloc(u->white_space, cap * sizeof *p);
        if (!p) return -1;
        u->white_space = p;
        u->cap_white_space = cap;
    }
    u->white_space[u->n_white_space++] = cp;
    return 0;
}

static int is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'; }

static char *trim(char *s) {
    while (is_space(*s))
        s++;
    size_t n = strlen(s);
    while (n > 0 && is_space(s[n - 1]))
        s[--n] = '\0';
    return s;
}

static int compare_u32(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/* PropList.txt: "CP[..CP] ; Property # comment" lines; keeps White_Space. */
static int read_white_space(ucd *u, const char *dir) {
    char path[PATH_MAX_BYTES], line[LINE_MAX_BYTES];
    FILE *f = open_in(dir, "PropList.txt", path, sizeof path);
    if (!f) return EXIT_NOINPUT;
    where at = {path, 0};
    int rc = 0, got;
    while ((got = read_line(f, line, sizeof line, &at)) == 1) {
        char *hash = strchr(line, '#');
        if (hash) *hash = '\0';
        char *text = trim(line);
        if (*text == '\0') continue;
        char *semi = strchr(text, ';');
        if (!semi || strchr(semi + 1, ';')) {
            rc = bad_line(&at, "expected 'CODE_POINTS ; PROPERTY'", text);
            break;
        }
        *semi = '\0';
        char *cps = trim(text), *prop = trim(semi + 1);
        uint32_t first, last;
        char *dots = strstr(cps, "..");
        if (dots) {
            if (parse_cp(cps, dots, &first) != 0 || parse_cp_str(dots + 2, &last) != 0 || last < first) {
                rc = bad_line(&at, "bad code point range", cps);
                break;
            }
        } else {
            if (parse_cp_str(cps, &first) != 0) {
                rc = bad_line(&at, "bad code point", cps);
                break;
            }
            last = first;
        }
        if (*prop == '\0') {
            rc = bad_line(&at, "missing property name", NULL);
            break;
        }
        if (strcmp(prop, "White_Space") != 0) continue;
        for (uint32_t c = first; c <= last; c++) {
            if (push_white_space(u, c) != 0) {
                rc = out_of_memory();
                break;
            }
        }
        if (rc) break;
    }
    if (got < 0) rc = -got;
    fclose(f);
    if (rc == 0 && u->n_white_space > 1) qsort(u->white_space, u->n_white_space, sizeof(uint32_t), compare_u32);
    return rc;
}

/* The UCD version from PropList.txt's first line, "# PropList-15.0.0.txt" -> "15.0.0". */
static int ucd_version(const char *dir, char *version, size_t cap) {
    char path[PATH_MAX_BYTES], line[LINE_MAX_BYTES];
    FILE *f = open_in(dir, "PropList.txt", path, sizeof path);
    if (!f) return EXIT_NOINPUT;
    where at = {path, 0};
    int got = read_line(f, line, sizeof line, &at);
    fclose(f);
    if (got < 0) return -got;
    if (got == 0) line[0] = '\0';
    char *s = line; /* trim white space, then leading '#' and ' ' */
    while (is_space(*s))
        s++;
    size_t n = strlen(s);
    while (n > 0 && is_space(s[n - 1]))
        s[--n] = '\0';
    while (*s == '#' || *s == ' ')
        s++;
    static const char *const drop[] = {"PropList-", ".txt"};
    for (size_t k = 0; k < 2; k++) {
        char *hit;
        size_t len = strlen(drop[k]);
        while ((hit = strstr(s, drop[k])) != NULL)
            memmove(hit, hit + len, strlen(hit + len) + 1);
    }
    if (strlen(s) >= cap) return bad_line(&at, "version line too long", NULL);
    strcpy(version, s);
    return 0;
}

/* Appends the full canonical decomposition of c to seq. */
static int expand(const ucd *u, uint32_t c, uint32_t *seq, size_t *n, int depth) {
    if (u->decomp_at[c] == 0) {
        if (*n == MAX_EXPANSION) return -1;
        seq[(*n)++] = c;
        return 0;
    }
    if (depth == MAX_DEPTH) return -1;
    const uint32_t *d = &u->decomp[u->decomp_at[c] - 1];
    for (uint32_t i = 1; i <= d[0]; i++)
        if (expand(u, d[i], seq, n, depth + 1) != 0) return -1;
    return 0;
}

/* First code point of the NFD of cp: Hangul arithmetic, else the recursive canonical
 * decomposition with each run of non-starters stably sorted by combining class. */
static int nfd_first(const ucd *u, uint32_t cp, uint32_t *first) {
    if (cp >= HANGUL_S_BASE && cp < HANGUL_S_BASE + HANGUL_S_COUNT) {
        *first = HANGUL_L_BASE + (cp - HANGUL_S_BASE) / HANGUL_NV_TN;
        return 0;
    }
    if (u->decomp_at[cp] == 0) {
        *first = cp;
        return 0;
    }
    uint32_t seq[MAX_EXPANSION];
    size_t n = 0;
    if (expand(u, cp, seq, &n, 0) != 0) {
        fprintf(stderr, "%s: decomposition of U+%04X is cyclic or longer than %d code points\n", TOOL, (unsigned)cp,
                MAX_EXPANSION);
        return EXIT_DATA;
    }
    size_t i = 0;
    while (i < n) {
        if (u->ccc[seq[i]] == 0) {
            i++;
            continue;
        }
        size_t j = i;
        while (j < n && u->ccc[seq[j]] != 0)
            j++;
        for (size_t k = i + 1; k < j; k++) { /* insertion sort: stable */
            uint32_t c = seq[k];
            size_t m = k;
            while (m > i && u->ccc[seq[m - 1]] > u->ccc[c]) {
                seq[m] = seq[m - 1];
                m--;
            }
            seq[m] = c;
        }
        i = j;
    }
    *first = seq[0];
    return 0;
}

/* A growable array of uint32_t rows of a fixed width. */
typedef struct rows {
    uint32_t *v;
    size_t n, cap;
} rows;

static int rows_push(rows *r, const uint32_t *row, size_t width) {
    if (r->n + width > r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 1024;
        while (cap < r->n + width)
            cap *= 2;
        uint32_t *p = realloc(r->v, cap * sizeof *p);
        if (!p) return -1;
        r->v = p;
        r->cap = cap;
    }
    memcpy(r->v + r->n, row, width * sizeof *row);
    r->n += width;
    return 0;
}

/* Writes items of one row each, per_line to a line, as the committed file lays them out:
 * four spaces, then the items separated by one space. */
static void emit_rows(FILE *out, const char *format, const uint32_t *v, size_t n_items, size_t width, size_t per_line) {
    for (size_t i = 0; i < n_items; i++) {
        fputs(i % per_line == 0 ? "    " : " ", out);
        const uint32_t *r = v + i * width;
        if (width == 1)
            fprintf(out, format, (unsigned)r[0]);
        else if (width == 2)
            fprintf(out, format, (unsigned)r[0], (unsigned)r[1]);
        else
            fprintf(out, format, (unsigned)r[0], (unsigned)r[1], (unsigned)r[2]);
        if (i % per_line == per_line - 1 || i == n_items - 1) fputc('\n', out);
    }
}

/* The lookup functions, written verbatim after the tables. The static_assert message still
 * names the Python predecessor: the port changed only the header comment of the output. */
static const char LOOKUPS[] =
    "static_assert(MD_UCD_CLASS_CONTROL == 0x80 && MD_UCD_CLASS_LETTER == 0x04 && MD_UCD_CLASS_NUMBER == 0x02,\n"
    "              \"class bits must match tools/gen_unicode_tables.c\");\n"
    "\n"
    "uint32_t md_ucd_flags(uint32_t cp) {\n"
    "    if (cp >= 0x110000) return MD_UCD_CLASS_UNDEFINED;\n"
    "    size_t lo = 0, hi = UCD_N_CLASS_RANGES; /* find the last range with start <= cp */\n"
    "    while (hi - lo > 1) {\n"
    "        size_t mid = lo + (hi - lo) / 2;\n"
    "        if (md_ucd_class_start[mid] <= cp) lo = mid;\n"
    "        else hi = mid;\n"
    "    }\n"
    "    uint32_t flags = md_ucd_class[lo];\n"
    "    for (size_t i = 0; i < MD_ARRAY_LEN(md_ucd_white_space); i++) {\n"
    "        if (md_ucd_white_space[i] == cp) return flags | MD_UCD_WHITESPACE;\n"
    "        if (md_ucd_white_space[i] > cp) break;\n"
    "    }\n"
    "    return flags;\n"
    "}\n"
    "\n"
    "uint32_t md_ucd_tolower(uint32_t cp) {\n"
    "    size_t lo = 0, hi = UCD_N_LOWER;\n"
    "    while (lo < hi) {\n"
    "        size_t mid = lo + (hi - lo) / 2;\n"
    "        if (md_ucd_lower[mid][0] < cp) lo = mid + 1;\n"
    "        else hi = mid;\n"
    "    }\n"
    "    return (lo < UCD_N_LOWER && md_ucd_lower[lo][0] == cp) ? md_ucd_lower[lo][1] : cp;\n"
    "}\n"
    "\n"
    "uint32_t md_ucd_nfd_first(uint32_t cp) {\n"
    "    size_t lo = 0, hi = UCD_N_NFD; /* first range whose last >= cp */\n"
    "    while (lo < hi) {\n"
    "        size_t mid = lo + (hi - lo) / 2;\n"
    "        if (md_ucd_nfd[mid][1] < cp) lo = mid + 1;\n"
    "        else hi = mid;\n"
    "    }\n"
    "    return (lo < UCD_N_NFD && md_ucd_nfd[lo][0] <= cp) ? md_ucd_nfd[lo][2] : cp;\n"
    "}\n"
    "/* clang-format on */\n";

static int emit(FILE *out, const ucd *u, const char *version, const rows *starts, const rows *classes,
                const rows *lower, const rows *nfd) {
    fputs("/* Unicode character properties for the tokenizers (engine module).\n"
          " *\n"
          " * GENERATED by tools/gen_unicode_tables.c from the Unicode Character Database\n",
          out);
    fprintf(out, " * %s: UnicodeData.txt (general category, simple lower-case\n", version);
    fputs(" * mapping, canonical decomposition) and PropList.txt (White_Space). Do not edit;\n"
          " * rerun the generator:\n"
          " *\n"
          " *   cc -std=c11 -O2 -o gen_unicode_tables tools/gen_unicode_tables.c\n"
          " *   ./gen_unicode_tables [UCD_DIR] > src/engine/unicode_tables.c\n"
          " *\n"
          " * UCD_DIR defaults to /usr/share/unicode (Debian's unicode-data package). The tables\n"
          " * match the classification llama.cpp's tokenizers use, so pre-tokenisation splits\n"
          " * text exactly as llama.cpp does.\n"
          " */\n"
          "/* clang-format off */\n"
          "#include \"engine/tokenizer_internal.h\"\n"
          "\n"
          "#include <assert.h>\n"
          "\n"
          "/* Code point classes: range i covers [md_ucd_class_start[i], md_ucd_class_start[i + 1]). */\n",
          out);
    fprintf(out, "#define UCD_N_CLASS_RANGES %zu\n", classes->n); /* starts has one more: 0x110000 */
    fputs("static const uint32_t md_ucd_class_start[UCD_N_CLASS_RANGES + 1] = {\n", out);
    emit_rows(out, "0x%05X,", starts->v, starts->n, 1, 10);
    fputs("};\n"
          "static const uint8_t md_ucd_class[UCD_N_CLASS_RANGES] = {\n",
          out);
    emit_rows(out, "0x%02X,", classes->v, classes->n, 1, 16);
    fputs("};\n"
          "\n"
          "/* White_Space (PropList.txt). */\n"
          "static const uint32_t md_ucd_white_space[] = {\n",
          out);
    emit_rows(out, "0x%04X,", u->white_space, u->n_white_space, 1, 10);
    fputs("};\n"
          "\n"
          "/* Simple lower-case mapping (UnicodeData.txt field 13): pairs sorted by code point. */\n",
          out);
    fprintf(out, "#define UCD_N_LOWER %zu\n", lower->n / 2);
    fputs("static const uint32_t md_ucd_lower[UCD_N_LOWER][2] = {\n", out);
    emit_rows(out, "{0x%05X, 0x%05X},", lower->v, lower->n / 2, 2, 5);
    fputs("};\n"
          "\n"
          "/* First code point of the canonical decomposition: {first, last, value} ranges. */\n",
          out);
    fprintf(out, "#define UCD_N_NFD %zu\n", nfd->n / 3);
    fputs("static const uint32_t md_ucd_nfd[UCD_N_NFD][3] = {\n", out);
    emit_rows(out, "{0x%05X, 0x%05X, 0x%05X},", nfd->v, nfd->n / 3, 3, 3);
    fputs("};\n"
          "\n",
          out);
    fputs(LOOKUPS, out);
    if (fflush(out) != 0 || ferror(out)) {
        fprintf(stderr, "%s: error writing the output\n", TOOL);
        return EXIT_IOERR;
    }
    return 0;
}

/* Applies the Unicode 15.1 additions to 15.0 data; each must land on unassigned code points. */
static int apply_15_1(ucd *u) {
    for (size_t i = 0; i < sizeof UNICODE_15_1_ADDITIONS / sizeof UNICODE_15_1_ADDITIONS[0]; i++) {
        int cat = category_index(UNICODE_15_1_ADDITIONS[i].category);
        for (uint32_t c = UNICODE_15_1_ADDITIONS[i].first; c <= UNICODE_15_1_ADDITIONS[i].last; c++) {
            if (u->category[c] != 0) {
                fprintf(stderr, "%s: U+%04X is already assigned in the 15.0 data; cannot apply the 15.1 additions\n",
                        TOOL, (unsigned)c);
                return EXIT_DATA;
            }
            u->category[c] = (uint8_t)cat;
        }
    }
    return 0;
}

static int run(ucd *u, const char *dir) {
    rows starts = {0}, classes = {0}, lower = {0}, nfd = {0};
    char version[LINE_MAX_BYTES];
    int applied_15_1 = 0;
    int rc = read_unicode_data(u, dir);
    if (rc == 0) rc = ucd_version(dir, version, sizeof version);
    if (rc == 0 && strncmp(version, "15.0", 4) == 0) {
        rc = apply_15_1(u);
        applied_15_1 = 1;
        strcpy(version, "15.1.0 (15.0.0 data + 15.1 additions)");
    }
    if (rc == 0) rc = read_white_space(u, dir);
    /* Class ranges: a new range wherever the class changes. */
    int prev = -1;
    for (uint32_t cp = 0; rc == 0 && cp < MAX_CP; cp++) {
        uint32_t cls = CATEGORIES[u->category[cp]].cls;
        if ((int)cls != prev) {
            if (rows_push(&starts, &cp, 1) != 0 || rows_push(&classes, &cls, 1) != 0) rc = out_of_memory();
            prev = (int)cls;
        }
    }
    if (rc == 0) {
        const uint32_t end = MAX_CP;
        if (rows_push(&starts, &end, 1) != 0) rc = out_of_memory();
    }
    for (uint32_t cp = 0; rc == 0 && cp < MAX_CP; cp++) {
        if (u->lower[cp] == NO_LOWER) continue;
        const uint32_t pair[2] = {cp, u->lower[cp]};
        if (rows_push(&lower, pair, 2) != 0) rc = out_of_memory();
    }
    /* NFD first code point, as {first, last, value} ranges sharing one value. */
    for (uint32_t cp = 0; rc == 0 && cp < MAX_CP; cp++) {
        if (u->category[cp] == 0) continue;
        uint32_t first;
        if ((rc = nfd_first(u, cp, &first)) != 0) break;
        if (first == cp) continue;
        uint32_t *last = nfd.n ? nfd.v + nfd.n - 3 : NULL;
        if (last && last[1] == cp - 1 && last[2] == first) {
            last[1] = cp;
        } else {
            const uint32_t row[3] = {cp, cp, first};
            if (rows_push(&nfd, row, 3) != 0) rc = out_of_memory();
        }
    }
    if (rc == 0) rc = emit(stdout, u, version, &starts, &classes, &lower, &nfd);
    if (rc == 0 && applied_15_1) fprintf(stderr, "%s: applied the Unicode 15.1 additions to 15.0 data\n", TOOL);
    free(starts.v);
    free(classes.v);
    free(lower.v);
    free(nfd.v);
    return rc;
}

int main(int argc, char **argv) {
    int help = argc == 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0);
    if (argc > 2 || help) {
        fprintf(help ? stdout : stderr,
                "usage: %s [UCD_DIR] > src/engine/unicode_tables.c\n"
                "UCD_DIR holds UnicodeData.txt and PropList.txt (default /usr/share/unicode)\n",
                TOOL);
        return help ? 0 : EXIT_USAGE;
    }
    const char *dir = argc == 2 ? argv[1] : "/usr/share/unicode";
    ucd u = {0};
    u.category = calloc(MAX_CP, sizeof *u.category);
    u.ccc = calloc(MAX_CP, sizeof *u.ccc);
    u.lower = malloc(MAX_CP * sizeof *u.lower);
    u.decomp_at = calloc(MAX_CP, sizeof *u.decomp_at);
    int rc;
    if (!u.category || !u.ccc || !u.lower || !u.decomp_at) {
        rc = out_of_memory();
    } else {
        for (uint32_t cp = 0; cp < MAX_CP; cp++)
            u.lower[cp] = NO_LOWER;
        rc = run(&u, dir);
    }
    free(u.category);
    free(u.ccc);
    free(u.lower);
    free(u.decomp_at);
    free(u.decomp);
    free(u.white_space);
    return rc;
}
