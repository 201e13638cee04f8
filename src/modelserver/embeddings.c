/* embeddings.c: POST /v1/embeddings (https://platform.openai.com/docs/api-reference/
 * embeddings/create) over the server's embedder.
 *
 *   input             a string or an array of 1..MD_MODELSERVER_MAX_EMBED_INPUTS
 *                     strings, none empty (token arrays are refused)
 *   encoding_format   "float" (default) or "base64" (the little-endian float32 bytes,
 *                     RFC 4648 sec. 4, which OpenAI's Python client asks for)
 *   dimensions        when given, must equal the model's dimension
 *   model, user       accepted and ignored
 *
 * Answer: {"object":"list","data":[{"object":"embedding","index":i,"embedding":...}],
 * "model":...,"usage":{"prompt_tokens":n,"total_tokens":n}}. Without an embedder the
 * route answers 404 not_found, as OpenAI does for a model it does not serve. Embedding
 * takes a turn in the model FIFO like generation: both compete for the same cores.
 */
#include <math.h>
#include <string.h>

#include "modelserver/modelserver_internal.h"

static const char k_b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static void append_base64(md_buf *b, const unsigned char *p, size_t n) {
    md_buf_append_char(b, '"');
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16;
        if (i + 1 < n) v |= (uint32_t)p[i + 1] << 8;
        if (i + 2 < n) v |= p[i + 2];
        char q[4] = {k_b64[(v >> 18) & 63], k_b64[(v >> 12) & 63], i + 1 < n ? k_b64[(v >> 6) & 63] : '=',
                     i + 2 < n ? k_b64[v & 63] : '='};
        md_buf_append(b, q, 4);
    }
    md_buf_append_char(b, '"');
}

static void append_floats(md_buf *b, const float *v, uint32_t n) {
    md_buf_append_char(b, '[');
    for (uint32_t i = 0; i < n; i++)
        md_buf_appendf(b, "%s%.9g", i ? "," : "", (double)v[i]);
    md_buf_append_char(b, ']');
}

static void append_base64_floats(md_buf *b, const float *v, uint32_t n) {
    unsigned char bytes[4 * 64];
    md_buf tmp;
    md_buf_init(&tmp);
    for (uint32_t i = 0; i < n; i += 64) {
        uint32_t k = n - i < 64 ? n - i : 64;
        for (uint32_t j = 0; j < k; j++) {
            uint32_t u;
            memcpy(&u, &v[i + j], 4);
            bytes[4 * j] = (unsigned char)u; /* little-endian whatever the host */
            bytes[4 * j + 1] = (unsigned char)(u >> 8);
            bytes[4 * j + 2] = (unsigned char)(u >> 16);
            bytes[4 * j + 3] = (unsigned char)(u >> 24);
        }
        md_buf_append(&tmp, bytes, 4 * (size_t)k);
    }
    append_base64(b, (const unsigned char *)(tmp.data ? tmp.data : ""), md_buf_ok(&tmp) ? tmp.len : 0);
    if (!md_buf_ok(&tmp)) b->failed = true;
    md_buf_free(&tmp);
}

typedef struct embed_req {
    json_t *inputs[MD_MODELSERVER_MAX_EMBED_INPUTS];
    size_t n;
    bool base64;
} embed_req;

static md_status decode(ms_request *r, json_t *root, embed_req *q, md_error *err) {
    if (!json_is_object(root))
        return md_error_set(err, MD_ERR_INVALID_ARG, "the request body must be a JSON object, got %s",
                            ms_json_type_name(root));
    json_t *in = json_object_get(root, "input");
    if (!in || json_is_null(in)) return md_error_set(err, MD_ERR_INVALID_ARG, "field 'input' is required");
    if (json_is_string(in)) {
        q->inputs[0] = in;
        q->n = 1;
    } else if (json_is_array(in)) {
        size_t n = json_array_size(in);
        if (n == 0) return md_error_set(err, MD_ERR_INVALID_ARG, "field 'input' must not be an empty array");
        if (n > MD_MODELSERVER_MAX_EMBED_INPUTS)
            return md_error_set(err, MD_ERR_TOO_LARGE, "field 'input' has %zu items; at most %d are accepted", n,
                                MD_MODELSERVER_MAX_EMBED_INPUTS);
        for (size_t i = 0; i < n; i++) {
            json_t *item = json_array_get(in, i);
            if (!json_is_string(item))
                return md_error_set(err, MD_ERR_INVALID_ARG,
                                    "field 'input[%zu]' must be a string, got %s (token arrays are not supported)", i,
                                    ms_json_type_name(item));
            q->inputs[i] = item;
        }
        q->n = n;
    } else {
        return md_error_set(err, MD_ERR_INVALID_ARG, "field 'input' must be a string or an array of strings, got %s",
                            ms_json_type_name(in));
    }
    for (size_t i = 0; i < q->n; i++)
        if (json_string_length(q->inputs[i]) == 0)
            return md_error_set(err, MD_ERR_INVALID_ARG, "field 'input%s' must not be an empty string",
                                json_is_array(in) ? "[...]" : "");
    json_t *fmt = json_object_get(root, "encoding_format");
    if (fmt && !json_is_null(fmt)) {
        const char *f = json_is_string(fmt) ? json_string_value(fmt) : "";
        if (strcmp(f, "base64") == 0) q->base64 = true;
        else if (strcmp(f, "float") != 0)
            return md_error_set(err, MD_ERR_INVALID_ARG, "field 'encoding_format' must be \"float\" or \"base64\"");
    }
    json_t *dims = json_object_get(root, "dimensions");
    if (dims && !json_is_null(dims) &&
        (!json_is_integer(dims) || json_integer_value(dims) != (json_int_t)r->srv->params.embed_n_dim))
        return md_error_set(err, MD_ERR_INVALID_ARG, "field 'dimensions' must be %u, the model's dimension",
                            r->srv->params.embed_n_dim);
    json_t *model = json_object_get(root, "model");
    if (model && !json_is_null(model) && !json_is_string(model))
        return md_error_set(err, MD_ERR_INVALID_ARG, "field 'model' must be a string, got %s",
                            ms_json_type_name(model));
    return MD_OK;
}

static md_status embed_all(ms_request *r, const embed_req *q, md_error *err) {
    md_modelserver *s = r->srv;
    uint32_t dim = s->params.embed_n_dim;
    float *vec = md_calloc(dim, sizeof *vec);
    if (!vec) return md_error_set(err, MD_ERR_NOMEM, "out of memory");
    md_buf *b = &r->resp;
    md_buf_append_str(b, "{\"object\":\"list\",\"data\":[");
    uint64_t n_tokens = 0;
    md_status st = MD_OK;
    for (size_t i = 0; i < q->n && st == MD_OK; i++) {
        uint32_t n_tok = 0;
        st = s->params.embed(s->params.embed_ctx, json_string_value(q->inputs[i]), json_string_length(q->inputs[i]),
                             vec, &n_tok, err);
        if (st != MD_OK) break;
        for (uint32_t k = 0; k < dim; k++)
            if (!isfinite(vec[k])) {
                st = md_error_set(err, MD_ERR_INTERNAL, "the embedding of input %zu is not finite", i);
                break;
            }
        if (st != MD_OK) break;
        n_tokens += n_tok;
        md_buf_appendf(b, "%s{\"object\":\"embedding\",\"index\":%zu,\"embedding\":", i ? "," : "", i);
        if (q->base64) append_base64_floats(b, vec, dim);
        else append_floats(b, vec, dim);
        md_buf_append_char(b, '}');
    }
    md_free(vec);
    if (st != MD_OK) {
        md_buf_clear(b);
        return st;
    }
    atomic_fetch_add_explicit(&s->metrics.embedded_tokens, n_tokens, memory_order_relaxed);
    r->prompt_tokens = (uint32_t)(n_tokens > UINT32_MAX ? UINT32_MAX : n_tokens);
    md_buf_append_str(b, "],\"model\":");
    md_buf_append_json_str(b, s->embed_model_id, strlen(s->embed_model_id));
    md_buf_appendf(b, ",\"usage\":{\"prompt_tokens\":%llu,\"total_tokens\":%llu}}", (unsigned long long)n_tokens,
                   (unsigned long long)n_tokens);
    return md_buf_ok(b) ? MD_OK : md_error_set(err, MD_ERR_NOMEM, "out of memory");
}

md_status ms_handle_embeddings(ms_request *r, md_error *err) {
    md_modelserver *s = r->srv;
    if (!s->params.embed)
        return md_error_set(err, MD_ERR_NOT_FOUND,
                            "this server has no embedding model (start it with --embed-model FILE.gguf)");
    const char *body = r->body.data;
    size_t n = r->body.len, bad = 0;
    if (!body || n == 0) return md_error_set(err, MD_ERR_EMPTY, "the request body is empty; send a JSON object");
    if (!md_utf8_valid(body, n, &bad))
        return md_error_set(err, MD_ERR_UTF8, "the request body is not valid UTF-8 (byte %zu)", bad);
    json_error_t jerr;
    json_t *root = json_loadb(body, n, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return md_error_set(err, MD_ERR_PARSE, "malformed JSON at line %d, column %d: %s", jerr.line, jerr.column,
                            jerr.text);
    embed_req *q = md_calloc(1, sizeof *q);
    md_status st = q ? decode(r, root, q, err) : md_error_set(err, MD_ERR_NOMEM, "out of memory");
    uint64_t ticket = 0;
    if (st == MD_OK && !ms_fifo_admit(&s->fifo, &ticket)) {
        r->retry_after = true;
        st = md_error_set(err, MD_ERR_UNAVAILABLE, "the model is busy: %d requests are already waiting; retry later",
                          s->params.max_queue);
    } else if (st == MD_OK) {
        ms_fifo_wait(&s->fifo, ticket);
        st = atomic_load(&s->aborting) ? md_error_set(err, MD_ERR_UNAVAILABLE, "the server is shutting down")
                                       : embed_all(r, q, err);
        ms_fifo_done(&s->fifo, ticket);
    }
    md_free(q);
    json_decref(root);
    return st;
}
