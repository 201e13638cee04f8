/* The llm module's backend interface (private to src/llm).
 *
 * md_llm_chat and md_llm_complete (llm.c) check the arguments once (roles, UTF-8,
 * stop strings), fill in defaults, zero the usage, and hand one md_llm_request to the
 * backend's generate function. A backend streams pieces through on_piece and appends
 * them to out, fills usage, and returns a status with err set. */
#ifndef MEDIFY_LLM_INTERNAL_H
#define MEDIFY_LLM_INTERNAL_H

#include "medify/llm.h"

typedef struct md_llm_request {
    const md_llm_message *msgs; /* chat: n_msgs > 0; completion: NULL */
    size_t n_msgs;
    const char *prompt; /* completion: the prompt; chat: NULL */
    md_llm_sampling sampling;
    size_t n_stop; /* sampling.stop[0..n_stop) are non-empty strings */
    md_llm_piece_fn on_piece;
    void *ctx;
    md_buf *out;
} md_llm_request;

typedef struct md_llm_backend {
    md_status (*generate)(void *impl, const md_llm_request *req, md_llm_usage *usage, md_error *err);
    void (*free)(void *impl);
} md_llm_backend;

/* Wraps a backend instance; takes ownership of impl (freed through vt->free, also on
 * failure). name is copied. */
md_status md_llm_wrap(const md_llm_backend *vt, void *impl, const char *name, md_llm **out, md_error *err);

/* Sets usage->finish_reason (truncated to fit). */
void md_llm_usage_set_finish(md_llm_usage *usage, const char *reason);

/* Hands a piece to the caller: appends it to req->out and calls req->on_piece.
 * Returns false when the caller cancelled. */
bool md_llm_emit(const md_llm_request *req, const char *piece, size_t len);

/* The hold-back gate between generated text and the caller (llm_gate.c). Generated
 * bytes are pushed in; what is final is released through md_llm_emit: the earliest
 * stop string ends the text (MD_LLM_GATE_STOP, the text before it released), and
 * otherwise everything is released but the longest tail that is a proper prefix of a
 * stop string and an incomplete UTF-8 character at the end. Invalid UTF-8 is released
 * as U+FFFD. Both backends use it, so a remote server that ignores "stop" still never
 * shows one. Buffers are kept across resets (no allocation once warmed up). */
typedef struct md_llm_gate {
    md_buf pending; /* pushed, not yet released */
    md_buf scratch; /* the U+FFFD rewrite of invalid text */
} md_llm_gate;

typedef enum md_llm_gate_result {
    MD_LLM_GATE_MORE = 0,   /* go on generating */
    MD_LLM_GATE_STOP = 1,   /* a stop string was reached */
    MD_LLM_GATE_CANCEL = 2, /* the caller's callback returned false */
} md_llm_gate_result;

void md_llm_gate_init(md_llm_gate *g);
void md_llm_gate_free(md_llm_gate *g);
void md_llm_gate_reset(md_llm_gate *g); /* forgets pending text, keeps memory */
md_llm_gate_result md_llm_gate_push(md_llm_gate *g, const md_llm_request *req, const char *bytes, size_t n);
/* Releases everything still held (generation ended: no stop string can complete). */
md_llm_gate_result md_llm_gate_flush(md_llm_gate *g, const md_llm_request *req);
/* False after an allocation failure (text may have been lost). */
bool md_llm_gate_ok(const md_llm_gate *g);

#endif /* MEDIFY_LLM_INTERNAL_H */
