/* Server-sent events: an incremental parser and a writer (sse.h).
 *
 * The parser keeps two buffers: the unfinished line and the data of the unfinished
 * event. Input is scanned for the next CR or LF; the run before it is appended to the
 * line in one copy, and the line end finishes the line. A CR remembers that a LF may
 * follow (CRLF is one line end even when split between two chunks).
 */
#include "llm/sse.h"

#include <string.h>

void md_sse_parser_init(md_sse_parser *p, size_t max_event_bytes) {
    memset(p, 0, sizeof *p);
    md_buf_init(&p->line);
    md_buf_init(&p->data);
    md_buf_init(&p->event);
    p->max_event_bytes = max_event_bytes ? max_event_bytes : MD_SSE_DEFAULT_MAX_EVENT_BYTES;
}

void md_sse_parser_free(md_sse_parser *p) {
    if (!p) return;
    md_buf_free(&p->line);
    md_buf_free(&p->data);
    md_buf_free(&p->event);
}

bool md_sse_parser_idle(const md_sse_parser *p) { return p->line.len == 0 && p->data.len == 0; }

static void strip_bom(md_sse_parser *p) {
    if (p->line.len >= 3 && memcmp(p->line.data, "\xEF\xBB\xBF", 3) == 0) {
        memmove(p->line.data, p->line.data + 3, p->line.len - 3);
        p->line.len -= 3;
        p->line.data[p->line.len] = '\0';
    }
    p->bom_checked = true;
}

/* Finishes the current line. Returns MD_OK, or an error; sets p->stopped on a stop. */
static md_status end_line(md_sse_parser *p, md_sse_event_fn fn, void *ctx, md_error *err) {
    if (!p->bom_checked) strip_bom(p);
    const char *s = p->line.data ? p->line.data : "";
    size_t n = p->line.len;
    md_status st = MD_OK;
    if (n == 0) { /* blank line: dispatch */
        if (p->data.len > 0) {
            p->data.len--; /* the '\n' after the last data line */
            p->data.data[p->data.len] = '\0';
            const char *name = p->event.len ? p->event.data : "message";
            p->n_events++;
            if (fn && !fn(name, p->data.data, p->data.len, ctx)) p->stopped = true;
        }
        md_buf_clear(&p->data);
        md_buf_clear(&p->event);
    } else if (s[0] != ':') { /* a field; a line starting with ':' is a comment */
        const char *colon = memchr(s, ':', n);
        size_t n_field = colon ? (size_t)(colon - s) : n;
        const char *value = colon ? colon + 1 : s + n;
        size_t n_value = colon ? n - n_field - 1 : 0;
        if (n_value > 0 && value[0] == ' ') {
            value++;
            n_value--;
        }
        if (n_field == 4 && memcmp(s, "data", 4) == 0) {
            if (p->data.len + n_value + 1 > p->max_event_bytes) {
                st =
                    md_error_set(err, MD_ERR_TOO_LARGE, "event stream: an event exceeds %zu bytes", p->max_event_bytes);
            } else {
                md_buf_append(&p->data, value, n_value);
                md_buf_append_char(&p->data, '\n');
            }
        } else if (n_field == 5 && memcmp(s, "event", 5) == 0) {
            md_buf_clear(&p->event);
            md_buf_append(&p->event, value, n_value);
        } /* "id", "retry" and unknown fields are ignored, as the standard says */
        if (st == MD_OK && (!md_buf_ok(&p->data) || !md_buf_ok(&p->event)))
            st = md_error_set(err, MD_ERR_NOMEM, "out of memory");
    }
    md_buf_clear(&p->line);
    return st;
}

md_status md_sse_feed(md_sse_parser *p, const char *bytes, size_t n, md_sse_event_fn fn, void *ctx, md_error *err) {
    size_t i = 0;
    while (i < n && !p->stopped) {
        char c = bytes[i];
        if (p->cr_pending) {
            p->cr_pending = false;
            if (c == '\n') { /* the LF of a CRLF */
                i++;
                continue;
            }
        }
        if (c == '\r' || c == '\n') {
            p->cr_pending = c == '\r';
            i++;
            md_status st = end_line(p, fn, ctx, err);
            if (st != MD_OK) {
                p->stopped = true;
                return st;
            }
            continue;
        }
        size_t j = i;
        while (j < n && bytes[j] != '\r' && bytes[j] != '\n')
            j++;
        if (p->line.len + (j - i) > p->max_event_bytes) {
            p->stopped = true;
            return md_error_set(err, MD_ERR_TOO_LARGE, "event stream: a line exceeds %zu bytes", p->max_event_bytes);
        }
        md_buf_append(&p->line, bytes + i, j - i);
        if (!md_buf_ok(&p->line)) {
            p->stopped = true;
            return md_error_set(err, MD_ERR_NOMEM, "out of memory");
        }
        if (!p->bom_checked && p->line.len >= 3) strip_bom(p);
        i = j;
    }
    return MD_OK;
}

void md_sse_write_event(md_buf *out, const char *event, const char *data, size_t n_data) {
    if (event) {
        md_buf_append_str(out, "event: ");
        md_buf_append_str(out, event);
        md_buf_append_char(out, '\n');
    }
    size_t i = 0;
    for (;;) {
        size_t j = i;
        while (j < n_data && data[j] != '\n' && data[j] != '\r')
            j++;
        md_buf_append(out, "data: ", 6);
        md_buf_append(out, data + i, j - i);
        md_buf_append_char(out, '\n');
        if (j >= n_data) break;
        i = j + 1 + (data[j] == '\r' && j + 1 < n_data && data[j + 1] == '\n');
        if (i > n_data) break;
    }
    md_buf_append_char(out, '\n');
}

void md_sse_write_comment(md_buf *out, const char *text) {
    md_buf_append_str(out, ": ");
    md_buf_append_str(out, text);
    md_buf_append_char(out, '\n');
}
