/* medify llm: one text-generation interface, two backends (llm module).
 *
 *   local   the built-in GGUF engine (llama.h + tokenizer.h + the sampler below),
 *           opened from a model file: md_llm_open_local
 *   remote  any OpenAI-compatible HTTP endpoint (vLLM, TGI, llama.cpp server, Ollama,
 *           `medify model serve`, a SageMaker proxy) over libcurl: md_llm_open_remote
 *
 * Callers (reports, report questions, `medify llm generate`, `medify model serve`) see
 * only md_llm_chat / md_llm_complete: the same parameters, the same streaming
 * callback, the same usage accounting, whichever backend runs.
 *
 * Generation ends at the model's end-of-turn / end-of-generation token, at a stop
 * string (the stop string itself is not returned), when the callback asks to stop, or
 * after max_tokens when the caller set one (finish_reason "length"). With max_tokens 0
 * the only budget is the context window, so text never ends mid-word because of a
 * budget nobody asked for.
 *
 * Threads: an md_llm may be called from several threads; the local backend runs one
 * generation at a time (calls queue on a fair FIFO lock), the remote backend runs
 * them concurrently.
 */
#ifndef MEDIFY_LLM_H
#define MEDIFY_LLM_H

#include "medify/base.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MD_LLM_MAX_STOP 8

typedef struct md_llm_message {
    const char *role; /* "system", "user", "assistant" */
    const char *content;
} md_llm_message;

/* Sampling. Defaults (md_llm_sampling_default): temperature 0.8, top_k 40, top_p 0.95,
 * min_p 0.05, repeat_penalty 1.0 (off) over the last 64 tokens, frequency and presence
 * penalties 0, seed 0 (= fixed default seed, so runs are reproducible unless the caller
 * varies it), max_tokens 0 (no budget but the context). temperature <= 0 is greedy. */
typedef struct md_llm_sampling {
    float temperature;
    int32_t top_k; /* <= 0: off */
    float top_p;   /* >= 1: off */
    float min_p;   /* <= 0: off */
    float repeat_penalty;
    int32_t repeat_last_n;
    float frequency_penalty;
    float presence_penalty;
    uint64_t seed;
    uint32_t max_tokens;
    const char *stop[MD_LLM_MAX_STOP]; /* NULL-terminated or full */
} md_llm_sampling;

md_llm_sampling md_llm_sampling_default(void);

/* Token accounting and timing of one call. */
typedef struct md_llm_usage {
    uint32_t prompt_tokens;
    uint32_t completion_tokens;
    double prompt_ms;       /* prompt processing (local) or time to first token (remote) */
    double generation_ms;   /* the rest */
    char finish_reason[16]; /* "stop", "length", "cancelled" */
} md_llm_usage;

/* Streaming: called with each new piece of text as it becomes final (UTF-8, never a
 * split character, never part of a stop string). Return false to cancel (the call
 * then returns MD_OK with finish_reason "cancelled"). */
typedef bool (*md_llm_piece_fn)(const char *piece, size_t len, void *ctx);

typedef struct md_llm md_llm;

typedef struct md_llm_local_params {
    uint32_t n_ctx; /* 0: min(model's n_ctx_train, 8192) */
    int n_threads;  /* decoding threads (md_llama_ctx_params.n_threads); 0: all cores */
} md_llm_local_params;

md_llm_local_params md_llm_local_default_params(void); /* all 0: the defaults above */

typedef struct md_llm_remote_params {
    const char *model;           /* "model" field sent; NULL: the server's default */
    const char *api_key;         /* Authorization: Bearer; NULL: none */
    uint32_t connect_timeout_ms; /* default 5000 */
    uint32_t timeout_ms;         /* whole request, default 120000 */
    uint32_t idle_timeout_ms;    /* no byte for this long (waiting or streaming): MD_ERR_TIMEOUT; default 30000 */
    int max_retries;             /* on connect errors, 429 and 5xx before any byte streamed; default 2;
                                    0: no retry; < 0: the default */
} md_llm_remote_params;

/* Zero timeouts mean the defaults above; md_llm_remote_default_params() gives them
 * explicitly (model and api_key NULL, max_retries 2). */
md_llm_remote_params md_llm_remote_default_params(void);

/* Opens a local GGUF decoder. Errors: those of md_llama_load / md_tokenizer_load. */
md_status md_llm_open_local(const char *model_path, const md_llm_local_params *params, md_llm **out, md_error *err);
/* base_url like "http://127.0.0.1:8081" (the /v1/... paths are appended). Nothing is
 * contacted until the first call. */
md_status md_llm_open_remote(const char *base_url, const md_llm_remote_params *params, md_llm **out, md_error *err);
/* Opens what the environment configures: MEDIFY_LLM_MODEL (a GGUF path, local) or
 * MEDIFY_LLM_URL (remote, with MEDIFY_LLM_API_KEY / MEDIFY_LLM_REMOTE_MODEL). *out is
 * NULL and MD_OK returned when neither is set. */
md_status md_llm_open_from_env(md_llm **out, md_error *err);
void md_llm_free(md_llm *llm);

/* "local:<file name>" or "remote:<url>", for logs and reports. */
const char *md_llm_name(const md_llm *llm);

/* Chat: messages rendered with the model's chat template (local) or sent as is
 * (remote). The whole answer is appended to out (may be NULL when streaming only);
 * on_piece may be NULL. usage may be NULL. Errors: MD_ERR_INVALID_ARG (no messages,
 * a bad role, invalid UTF-8), MD_ERR_LIMIT (the prompt does not fit the context),
 * MD_ERR_IO / MD_ERR_TIMEOUT / MD_ERR_PARSE (remote: connection, timeout, malformed
 * answer or SSE stream — the message says which), MD_ERR_UNAVAILABLE (remote answered
 * 5xx/429 after all retries), MD_ERR_UNAUTHORIZED / MD_ERR_FORBIDDEN / MD_ERR_NOT_FOUND
 * (remote HTTP 401 / 403 / 404, with the server's message), MD_ERR_UNSUPPORTED (local:
 * a chat template medify does not render). Text already streamed stays streamed.
 * docs/llm.md has the whole table. */
md_status md_llm_chat(md_llm *llm, const md_llm_message *msgs, size_t n_msgs, const md_llm_sampling *sampling,
                      md_llm_piece_fn on_piece, void *ctx, md_buf *out, md_llm_usage *usage, md_error *err);
/* Plain completion of a prompt (no template). Same contract as md_llm_chat. */
md_status md_llm_complete(md_llm *llm, const char *prompt, const md_llm_sampling *sampling, md_llm_piece_fn on_piece,
                          void *ctx, md_buf *out, md_llm_usage *usage, md_error *err);

#ifdef __cplusplus
}
#endif

#endif /* MEDIFY_LLM_H */
