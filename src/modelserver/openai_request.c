/* openai_request.c: OpenAI chat and completion request bodies → md_llm arguments.
 *
 * The schema is OpenAI's (https://platform.openai.com/docs/api-reference/chat/create,
 * /completions/create). Clients send more than medify uses ("user", "logit_bias",
 * "tools", "metadata", ...) and expect such fields to be ignored, so unknown names are
 * not errors. Fields medify does use are strict: the right JSON type, a range, and a
 * message naming the field when not. JSON null counts as absent, as OpenAI treats it.
 * Requests medify cannot honour are refused rather than half-served: n > 1, best_of
 * > 1, logprobs, echo.
 *
 *   model              string (any: the server serves one model)
 *   messages           chat: non-empty array of {role, content}; role system, user,
 *                      assistant (developer counts as system); content a string or an
 *                      array of {"type":"text","text":...} parts (joined by newlines)
 *   prompt             completions: a string or an array holding one string
 *   max_tokens         integer >= 1 (max_completion_tokens is its newer name)
 *   temperature        0..2          top_p        0..1 (0: greedy)
 *   frequency_penalty  -2..2         presence_penalty  -2..2
 *   stop               a string or an array of up to MD_LLM_MAX_STOP non-empty strings
 *   seed               integer
 *   top_k, min_p, repeat_penalty   llama.cpp server extensions, same meaning as there
 *   stream             boolean;  stream_options.include_usage  boolean
 */
#include <string.h>

#include "modelserver/modelserver_internal.h"

#define MAX_MESSAGES     4096
#define MAX_TOKENS_LIMIT (1u << 20) /* far beyond any context; bounds the field, not the model */

const char *ms_json_type_name(const json_t *v) {
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER:
    case JSON_REAL: return "a number";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    case JSON_NULL: return "null";
    }
    return "a value";
}

/* The field's value, or NULL when absent or null. */
static json_t *field(json_t *obj, const char *name) {
    json_t *v = json_object_get(obj, name);
    return v && !json_is_null(v) ? v : NULL;
}

static md_status get_number(json_t *root, const char *name, double lo, double hi, float *out, md_error *err) {
    json_t *v = field(root, name);
    if (!v) return MD_OK;
    if (!json_is_number(v))
        return md_error_set(err, MD_ERR_INVALID_ARG, "field '%s' must be a number, got %s", name, ms_json_type_name(v));
    double x = json_number_value(v);
    if (!(x >= lo && x <= hi))
        return md_error_set(err, MD_ERR_INVALID_ARG, "field '%s' must be from %g to %g, got %g", name, lo, hi, x);
    *out = (float)x;
    return MD_OK;
}

static md_status get_int(json_t *root, const char *name, json_int_t lo, json_int_t hi, json_int_t *out,
                         bool *present, md_error *err) {
    json_t *v = field(root, name);
    *present = v != NULL;
    if (!v) return MD_OK;
    if (!json_is_integer(v))
        return md_error_set(err, MD_ERR_INVALID_ARG, "field '%s' must be an integer, got %s", name,
                            json_is_real(v) ? "a fractional number" : ms_json_type_name(v));
    json_int_t x = json_integer_value(v);
    if (x < lo || x > hi)
        return md_error_set(err, MD_ERR_INVALID_ARG, "field '%s' must be from %lld to %lld, got %lld", name,
                            (long long)lo, (long long)hi, (long long)x);
    *out = x;
    return MD_OK;
}

static md_status decode_stop(json_t *root, md_llm_sampling *s, md_error *err) {
    json_t *v = field(root, "stop");
    if (!v) return MD_OK;
    if (json_is_string(v)) {
        if (json_string_length(v) == 0) return md_error_set(err, MD_ERR_INVALID_ARG, "field 'stop' must not be empty");
        s->stop[0] = json_string_value(v);
        return MD_OK;
    }
    if (!json_is_array(v))
        return md_error_set(err, MD_ERR_INVALID_ARG, "field 'stop' must be a string or an array of strings, got %s",
                            ms_json_type_name(v));
    size_t n = json_array_size(v);
    if (n > MD_LLM_MAX_STOP)
        return md_error_set(err, MD_ERR_INVALID_ARG, "field 'stop' has %zu strings; at most %d are accepted", n,
                            MD_LLM_MAX_STOP);
    for (size_t i = 0; i < n; i++) {
        json_t *item = json_array_get(v, i);
        if (!json_is_string(item) || json_string_length(item) == 0)
            return md_error_set(err, MD_ERR_INVALID_ARG, "field 'stop[%zu]' must be a non-empty string", i);
        s->stop[i] = json_string_value(item);
    }
    return MD_OK;
}

static md_status decode_sampling(json_t *root, md_llm_sampling *s, md_error *err) {
    md_status st;
    json_int_t k = 0;
    bool present = false;
    if ((st = get_int(root, "max_tokens", 1, MAX_TOKENS_LIMIT, &k, &present, err)) != MD_OK) return st;
    if (present) s->max_tokens = (uint32_t)k;
    if ((st = get_int(root, "max_completion_tokens", 1, MAX_TOKENS_LIMIT, &k, &present, err)) != MD_OK) return st;
    if (present) s->max_tokens = (uint32_t)k;
    if ((st = get_number(root, "temperature", 0, 2, &s->temperature, err)) != MD_OK) return st;
    float top_p = s->top_p;
    if ((st = get_number(root, "top_p", 0, 1, &top_p, err)) != MD_OK) return st;
    if (top_p <= 0) s->temperature = 0; /* only the most likely token is left */
    s->top_p = top_p;
    if ((st = get_number(root, "frequency_penalty", -2, 2, &s->frequency_penalty, err)) != MD_OK) return st;
    if ((st = get_number(root, "presence_penalty", -2, 2, &s->presence_penalty, err)) != MD_OK) return st;
    if ((st = get_number(root, "min_p", 0, 1, &s->min_p, err)) != MD_OK) return st;
    if ((st = get_number(root, "repeat_penalty", 0, 10, &s->repeat_penalty, err)) != MD_OK) return st;
    if ((st = get_int(root, "top_k", 0, 1 << 20, &k, &present, err)) != MD_OK) return st;
    if (present) s->top_k = (int32_t)k;
    json_t *seed = field(root, "seed");
    if (seed) {
        if (!json_is_integer(seed))
            return md_error_set(err, MD_ERR_INVALID_ARG, "field 'seed' must be an integer, got %s",
                                json_is_real(seed) ? "a fractional number" : ms_json_type_name(seed));
        s->seed = (uint64_t)json_integer_value(seed);
    }
    return decode_stop(root, s, err);
}

/* What medify cannot do is refused by name rather than silently ignored. */
static md_status check_unsupported(json_t *root, bool chat, md_error *err) {
    md_status st;
    json_int_t k = 1;
    bool present = false;
    if ((st = get_int(root, "n", 1, 1 << 20, &k, &present, err)) != MD_OK) return st;
    if (k != 1)
        return md_error_set(err, MD_ERR_INVALID_ARG, "field 'n' is %lld; this server returns one choice (n must be 1)",
                            (long long)k);
    if (!chat) {
        if ((st = get_int(root, "best_of", 1, 1 << 20, &k, &present, err)) != MD_OK) return st;
        if (k != 1) return md_error_set(err, MD_ERR_INVALID_ARG, "field 'best_of' must be 1 on this server");
        json_t *echo = field(root, "echo");
        if (echo && !json_is_boolean(echo))
            return md_error_set(err, MD_ERR_INVALID_ARG, "field 'echo' must be a boolean, got %s",
                                ms_json_type_name(echo));
        if (echo && json_is_true(echo))
            return md_error_set(err, MD_ERR_INVALID_ARG, "field 'echo' is not supported on this server");
    }
    json_t *lp = field(root, "logprobs");
    if (lp && !(json_is_false(lp) || (json_is_integer(lp) && json_integer_value(lp) == 0)))
        return md_error_set(err, MD_ERR_INVALID_ARG, "field 'logprobs' is not supported on this server");
    json_t *model = field(root, "model");
    if (model && !json_is_string(model))
        return md_error_set(err, MD_ERR_INVALID_ARG, "field 'model' must be a string, got %s",
                            ms_json_type_name(model));
    return MD_OK;
}

static md_status decode_stream(json_t *root, ms_gen *g, md_error *err) {
    json_t *v = field(root, "stream");
    if (v) {
        if (!json_is_boolean(v))
            return md_error_set(err, MD_ERR_INVALID_ARG, "field 'stream' must be a boolean, got %s",
                                ms_json_type_name(v));
        g->stream = json_is_true(v);
    }
    json_t *so = field(root, "stream_options");
    if (!so) return MD_OK;
    if (!json_is_object(so))
        return md_error_set(err, MD_ERR_INVALID_ARG, "field 'stream_options' must be an object, got %s",
                            ms_json_type_name(so));
    json_t *iu = field(so, "include_usage");
    if (iu && !json_is_boolean(iu))
        return md_error_set(err, MD_ERR_INVALID_ARG, "field 'stream_options.include_usage' must be a boolean, got %s",
                            ms_json_type_name(iu));
    g->include_usage = iu && json_is_true(iu);
    return MD_OK;
}

/* A content array of text parts, joined by newlines into the arena. */
static md_status decode_content_parts(ms_gen *g, json_t *arr, size_t i_msg, const char **out, md_error *err) {
    md_buf joined;
    md_buf_init(&joined);
    md_buf_append_str(&joined, ""); /* "" for an empty array */
    size_t n = json_array_size(arr);
    for (size_t i = 0; i < n; i++) {
        json_t *part = json_array_get(arr, i);
        json_t *type = json_is_object(part) ? field(part, "type") : NULL;
        json_t *text = json_is_object(part) ? field(part, "text") : NULL;
        if (!type || !json_is_string(type) || strcmp(json_string_value(type), "text") != 0 || !text ||
            !json_is_string(text)) {
            md_buf_free(&joined);
            return md_error_set(err, MD_ERR_INVALID_ARG,
                                "field 'messages[%zu].content[%zu]' must be {\"type\":\"text\",\"text\":string}; "
                                "only text parts are supported",
                                i_msg, i);
        }
        if (i) md_buf_append_char(&joined, '\n');
        md_buf_append(&joined, json_string_value(text), json_string_length(text));
    }
    *out = md_buf_ok(&joined) ? md_arena_strndup(&g->arena, joined.data, joined.len) : NULL;
    md_buf_free(&joined);
    return *out ? MD_OK : md_error_set(err, MD_ERR_NOMEM, "out of memory");
}

static md_status decode_messages(json_t *root, ms_gen *g, md_error *err) {
    json_t *v = field(root, "messages");
    if (!v) return md_error_set(err, MD_ERR_INVALID_ARG, "field 'messages' is required");
    if (!json_is_array(v))
        return md_error_set(err, MD_ERR_INVALID_ARG, "field 'messages' must be an array, got %s", ms_json_type_name(v));
    size_t n = json_array_size(v);
    if (n == 0) return md_error_set(err, MD_ERR_INVALID_ARG, "field 'messages' must not be empty");
    if (n > MAX_MESSAGES)
        return md_error_set(err, MD_ERR_TOO_LARGE, "field 'messages' has %zu items; at most %d are accepted", n,
                            MAX_MESSAGES);
    g->msgs = md_arena_calloc(&g->arena, n, sizeof *g->msgs);
    if (!g->msgs) return md_error_set(err, MD_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        json_t *m = json_array_get(v, i);
        if (!json_is_object(m))
            return md_error_set(err, MD_ERR_INVALID_ARG, "field 'messages[%zu]' must be an object, got %s", i,
                                ms_json_type_name(m));
        json_t *role = field(m, "role"), *content = field(m, "content");
        if (!role || !json_is_string(role))
            return md_error_set(err, MD_ERR_INVALID_ARG, "field 'messages[%zu].role' must be a string", i);
        const char *r = json_string_value(role);
        if (strcmp(r, "developer") == 0) r = "system";
        if (strcmp(r, "system") != 0 && strcmp(r, "user") != 0 && strcmp(r, "assistant") != 0)
            return md_error_set(err, MD_ERR_INVALID_ARG,
                                "field 'messages[%zu].role': '%.40s' is not supported (system, user, assistant)", i,
                                json_string_value(role));
        const char *text = NULL;
        if (!content) {
            text = ""; /* an assistant turn that only called tools */
        } else if (json_is_string(content)) {
            text = json_string_value(content);
        } else if (json_is_array(content)) {
            md_status st = decode_content_parts(g, content, i, &text, err);
            if (st != MD_OK) return st;
        } else {
            return md_error_set(err, MD_ERR_INVALID_ARG,
                                "field 'messages[%zu].content' must be a string or an array of text parts, got %s", i,
                                ms_json_type_name(content));
        }
        g->msgs[i] = (md_llm_message){.role = r, .content = text};
    }
    g->n_msgs = n;
    return MD_OK;
}

static md_status decode_prompt(json_t *root, ms_gen *g, md_error *err) {
    json_t *v = field(root, "prompt");
    if (!v) return md_error_set(err, MD_ERR_INVALID_ARG, "field 'prompt' is required");
    if (json_is_array(v)) {
        if (json_array_size(v) != 1 || !json_is_string(json_array_get(v, 0)))
            return md_error_set(err, MD_ERR_INVALID_ARG,
                                "field 'prompt' must be a string or an array of one string (batches and token "
                                "arrays are not supported)");
        v = json_array_get(v, 0);
    }
    if (!json_is_string(v))
        return md_error_set(err, MD_ERR_INVALID_ARG, "field 'prompt' must be a string, got %s", ms_json_type_name(v));
    g->prompt = json_string_value(v);
    return MD_OK;
}

md_status ms_gen_decode(const char *body, size_t n_bytes, bool chat, ms_gen *g, md_error *err) {
    memset(g, 0, sizeof *g);
    md_arena_init(&g->arena, 4096);
    g->chat = chat;
    g->sampling = md_llm_sampling_default();
    if (!body || n_bytes == 0) return md_error_set(err, MD_ERR_EMPTY, "the request body is empty; send a JSON object");
    size_t bad = 0;
    if (!md_utf8_valid(body, n_bytes, &bad))
        return md_error_set(err, MD_ERR_UTF8, "the request body is not valid UTF-8 (byte %zu)", bad);
    json_error_t jerr;
    g->root = json_loadb(body, n_bytes, JSON_REJECT_DUPLICATES, &jerr);
    if (!g->root)
        return md_error_set(err, MD_ERR_PARSE, "malformed JSON at line %d, column %d: %s", jerr.line, jerr.column,
                            jerr.text);
    if (!json_is_object(g->root))
        return md_error_set(err, MD_ERR_INVALID_ARG, "the request body must be a JSON object, got %s",
                            ms_json_type_name(g->root));
    md_status st = check_unsupported(g->root, chat, err);
    if (st == MD_OK) st = chat ? decode_messages(g->root, g, err) : decode_prompt(g->root, g, err);
    if (st == MD_OK) st = decode_sampling(g->root, &g->sampling, err);
    if (st == MD_OK) st = decode_stream(g->root, g, err);
    return st;
}

void ms_gen_free(ms_gen *g) {
    if (g->root) json_decref(g->root);
    g->root = NULL;
    md_arena_free(&g->arena);
    g->msgs = NULL;
    g->prompt = NULL;
}
