/* buf.c: growable NUL-terminated byte buffer, and JSON string escaping.
 *
 * Capacity doubles (from BUF_MIN_CAP) so n appends cost O(n) amortised. The buffer is
 * "sticky-failed" in the manner of a stdio error flag: the first allocation failure
 * sets b->failed, every later append is a no-op, and the caller checks md_buf_ok once
 * after a long run of appends. A failed buffer still holds valid memory (whatever was
 * appended before the failure) and md_buf_free releases it.
 *
 * Invariants: cap == 0 and data == NULL, or len < cap and data[len] == '\0'.
 *
 * md_buf_append_json_str writes an RFC 8259 string literal (sec. 7): '"' and '\\' and
 * the control characters U+0000..U+001F are escaped (the short forms \b \f \n \r \t
 * where they exist, \u00XX otherwise). Valid UTF-8 passes through unchanged; each byte
 * that does not start a valid UTF-8 sequence becomes \ufffd, so the output is always
 * valid JSON even for hostile input.
 */
#include "medify/base.h"

#include <string.h>

#define BUF_MIN_CAP 64

void md_buf_init(md_buf *b) {
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->failed = false;
}

void md_buf_free(md_buf *b) {
    md_free(b->data);
    md_buf_init(b);
}

void md_buf_clear(md_buf *b) {
    b->len = 0;
    if (b->data) {
        b->data[0] = '\0';
    }
    b->failed = false;
}

bool md_buf_reserve(md_buf *b, size_t n_extra_bytes) {
    if (b->failed) {
        return false;
    }
    /* need = len + n_extra_bytes + 1 (for the NUL), without overflow */
    if (n_extra_bytes > SIZE_MAX - 1 - b->len) {
        b->failed = true;
        return false;
    }
    size_t need = b->len + n_extra_bytes + 1;
    if (need <= b->cap) {
        return true;
    }
    size_t cap = b->cap ? b->cap : BUF_MIN_CAP;
    while (cap < need) {
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    }
    char *data = md_realloc(b->data, cap);
    if (!data) {
        b->failed = true;
        return false;
    }
    b->data = data;
    b->cap = cap;
    b->data[b->len] = '\0';
    return true;
}

void md_buf_append(md_buf *b, const void *bytes, size_t n_bytes) {
    if (!md_buf_reserve(b, n_bytes)) {
        return;
    }
    if (n_bytes) {
        memcpy(b->data + b->len, bytes, n_bytes);
    }
    b->len += n_bytes;
    b->data[b->len] = '\0';
}

void md_buf_append_str(md_buf *b, const char *s) {
    md_buf_append(b, s, s ? strlen(s) : 0);
}

void md_buf_append_char(md_buf *b, char c) {
    md_buf_append(b, &c, 1);
}

void md_buf_vappendf(md_buf *b, const char *fmt, va_list ap) {
    if (!md_buf_reserve(b, 0)) {
        return;
    }
    va_list ap_try;
    va_copy(ap_try, ap);
    size_t room = b->cap - b->len; /* includes the byte for the NUL */
    int n = vsnprintf(b->data + b->len, room, fmt, ap_try);
    va_end(ap_try);
    if (n < 0) {
        b->data[b->len] = '\0';
        b->failed = true;
        return;
    }
    if ((size_t)n >= room) {
        if (!md_buf_reserve(b, (size_t)n)) {
            b->data[b->len] = '\0'; /* drop the truncated attempt */
            return;
        }
        va_list ap_again;
        va_copy(ap_again, ap);
        vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap_again);
        va_end(ap_again);
    }
    b->len += (size_t)n;
}

void md_buf_appendf(md_buf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    md_buf_vappendf(b, fmt, ap);
    va_end(ap);
}

/* Length of the valid UTF-8 sequence at p (1..4), or 0 if the byte at p does not
 * start one. */
static size_t utf8_seq_len(const char *p, const char *end) {
    const char *q = p;
    uint32_t cp = md_utf8_decode(&q, end);
    size_t n = (size_t)(q - p);
    if (cp == 0xFFFD && n == 1) {
        return 0;
    }
    return n;
}

void md_buf_append_json_str(md_buf *b, const char *s, size_t n_bytes) {
    static const char hex[] = "0123456789abcdef";
    md_buf_append_char(b, '"');
    const char *p = s;
    const char *end = s ? s + n_bytes : s;
    while (p < end && !b->failed) {
        /* Copy the longest run that needs no escaping in one append. */
        const char *run = p;
        while (p < end) {
            unsigned char c = (unsigned char)*p;
            if (c < 0x20 || c == '"' || c == '\\') {
                break;
            }
            if (c < 0x80) {
                p++;
                continue;
            }
            size_t n = utf8_seq_len(p, end);
            if (n == 0) {
                break;
            }
            p += n;
        }
        md_buf_append(b, run, (size_t)(p - run));
        if (p >= end) {
            break;
        }
        unsigned char c = (unsigned char)*p++;
        switch (c) {
        case '"': md_buf_append(b, "\\\"", 2); break;
        case '\\': md_buf_append(b, "\\\\", 2); break;
        case '\b': md_buf_append(b, "\\b", 2); break;
        case '\f': md_buf_append(b, "\\f", 2); break;
        case '\n': md_buf_append(b, "\\n", 2); break;
        case '\r': md_buf_append(b, "\\r", 2); break;
        case '\t': md_buf_append(b, "\\t", 2); break;
        default:
            if (c < 0x20) {
                char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 0xF]};
                md_buf_append(b, esc, sizeof(esc));
            } else {
                md_buf_append(b, "\\ufffd", 6); /* a byte that starts no valid sequence */
            }
            break;
        }
    }
    md_buf_append_char(b, '"');
}

bool md_buf_ok(const md_buf *b) {
    return !b->failed;
}

char *md_buf_steal(md_buf *b) {
    if (b->failed) {
        md_buf_free(b);
        return NULL;
    }
    char *data = b->data;
    md_buf_init(b);
    if (!data) {
        data = md_malloc(1);
        if (data) {
            data[0] = '\0';
        }
    }
    return data;
}
