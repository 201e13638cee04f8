/* UTF-8: a table of valid and ill-formed sequences (overlongs, surrogates, beyond
 * U+10FFFF, truncation, stray continuations, 5- and 6-byte forms) with the offset of
 * the first bad sequence; decode/encode round trips over every scalar value; folding;
 * and binary detection. */
#include "check.h"
#include "medify/base.h"

#include <string.h>

typedef struct utf8_case {
    const char *what;
    const char *bytes;
    size_t n_bytes;
    bool valid;
    size_t bad_offset;
} utf8_case;

#define VALID(what, s) {what, s, sizeof(s) - 1, true, 0}
#define INVALID(what, s, off) {what, s, sizeof(s) - 1, false, off}

static const utf8_case utf8_cases[] = {
    VALID("empty", ""),
    VALID("ascii", "chest pain since 2 days"),
    VALID("NUL is a valid code point", "a\0b"),
    VALID("2-byte lowest U+0080", "\xc2\x80"),
    VALID("2-byte e-acute", "caf\xc3\xa9"),
    VALID("2-byte highest U+07FF", "\xdf\xbf"),
    VALID("3-byte lowest U+0800", "\xe0\xa0\x80"),
    VALID("3-byte euro", "\xe2\x82\xac"),
    VALID("3-byte before surrogates U+D7FF", "\xed\x9f\xbf"),
    VALID("3-byte after surrogates U+E000", "\xee\x80\x80"),
    VALID("3-byte U+FFFD", "\xef\xbf\xbd"),
    VALID("3-byte U+FFFF (noncharacter, still valid)", "\xef\xbf\xbf"),
    VALID("4-byte lowest U+10000", "\xf0\x90\x80\x80"),
    VALID("4-byte emoji", "\xf0\x9f\x98\x80"),
    VALID("4-byte highest U+10FFFF", "\xf4\x8f\xbf\xbf"),
    VALID("mixed", "a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80z"),

    INVALID("lone continuation", "\x80", 0),
    INVALID("continuation after ascii", "ab\xbf", 2),
    INVALID("overlong 2-byte C0 80 (NUL)", "\xc0\x80", 0),
    INVALID("overlong 2-byte C1 BF", "x\xc1\xbf", 1),
    INVALID("overlong 3-byte E0 80 80", "\xe0\x80\x80", 0),
    INVALID("overlong 3-byte E0 9F BF", "ok\xe0\x9f\xbf", 2),
    INVALID("overlong 4-byte F0 80 80 80", "\xf0\x80\x80\x80", 0),
    INVALID("overlong 4-byte F0 8F BF BF", "\xf0\x8f\xbf\xbf", 0),
    INVALID("high surrogate U+D800", "\xed\xa0\x80", 0),
    INVALID("low surrogate U+DFFF", "a\xed\xbf\xbf", 1),
    INVALID("surrogate pair as CESU-8", "\xed\xa0\xbd\xed\xb8\x80", 0),
    INVALID("above U+10FFFF (F4 90)", "\xf4\x90\x80\x80", 0),
    INVALID("F5 lead", "\xf5\x80\x80\x80", 0),
    INVALID("FE byte", "ab\xfe", 2),
    INVALID("FF byte", "\xff", 0),
    INVALID("5-byte form", "\xf8\x88\x80\x80\x80", 0),
    INVALID("6-byte form", "x\xfc\x84\x80\x80\x80\x80", 1),
    INVALID("truncated 2-byte at end", "abc\xc3", 3),
    INVALID("truncated 3-byte at end", "\xe2\x82", 0),
    INVALID("truncated 4-byte at end", "ok\xf0\x9f\x98", 2),
    INVALID("truncated 3-byte then ascii", "\xe2\x82" "A", 0),
    INVALID("bad third byte", "\xe2\x82\x41", 0),
    INVALID("bad fourth byte", "\xf0\x9f\x98\xc0", 0),
    INVALID("error after valid multibyte", "\xc3\xa9\xe2\x82\xac\x80", 5),
};

static void test_validation_table(void) {
    for (size_t i = 0; i < MD_ARRAY_LEN(utf8_cases); i++) {
        const utf8_case *c = &utf8_cases[i];
        size_t bad = 12345;
        bool valid = md_utf8_valid(c->bytes, c->n_bytes, &bad);
        CHECK_MSG(valid == c->valid, "%s: valid = %d", c->what, valid);
        if (!c->valid) {
            CHECK_MSG(bad == c->bad_offset, "%s: bad_offset = %zu, want %zu", c->what, bad,
                      c->bad_offset);
            /* the prefix before the offset is always valid */
            CHECK_MSG(md_utf8_valid(c->bytes, bad, NULL), "%s: prefix invalid", c->what);
        } else {
            CHECK_MSG(bad == 12345, "%s: bad_offset written for valid input", c->what);
        }
        CHECK(md_utf8_valid(c->bytes, c->n_bytes, NULL) == c->valid); /* NULL offset ok */
    }
}

static void test_decode_encode_all_scalars(void) {
    int ok = 1;
    for (uint32_t cp = 0; cp <= 0x10FFFF; cp++) {
        char buf[4];
        size_t n = md_utf8_encode(cp, buf);
        bool surrogate = cp >= 0xD800 && cp <= 0xDFFF;
        if (surrogate) {
            ok &= n == 0;
            continue;
        }
        size_t want = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
        ok &= n == want;
        ok &= md_utf8_valid(buf, n, NULL);
        const char *p = buf;
        ok &= md_utf8_decode(&p, buf + n) == cp;
        ok &= p == buf + n;
        if (!ok) {
            CHECK_MSG(0, "round trip fails at U+%04X", (unsigned)cp);
            break;
        }
    }
    CHECK(ok);
    char buf[4];
    CHECK_EQ_INT(md_utf8_encode(0x110000, buf), 0);
    CHECK_EQ_INT(md_utf8_encode(0xFFFFFFFF, buf), 0);
}

static void test_decode_invalid(void) {
    /* Each ill-formed byte becomes one U+FFFD and the decoder advances by one. */
    const char s[] = "a\xc0\x80" "b\xe2\x82" "c\xf4\x90\x80\x80";
    const char *p = s, *end = s + sizeof(s) - 1;
    uint32_t want[] = {'a', 0xFFFD, 0xFFFD, 'b', 0xFFFD, 0xFFFD, 'c',
                       0xFFFD, 0xFFFD, 0xFFFD, 0xFFFD};
    size_t n = 0;
    int match = 1;
    while (p < end && n < MD_ARRAY_LEN(want)) {
        match &= md_utf8_decode(&p, end) == want[n++];
    }
    CHECK(match);
    CHECK_EQ_INT(n, MD_ARRAY_LEN(want));
    CHECK(p == end);
    /* a sequence cut by `end` is not read past the end */
    const char euro[] = "\xe2\x82\xac";
    p = euro;
    CHECK_EQ_INT(md_utf8_decode(&p, euro + 2), 0xFFFD);
    CHECK(p == euro + 1);
}

/* Folds a whole UTF-8 string with md_utf8_fold; unfoldable code points become '?'. */
static void fold_string(const char *s, char *out, size_t out_bytes) {
    const char *p = s, *end = s + strlen(s);
    size_t n = 0;
    while (p < end && n + 3 < out_bytes) {
        char f[2];
        size_t k = md_utf8_fold(md_utf8_decode(&p, end), f);
        if (k == 0) {
            out[n++] = '?';
        }
        for (size_t j = 0; j < k; j++) {
            out[n++] = f[j];
        }
    }
    out[n] = '\0';
}

static void test_fold(void) {
    static const struct {
        const char *in, *want;
    } cases[] = {
        {"Chest PAIN", "chest pain"},
        {"\xc3\x89" "cole caf\xc3\xa9 na\xc3\xaf" "ve", "ecole cafe naive"},        /* É é ï */
        {"\xc3\x80\xc3\x81\xc3\x82\xc3\x83\xc3\x84\xc3\x85", "aaaaaa"},          /* À..Å */
        {"\xc3\x87\xc3\xa7\xc3\x91\xc3\xb1", "ccnn"},                             /* Ç ç Ñ ñ */
        {"Stra\xc3\x9f" "e", "strasse"},                                          /* ß */
        {"\xc3\x86\xc3\xa6", "aeae"},                                             /* Æ æ */
        {"\xc5\x92\xc5\x93", "oeoe"},                                             /* Œ œ */
        {"\xc3\x98\xc3\xb8", "oo"},                                               /* Ø ø */
        {"\xc4\x90\xc4\x91", "dd"},                                               /* Đ đ */
        {"\xc5\x81\xc3\xb3\xc5\xba", "loz"},                                      /* Łóź */
        {"\xc5\x81\xc5\x82", "ll"},                                               /* Ł ł */
        {"\xc5\xa0\xc4\x8d\xc5\xbe\xc4\x9b\xc5\x99", "sczer"},                    /* Š č ž ě ř */
        {"\xc4\xb0\xc4\xb1", "ii"},                                               /* İ ı */
        {"\xc3\xbf\xc5\xb8\xc3\xbd", "yyy"},                                      /* ÿ Ÿ ý */
        {"\xc3\x9e\xc3\xbe", "thth"},                                             /* Þ þ */
        {"don\xe2\x80\x99t can\xe2\x80\x98t it\xe2\x80\x9bs 5\xe2\x80\xb2", "don't can't it's 5'"},
        {"\xc2\xb4" "a`b", "'a'b"},                                               /* ´ and ` */
        {"\xe2\x80\x9cno fever\xe2\x80\x9d", "\"no fever\""},                     /* “ ” */
        {"a\xe2\x80\x90" "b\xe2\x80\x93" "c\xe2\x80\x94" "d\xe2\x80\x95" "e\xe2\x88\x92" "f",
         "a-b-c-d-e-f"},                                                          /* ‐ – — ― − */
        {"a\xc2\xa0" "b\xe2\x80\x80" "c\xe2\x80\x8b" "d\xe2\x80\xaf" "e\xe3\x80\x80" "f",
         "a b c d e f"},                                                          /* spaces */
        {"\xc3\x97\xc3\xb7", "??"},                                               /* × ÷ */
        {"\xe4\xb8\xad\xce\xb1\xd0\xb6", "???"},                                  /* 中 α ж */
        {"\xf0\x9f\x98\x80", "?"},
        {"5 mg/kg, 3-4x", "5 mg/kg, 3-4x"},
    };
    for (size_t i = 0; i < MD_ARRAY_LEN(cases); i++) {
        char out[128];
        fold_string(cases[i].in, out, sizeof(out));
        CHECK_MSG(strcmp(out, cases[i].want) == 0, "fold case %zu: \"%s\" want \"%s\"", i, out,
                  cases[i].want);
    }
    /* Every letter of Latin-1 Supplement and Latin Extended-A folds to lower-case ASCII
     * letters (the two symbols × ÷ excepted). */
    int letters_ok = 1;
    for (uint32_t cp = 0xC0; cp <= 0x17F; cp++) {
        char f[2];
        size_t k = md_utf8_fold(cp, f);
        if (cp == 0xD7 || cp == 0xF7) {
            letters_ok &= k == 0;
            continue;
        }
        letters_ok &= k == 1 || k == 2;
        for (size_t j = 0; j < k; j++) {
            letters_ok &= f[j] >= 'a' && f[j] <= 'z';
        }
        if (!letters_ok) {
            CHECK_MSG(0, "U+%04X folds badly", (unsigned)cp);
            break;
        }
    }
    CHECK(letters_ok);
}

static void test_binary_detection(void) {
    CHECK(!md_bytes_look_binary("", 0));
    const char *text = "Patient reports fever\r\n\tand cough.\n\f";
    CHECK(!md_bytes_look_binary(text, strlen(text)));
    const char *utf8 = "na\xc3\xafve caf\xc3\xa9";
    CHECK(!md_bytes_look_binary(utf8, strlen(utf8)));
    CHECK(md_bytes_look_binary("text\0more", 9)); /* a NUL byte decides */
    const char gguf[] = {'G', 'G', 'U', 'F', 3, 0, 0, 0};
    CHECK(md_bytes_look_binary(gguf, sizeof(gguf)));
    char mostly_control[100];
    for (int i = 0; i < 100; i++) {
        mostly_control[i] = (char)(i % 3 == 0 ? 0x01 : 'a');
    }
    CHECK(md_bytes_look_binary(mostly_control, sizeof(mostly_control)));
    /* a single stray escape in a long text is still text */
    char with_esc[200];
    memset(with_esc, 'x', sizeof(with_esc));
    with_esc[50] = 0x1b;
    CHECK(!md_bytes_look_binary(with_esc, sizeof(with_esc)));
}

int main(void) {
    test_validation_table();
    test_decode_encode_all_scalars();
    test_decode_invalid();
    test_fold();
    test_binary_detection();
    return check_report("test_base_utf8");
}
