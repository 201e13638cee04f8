/* utf8.c: strict UTF-8 validation and decoding, and folding to ASCII for matching.
 *
 * Validation follows the well-formed byte sequence table of RFC 3629 sec. 4 (the same
 * table as Unicode 15, Table 3-7):
 *
 *     U+0000..U+007F     00..7F
 *     U+0080..U+07FF     C2..DF  80..BF
 *     U+0800..U+0FFF     E0      A0..BF  80..BF     (E0 80..9F would be overlong)
 *     U+1000..U+CFFF     E1..EC  80..BF  80..BF
 *     U+D000..U+D7FF     ED      80..9F  80..BF     (ED A0..BF would be a surrogate)
 *     U+E000..U+FFFF     EE..EF  80..BF  80..BF
 *     U+10000..U+3FFFF   F0      90..BF  80..BF  80..BF   (F0 80..8F overlong)
 *     U+40000..U+FFFFF   F1..F3  80..BF  80..BF  80..BF
 *     U+100000..U+10FFFF F4      80..8F  80..BF  80..BF   (F4 90.. is > U+10FFFF)
 *
 * Everything else is ill-formed: C0, C1 and F5..FF never appear, a continuation byte
 * never starts a sequence, and a sequence cut short by the end of input is truncated.
 * Checking the second byte's range per lead byte rejects overlongs, surrogates and
 * out-of-range code points without decoding first.
 *
 * md_utf8_valid reports the offset of the lead byte of the first ill-formed sequence
 * (for a stray continuation byte, that byte), so bytes[0..*bad_offset) is always the
 * longest valid prefix and a caller may keep it. md_utf8_decode replaces an
 * ill-formed sequence by U+FFFD one byte at a time, so a decoder loop always advances.
 *
 * Folding maps a code point to at most two lower-case ASCII bytes for text matching:
 * ASCII itself (letters lower-cased), the letters of Latin-1 Supplement and Latin
 * Extended-A to their base letter (two for ligatures: ß ss, æ ae, œ oe, ĳ ij, þ th),
 * typographic quotes to ' and ", dashes and the minus sign to '-', and Unicode spaces
 * to ' '. Anything else folds to nothing (returns 0).
 */
#include "medify/base.h"

#include <string.h>

#define UTF8_MAX_CODE_POINT 0x10FFFFu
#define UTF8_REPLACEMENT 0xFFFDu

/* Allowed range of the second byte for each lead byte, from the table above; the
 * third and fourth bytes are always 80..BF. n_bytes == 0 marks an invalid lead. */
typedef struct utf8_lead {
    uint8_t n_bytes;
    uint8_t lo, hi; /* second byte range */
} utf8_lead;

static utf8_lead utf8_lead_of(unsigned char c) {
    if (c < 0x80) return (utf8_lead){1, 0, 0};
    if (c < 0xC2) return (utf8_lead){0, 0, 0}; /* continuation, or overlong C0/C1 */
    if (c < 0xE0) return (utf8_lead){2, 0x80, 0xBF};
    if (c == 0xE0) return (utf8_lead){3, 0xA0, 0xBF};
    if (c < 0xED) return (utf8_lead){3, 0x80, 0xBF};
    if (c == 0xED) return (utf8_lead){3, 0x80, 0x9F};
    if (c < 0xF0) return (utf8_lead){3, 0x80, 0xBF};
    if (c == 0xF0) return (utf8_lead){4, 0x90, 0xBF};
    if (c < 0xF4) return (utf8_lead){4, 0x80, 0xBF};
    if (c == 0xF4) return (utf8_lead){4, 0x80, 0x8F};
    return (utf8_lead){0, 0, 0}; /* F5..FF: beyond U+10FFFF or the old 5/6-byte forms */
}

/* Length of the well-formed sequence at p (1..4), or 0 when ill-formed or truncated. */
static size_t utf8_sequence_len(const unsigned char *p, size_t n_left) {
    utf8_lead lead = utf8_lead_of(p[0]);
    if (lead.n_bytes == 0 || lead.n_bytes > n_left) {
        return 0;
    }
    if (lead.n_bytes == 1) {
        return 1;
    }
    if (p[1] < lead.lo || p[1] > lead.hi) {
        return 0;
    }
    for (size_t k = 2; k < lead.n_bytes; k++) {
        if ((p[k] & 0xC0) != 0x80) {
            return 0;
        }
    }
    return lead.n_bytes;
}

bool md_utf8_valid(const char *bytes, size_t n_bytes, size_t *bad_offset) {
    const unsigned char *p = (const unsigned char *)bytes;
    size_t i = 0;
    while (i < n_bytes) {
        if (p[i] < 0x80) { /* fast path for the common case */
            i++;
            continue;
        }
        size_t n = utf8_sequence_len(p + i, n_bytes - i);
        if (n == 0) {
            if (bad_offset) {
                *bad_offset = i;
            }
            return false;
        }
        i += n;
    }
    return true;
}

uint32_t md_utf8_decode(const char **p, const char *end) {
    const unsigned char *s = (const unsigned char *)*p;
    if (*p >= end) {
        return UTF8_REPLACEMENT;
    }
    size_t n = utf8_sequence_len(s, (size_t)(end - *p));
    uint32_t cp;
    switch (n) {
    case 1:
        cp = s[0];
        break;
    case 2:
        cp = ((uint32_t)(s[0] & 0x1F) << 6) | (s[1] & 0x3F);
        break;
    case 3:
        cp = ((uint32_t)(s[0] & 0x0F) << 12) | ((uint32_t)(s[1] & 0x3F) << 6) | (s[2] & 0x3F);
        break;
    case 4:
        cp = ((uint32_t)(s[0] & 0x07) << 18) | ((uint32_t)(s[1] & 0x3F) << 12) |
             ((uint32_t)(s[2] & 0x3F) << 6) | (s[3] & 0x3F);
        break;
    default:
        *p += 1;
        return UTF8_REPLACEMENT;
    }
    *p += n;
    return cp;
}

size_t md_utf8_encode(uint32_t cp, char out[4]) {
    unsigned char *o = (unsigned char *)out;
    if (cp < 0x80) {
        o[0] = (unsigned char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (unsigned char)(0xC0 | (cp >> 6));
        o[1] = (unsigned char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp >= 0xD800 && cp <= 0xDFFF) {
        return 0; /* surrogates are not scalar values */
    }
    if (cp < 0x10000) {
        o[0] = (unsigned char)(0xE0 | (cp >> 12));
        o[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (unsigned char)(0x80 | (cp & 0x3F));
        return 3;
    }
    if (cp <= UTF8_MAX_CODE_POINT) {
        o[0] = (unsigned char)(0xF0 | (cp >> 18));
        o[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
        o[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        o[3] = (unsigned char)(0x80 | (cp & 0x3F));
        return 4;
    }
    return 0;
}

/* ---- folding ------------------------------------------------------------------- */

/* U+00C0..U+00FF, eight per row; "" for the two non-letters (× and ÷). */
static const char fold_latin1[64][3] = {
    "a",  "a", "a", "a", "a", "a", "ae", "c", /* À Á Â Ã Ä Å Æ Ç */
    "e",  "e", "e", "e", "i", "i", "i",  "i", /* È É Ê Ë Ì Í Î Ï */
    "d",  "n", "o", "o", "o", "o", "o",  "",  /* Ð Ñ Ò Ó Ô Õ Ö × */
    "o",  "u", "u", "u", "u", "y", "th", "ss", /* Ø Ù Ú Û Ü Ý Þ ß */
    "a",  "a", "a", "a", "a", "a", "ae", "c", /* à á â ã ä å æ ç */
    "e",  "e", "e", "e", "i", "i", "i",  "i", /* è é ê ë ì í î ï */
    "d",  "n", "o", "o", "o", "o", "o",  "",  /* ð ñ ò ó ô õ ö ÷ */
    "o",  "u", "u", "u", "u", "y", "th", "y", /* ø ù ú û ü ý þ ÿ */
};

/* U+0100..U+017F (Latin Extended-A: all letters), eight per row. */
static const char fold_latin_ext_a[128][3] = {
    "a", "a", "a", "a", "a", "a", "c", "c",   /* Ā ā Ă ă Ą ą Ć ć */
    "c", "c", "c", "c", "c", "c", "d", "d",   /* Ĉ ĉ Ċ ċ Č č Ď ď */
    "d", "d", "e", "e", "e", "e", "e", "e",   /* Đ đ Ē ē Ĕ ĕ Ė ė */
    "e", "e", "e", "e", "g", "g", "g", "g",   /* Ę ę Ě ě Ĝ ĝ Ğ ğ */
    "g", "g", "g", "g", "h", "h", "h", "h",   /* Ġ ġ Ģ ģ Ĥ ĥ Ħ ħ */
    "i", "i", "i", "i", "i", "i", "i", "i",   /* Ĩ ĩ Ī ī Ĭ ĭ Į į */
    "i", "i", "ij", "ij", "j", "j", "k", "k", /* İ ı Ĳ ĳ Ĵ ĵ Ķ ķ */
    "k", "l", "l", "l", "l", "l", "l", "l",   /* ĸ Ĺ ĺ Ļ ļ Ľ ľ Ŀ */
    "l", "l", "l", "n", "n", "n", "n", "n",   /* ŀ Ł ł Ń ń Ņ ņ Ň */
    "n", "n", "n", "n", "o", "o", "o", "o",   /* ň ŉ Ŋ ŋ Ō ō Ŏ ŏ */
    "o", "o", "oe", "oe", "r", "r", "r", "r", /* Ő ő Œ œ Ŕ ŕ Ŗ ŗ */
    "r", "r", "s", "s", "s", "s", "s", "s",   /* Ř ř Ś ś Ŝ ŝ Ş ş */
    "s", "s", "t", "t", "t", "t", "t", "t",   /* Š š Ţ ţ Ť ť Ŧ ŧ */
    "u", "u", "u", "u", "u", "u", "u", "u",   /* Ũ ũ Ū ū Ŭ ŭ Ů ů */
    "u", "u", "u", "u", "w", "w", "y", "y",   /* Ű ű Ų ų Ŵ ŵ Ŷ ŷ */
    "y", "z", "z", "z", "z", "z", "z", "s",   /* Ÿ Ź ź Ż ż Ž ž ſ */
};

/* Punctuation and spaces outside the letter blocks. Ranges are inclusive. */
typedef struct fold_range {
    uint32_t first, last;
    char ascii;
} fold_range;

static const fold_range fold_punct[] = {
    {0x0060, 0x0060, '\''}, /* ` grave accent used as an apostrophe */
    {0x00A0, 0x00A0, ' '},  /* no-break space */
    {0x00AB, 0x00AB, '"'},  /* « */
    {0x00B4, 0x00B4, '\''}, /* ´ acute accent used as an apostrophe */
    {0x00BB, 0x00BB, '"'},  /* » */
    {0x2000, 0x200B, ' '},  /* en quad .. zero width space */
    {0x2010, 0x2015, '-'},  /* hyphen, non-breaking hyphen, figure dash, en/em dash, bar */
    {0x2018, 0x201B, '\''}, /* ‘ ’ ‚ ‛ */
    {0x201C, 0x201E, '"'},  /* “ ” „ */
    {0x2032, 0x2032, '\''}, /* ′ prime */
    {0x2033, 0x2033, '"'},  /* ″ double prime */
    {0x2039, 0x203A, '\''}, /* ‹ › */
    {0x202F, 0x202F, ' '},  /* narrow no-break space */
    {0x205F, 0x205F, ' '},  /* medium mathematical space */
    {0x2212, 0x2212, '-'},  /* − minus sign */
    {0x3000, 0x3000, ' '},  /* ideographic space */
};

size_t md_utf8_fold(uint32_t cp, char out[2]) {
    for (size_t k = 0; k < MD_ARRAY_LEN(fold_punct); k++) {
        if (cp >= fold_punct[k].first && cp <= fold_punct[k].last) {
            out[0] = fold_punct[k].ascii;
            return 1;
        }
    }
    if (cp < 0x80) {
        out[0] = (cp >= 'A' && cp <= 'Z') ? (char)(cp - 'A' + 'a') : (char)cp;
        return 1;
    }
    const char *folded = NULL;
    if (cp >= 0x00C0 && cp <= 0x00FF) {
        folded = fold_latin1[cp - 0x00C0];
    } else if (cp >= 0x0100 && cp <= 0x017F) {
        folded = fold_latin_ext_a[cp - 0x0100];
    }
    if (!folded) {
        return 0;
    }
    size_t n = strlen(folded);
    memcpy(out, folded, n);
    return n;
}

/* ---- binary detection ---------------------------------------------------------- */

/* Text may contain a few stray control bytes (form feeds, ESC from a terminal copy);
 * above one in BINARY_CONTROL_SHARE_DEN bytes it is treated as binary. A NUL byte
 * alone is enough, as git and grep decide. */
#define BINARY_CONTROL_SHARE_DEN 10

bool md_bytes_look_binary(const char *bytes, size_t n_bytes) {
    if (n_bytes == 0) {
        return false;
    }
    if (memchr(bytes, '\0', n_bytes)) {
        return true;
    }
    size_t n_control = 0;
    for (size_t i = 0; i < n_bytes; i++) {
        unsigned char c = (unsigned char)bytes[i];
        bool whitespace = c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
        if ((c < 0x20 && !whitespace) || c == 0x7F) {
            n_control++;
        }
    }
    return n_control * BINARY_CONTROL_SHARE_DEN > n_bytes;
}
