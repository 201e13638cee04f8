/* Server-sent events (text/event-stream), both directions (llm module, private).
 *
 * The parser follows the WHATWG HTML standard, section 9.2.6 "Interpreting an event
 * stream": lines end in CRLF, LF or CR (a CR at the end of one chunk and the LF at the
 * start of the next are one line end); a line starting with ':' is a comment; "field:
 * value" drops one space after the colon; a line without a colon is a field with an
 * empty value; "data" lines accumulate, joined by '\n'; "event" names the event; a
 * blank line dispatches the event when it has data; "id" and "retry" are accepted and
 * ignored; a leading UTF-8 BOM is skipped. An event left without its blank line when
 * the stream ends is not dispatched (md_sse_parser_idle tells the caller).
 *
 * Input arrives in chunks of any size and split anywhere; every byte is looked at
 * once. Lines and events are bounded (max_event_bytes) so a hostile stream cannot
 * grow memory without limit.
 *
 * The writer side formats events the same way (`medify model serve` streams with it).
 */
#ifndef MEDIFY_LLM_SSE_H
#define MEDIFY_LLM_SSE_H

#include "medify/base.h"

#define MD_SSE_DEFAULT_MAX_EVENT_BYTES (4u << 20)

/* Called once per dispatched event: event is the "event" field ("message" when none),
 * data the joined data lines (NUL-terminated, n_data bytes, no final '\n'). Return
 * false to stop parsing: md_sse_feed then returns at once and ignores later input. */
typedef bool (*md_sse_event_fn)(const char *event, const char *data, size_t n_data, void *ctx);

typedef struct md_sse_parser {
    md_buf line;  /* the current, unfinished line */
    md_buf data;  /* data lines of the current event, each followed by '\n' */
    md_buf event; /* the current event's name */
    size_t max_event_bytes;
    uint64_t n_events; /* dispatched so far */
    bool cr_pending;   /* the last byte seen was a CR */
    bool bom_checked;
    bool stopped; /* a callback returned false */
} md_sse_parser;

/* max_event_bytes 0: MD_SSE_DEFAULT_MAX_EVENT_BYTES. Free with md_sse_parser_free. */
void md_sse_parser_init(md_sse_parser *p, size_t max_event_bytes);
void md_sse_parser_free(md_sse_parser *p);

/* Feeds bytes[0..n). Errors: MD_ERR_TOO_LARGE (a line or an event above the bound),
 * MD_ERR_NOMEM. After an error or a stop the parser ignores further input. */
md_status md_sse_feed(md_sse_parser *p, const char *bytes, size_t n, md_sse_event_fn fn, void *ctx, md_error *err);

/* True when no partial line or undispatched data is buffered (the stream ended at an
 * event boundary). */
bool md_sse_parser_idle(const md_sse_parser *p);

/* Appends one event: "event: NAME\n" when event is non-NULL, one "data: " line per
 * line of data (a '\n', '\r' or "\r\n" inside data starts a new data line), then the
 * blank line. */
void md_sse_write_event(md_buf *out, const char *event, const char *data, size_t n_data);
/* Appends ": text\n" (a comment; keeps idle connections alive). text has no newline. */
void md_sse_write_comment(md_buf *out, const char *text);

#endif /* MEDIFY_LLM_SSE_H */
