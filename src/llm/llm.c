/* The llm module's front: defaults, argument checks, opening from the environment, and
 * dispatch to the local (llm_local.c) or remote (llm_remote.c) backend (llm.h).
 *
 * Every check that does not depend on the backend happens here, once, before anything
 * is generated or sent: a message with an unknown role, text that is not UTF-8 or an
 * empty stop string is refused with MD_ERR_INVALID_ARG whichever backend runs.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "llm/llm_internal.h"

struct md_llm {
    const md_llm_backend *vt;
    void *impl;
    char *name;
};

md_llm_sampling md_llm_sampling_default(void) {
    return (md_llm_sampling){
        .temperature = 0.8f,
        .top_k = 40,
        .top_p = 0.95f,
        .min_p = 0.05f,
        .repeat_penalty = 1.0f,
        .repeat_last_n = 64,
        .frequency_penalty = 0.0f,
        .presence_penalty = 0.0f,
        .seed = 0,
        .max_tokens = 0,
        .stop = {NULL},
    };
}

md_status md_llm_wrap(const md_llm_backend *vt, void *impl, const char *name, md_llm **out, md_error *err) {
    *out = NULL;
    md_llm *llm = md_calloc(1, sizeof *llm);
    char *copy = md_strdup(name ? name : "");
    if (!llm || !copy) {
        md_free(llm);
        md_free(copy);
        vt->free(impl);
        return md_error_set(err, MD_ERR_NOMEM, "out of memory");
    }
    llm->vt = vt;
    llm->impl = impl;
    llm->name = copy;
    *out = llm;
    return MD_OK;
}

void md_llm_free(md_llm *llm) {
    if (!llm) return;
    llm->vt->free(llm->impl);
    md_free(llm->name);
    md_free(llm);
}

const char *md_llm_name(const md_llm *llm) { return llm ? llm->name : ""; }

void md_llm_usage_set_finish(md_llm_usage *usage, const char *reason) {
    size_t n = strlen(reason);
    if (n >= sizeof usage->finish_reason) n = sizeof usage->finish_reason - 1;
    memcpy(usage->finish_reason, reason, n);
    usage->finish_reason[n] = '\0';
}

bool md_llm_emit(const md_llm_request *req, const char *piece, size_t len) {
    if (len == 0) return true;
    if (req->out) md_buf_append(req->out, piece, len);
    return req->on_piece ? req->on_piece(piece, len, req->ctx) : true;
}

#ifdef MEDIFY_NO_ENGINE
md_status md_llm_open_local(const char *model_path, const md_llm_local_params *params, md_llm **out, md_error *err) {
    (void)model_path;
    (void)params;
    if (out) *out = NULL;
    return md_error_set(err, MD_ERR_UNSUPPORTED,
                        "this medify was built without the inference engine (MEDIFY_ENGINE=OFF)");
}
#endif

/* ---- environment -------------------------------------------------------------------- */

static const char *env_nonempty(const char *name) {
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

static md_status env_u32(const char *name, uint32_t *out, md_error *err) {
    const char *v = env_nonempty(name);
    if (!v) return MD_OK;
    char *end = NULL;
    unsigned long x = strtoul(v, &end, 10);
    if (end == v || *end || v[0] == '-' || x > UINT32_MAX)
        return md_error_set(err, MD_ERR_CONFIG, "%s: '%s' is not a non-negative integer", name, v);
    *out = (uint32_t)x;
    return MD_OK;
}

md_status md_llm_open_from_env(md_llm **out, md_error *err) {
    *out = NULL;
    const char *model = env_nonempty("MEDIFY_LLM_MODEL"), *url = env_nonempty("MEDIFY_LLM_URL");
    if (model && url)
        return md_error_set(err, MD_ERR_CONFIG, "set MEDIFY_LLM_MODEL (local) or MEDIFY_LLM_URL (remote), not both");
    if (model) {
        md_llm_local_params lp = {0};
        uint32_t n_threads = 0;
        md_status st = env_u32("MEDIFY_LLM_N_CTX", &lp.n_ctx, err);
        if (st == MD_OK) st = env_u32("MEDIFY_LLM_THREADS", &n_threads, err);
        if (st != MD_OK) return st;
        lp.n_threads = (int)(n_threads > 4096 ? 4096 : n_threads);
        return md_llm_open_local(model, &lp, out, err);
    }
    if (url) {
        md_llm_remote_params rp = {0};
        rp.model = env_nonempty("MEDIFY_LLM_REMOTE_MODEL");
        rp.api_key = env_nonempty("MEDIFY_LLM_API_KEY");
        md_status st = env_u32("MEDIFY_LLM_TIMEOUT_MS", &rp.timeout_ms, err);
        if (st == MD_OK) st = env_u32("MEDIFY_LLM_IDLE_TIMEOUT_MS", &rp.idle_timeout_ms, err);
        if (st != MD_OK) return st;
        rp.max_retries = -1; /* the default */
        return md_llm_open_remote(url, &rp, out, err);
    }
    return MD_OK;
}

/* ---- calls -------------------------------------------------------------------------- */

static md_status check_text(const char *what, const char *s, md_error *err) {
    if (!s) return md_error_set(err, MD_ERR_INVALID_ARG, "%s is missing", what);
    size_t bad = 0;
    if (!md_utf8_valid(s, strlen(s), &bad))
        return md_error_set(err, MD_ERR_INVALID_ARG, "%s is not valid UTF-8 (byte %zu)", what, bad);
    return MD_OK;
}

static md_status prepare(md_llm *llm, const md_llm_sampling *sampling, md_llm_piece_fn on_piece, void *ctx, md_buf *out,
                         md_llm_usage *usage, md_llm_request *req, md_error *err) {
    if (usage) memset(usage, 0, sizeof *usage);
    if (!llm) return md_error_set(err, MD_ERR_INVALID_ARG, "no model");
    req->sampling = sampling ? *sampling : md_llm_sampling_default();
    req->on_piece = on_piece;
    req->ctx = ctx;
    req->out = out;
    const md_llm_sampling *s = &req->sampling;
    if (isnan(s->temperature) || isnan(s->top_p) || isnan(s->min_p) || isnan(s->repeat_penalty) ||
        isnan(s->frequency_penalty) || isnan(s->presence_penalty))
        return md_error_set(err, MD_ERR_INVALID_ARG, "a sampling parameter is NaN");
    if (!(s->repeat_penalty > 0.0f)) return md_error_set(err, MD_ERR_INVALID_ARG, "repeat_penalty must be > 0");
    if (s->repeat_last_n < 0) return md_error_set(err, MD_ERR_INVALID_ARG, "repeat_last_n must be >= 0");
    req->n_stop = 0;
    while (req->n_stop < MD_LLM_MAX_STOP && s->stop[req->n_stop]) {
        if (!s->stop[req->n_stop][0])
            return md_error_set(err, MD_ERR_INVALID_ARG, "stop string %zu is empty", req->n_stop + 1);
        md_status st = check_text("a stop string", s->stop[req->n_stop], err);
        if (st != MD_OK) return st;
        req->n_stop++;
    }
    return MD_OK;
}

static md_status run(md_llm *llm, md_llm_request *req, md_llm_usage *usage, md_error *err) {
    md_llm_usage local_usage = {0};
    md_llm_usage *u = usage ? usage : &local_usage;
    memset(u, 0, sizeof *u);
    md_status st = llm->vt->generate(llm->impl, req, u, err);
    if (st == MD_OK && req->out && !md_buf_ok(req->out)) st = md_error_set(err, MD_ERR_NOMEM, "out of memory");
    if (st == MD_OK && !u->finish_reason[0]) md_llm_usage_set_finish(u, "stop");
    return st;
}

md_status md_llm_chat(md_llm *llm, const md_llm_message *msgs, size_t n_msgs, const md_llm_sampling *sampling,
                      md_llm_piece_fn on_piece, void *ctx, md_buf *out, md_llm_usage *usage, md_error *err) {
    md_llm_request req = {0};
    md_status st = prepare(llm, sampling, on_piece, ctx, out, usage, &req, err);
    if (st != MD_OK) return st;
    if (!msgs || n_msgs == 0) return md_error_set(err, MD_ERR_INVALID_ARG, "a chat needs at least one message");
    for (size_t i = 0; i < n_msgs; i++) {
        const char *r = msgs[i].role;
        if (!r || (strcmp(r, "system") != 0 && strcmp(r, "user") != 0 && strcmp(r, "assistant") != 0))
            return md_error_set(err, MD_ERR_INVALID_ARG, "message %zu: role must be system, user or assistant", i + 1);
        st = check_text("a message's content", msgs[i].content, err);
        if (st != MD_OK) return st;
    }
    req.msgs = msgs;
    req.n_msgs = n_msgs;
    return run(llm, &req, usage, err);
}

md_status md_llm_complete(md_llm *llm, const char *prompt, const md_llm_sampling *sampling, md_llm_piece_fn on_piece,
                          void *ctx, md_buf *out, md_llm_usage *usage, md_error *err) {
    md_llm_request req = {0};
    md_status st = prepare(llm, sampling, on_piece, ctx, out, usage, &req, err);
    if (st != MD_OK) return st;
    st = check_text("the prompt", prompt, err);
    if (st != MD_OK) return st;
    req.prompt = prompt;
    return run(llm, &req, usage, err);
}

md_llm_local_params md_llm_local_default_params(void) { return (md_llm_local_params){0}; }
