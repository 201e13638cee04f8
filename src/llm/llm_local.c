/* The local llm backend: the GGUF decoder, its tokenizer and chat template, and the
 * sampler, behind md_llm (llm.h).
 *
 * One call: render the messages with the model's chat template (or take the prompt as
 * is), tokenize (BOS added as the model wants; template markers become control tokens
 * in chat mode only), decode the prompt, then sample, detokenize and decode one token
 * at a time until an end-of-generation token, a stop string, the caller's max_tokens,
 * a full context window, or a cancel from the callback.
 *
 * Text leaves through the hold-back gate (llm_gate.c): after each token, the earliest
 * stop string found in it ends the call with the text before it; otherwise every byte
 * is released except the longest tail that is a proper prefix of some stop string and
 * an incomplete UTF-8 character at the end. So the caller never sees part of a stop
 * string or a split character. Invalid UTF-8 a model produces (a byte token out of
 * place) is released as U+FFFD.
 *
 * The KV cache keeps the tokens of the previous call: a new prompt that starts with
 * the same tokens (the same system prompt, a longer conversation) decodes only what
 * differs. A context runs one generation at a time; callers queue on a ticket lock, so
 * they are served in arrival order (pthread mutexes promise no order).
 */
#include <pthread.h>
#include <string.h>

#include "llm/llm_internal.h"
#include "medify/llama.h"
#include "medify/sampler.h"
#include "medify/tokenizer.h"

#define LOCAL_MAX_DEFAULT_CTX 8192u /* n_ctx when the caller gives none: min(train, this) */

typedef struct local {
    md_llama_model *model;
    md_tokenizer *tok;
    md_llama_ctx *ctx;
    uint32_t n_ctx, n_vocab;
    float *logits;   /* (n_vocab) */
    int32_t *prompt; /* (n_ctx) the current call's prompt tokens */
    int32_t *cached; /* (n_ctx) the tokens whose keys and values the cache holds */
    uint32_t n_cached;
    md_chat_template tmpl;
    md_buf text, scratch;
    md_llm_gate gate; /* generated text on its way to the caller */
    /* FIFO ticket lock */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    uint64_t next_ticket, serving;
} local;

static void local_free(void *impl) {
    local *l = impl;
    if (!l) return;
    md_free(l->logits);
    md_free(l->prompt);
    md_free(l->cached);
    md_buf_free(&l->text);
    md_llm_gate_free(&l->gate);
    md_buf_free(&l->scratch);
    md_llama_ctx_free(l->ctx);
    md_tokenizer_free(l->tok);
    md_llama_free(l->model);
    pthread_cond_destroy(&l->cv);
    pthread_mutex_destroy(&l->mu);
    md_free(l);
}

static void lock_acquire(local *l) {
    pthread_mutex_lock(&l->mu);
    uint64_t ticket = l->next_ticket++;
    while (ticket != l->serving)
        pthread_cond_wait(&l->cv, &l->mu);
    pthread_mutex_unlock(&l->mu);
}

static void lock_release(local *l) {
    pthread_mutex_lock(&l->mu);
    l->serving++;
    pthread_cond_broadcast(&l->cv);
    pthread_mutex_unlock(&l->mu);
}

static double ms_since(uint64_t t0) { return (double)(md_clock_monotonic_ns() - t0) / 1e6; }

/* ---- one call ---------------------------------------------------------------------- */

static md_status tokenize_prompt(local *l, const md_llm_request *req, size_t *n_prompt, md_error *err) {
    md_buf_clear(&l->text);
    bool chat = req->msgs != NULL;
    if (chat) {
        if (l->tmpl == MD_CHAT_TEMPLATE_UNKNOWN)
            return md_error_set(err, MD_ERR_UNSUPPORTED,
                                "the model's chat template is not one medify can render; use a plain completion");
        md_chat_message *cm = md_calloc(req->n_msgs, sizeof *cm);
        if (!cm) return md_error_set(err, MD_ERR_NOMEM, "out of memory");
        for (size_t i = 0; i < req->n_msgs; i++)
            cm[i] = (md_chat_message){req->msgs[i].role, req->msgs[i].content};
        md_status st = md_chat_template_render(l->tmpl, cm, req->n_msgs, true, &l->text, err);
        md_free(cm);
        if (st != MD_OK) return st;
    } else {
        md_buf_append_str(&l->text, req->prompt);
    }
    if (!md_buf_ok(&l->text)) return md_error_set(err, MD_ERR_NOMEM, "out of memory");
    size_t n = 0;
    md_status st =
        md_tokenize(l->tok, l->text.data ? l->text.data : "", l->text.len, true, chat, l->prompt, l->n_ctx, &n);
    if (st == MD_ERR_LIMIT || (st == MD_OK && n >= l->n_ctx))
        return md_error_set(err, MD_ERR_LIMIT, "the prompt (%zu tokens) does not fit the context window of %u tokens",
                            n, l->n_ctx);
    if (st != MD_OK) return md_error_set(err, st, "tokenizing the prompt failed");
    if (n == 0) return md_error_set(err, MD_ERR_INVALID_ARG, "the prompt is empty");
    *n_prompt = n;
    return MD_OK;
}

/* Decodes the prompt into the cache, reusing the cached prefix it shares. */
static md_status decode_prompt(local *l, size_t n_prompt, md_error *err) {
    size_t common = 0;
    while (common < l->n_cached && common < n_prompt && l->cached[common] == l->prompt[common])
        common++;
    if (common == n_prompt) common--; /* the last prompt token is decoded again for its logits */
    md_llama_ctx_truncate(l->ctx, (uint32_t)common);
    l->n_cached = (uint32_t)common;
    md_status st = md_llama_decode(l->ctx, l->prompt + common, n_prompt - common, (uint32_t)common, l->logits, err);
    if (st != MD_OK) {
        md_llama_ctx_truncate(l->ctx, 0);
        l->n_cached = 0;
        return st;
    }
    memcpy(l->cached + common, l->prompt + common, (n_prompt - common) * sizeof *l->cached);
    l->n_cached = (uint32_t)n_prompt;
    return MD_OK;
}

static md_sampler_params sampler_params(const md_llm_sampling *s) {
    return (md_sampler_params){
        .temperature = s->temperature,
        .top_k = s->top_k,
        .top_p = s->top_p,
        .min_p = s->min_p,
        .repeat_penalty = s->repeat_penalty,
        .repeat_last_n = s->repeat_last_n > MD_SAMPLER_MAX_LAST_N ? MD_SAMPLER_MAX_LAST_N : s->repeat_last_n,
        .frequency_penalty = s->frequency_penalty,
        .presence_penalty = s->presence_penalty,
        .seed = s->seed,
    };
}

static md_status generate_locked(local *l, const md_llm_request *req, md_llm_usage *usage, md_error *err) {
    uint64_t t0 = md_clock_monotonic_ns();
    size_t n_prompt = 0;
    md_status st = tokenize_prompt(l, req, &n_prompt, err);
    if (st != MD_OK) return st;
    usage->prompt_tokens = (uint32_t)n_prompt;
    md_sampler *smp = NULL;
    st = md_sampler_new(l->n_vocab, sampler_params(&req->sampling), &smp, err);
    if (st != MD_OK) return st;
    size_t window = (size_t)(req->sampling.repeat_last_n > 0 ? req->sampling.repeat_last_n : 0);
    for (size_t i = n_prompt > window ? n_prompt - window : 0; i < n_prompt; i++)
        md_sampler_accept(smp, l->prompt[i]);
    st = decode_prompt(l, n_prompt, err);
    usage->prompt_ms = ms_since(t0);
    uint64_t t1 = md_clock_monotonic_ns();
    md_llm_gate_reset(&l->gate);
    const char *finish = "stop";
    bool cancelled = false;
    char piece_small[256];
    while (st == MD_OK) {
        int32_t tok = md_sampler_sample(smp, l->logits);
        if (md_tokenizer_is_eog(l->tok, tok)) break;
        md_sampler_accept(smp, tok);
        usage->completion_tokens++;
        size_t n_piece = 0;
        md_status pst = md_detokenize_piece(l->tok, tok, false, piece_small, sizeof piece_small, &n_piece);
        const char *piece = piece_small;
        if (pst == MD_ERR_LIMIT && (md_buf_clear(&l->scratch), md_buf_reserve(&l->scratch, n_piece))) {
            pst = md_detokenize_piece(l->tok, tok, false, l->scratch.data, l->scratch.cap, &n_piece);
            piece = l->scratch.data;
        }
        if (pst != MD_OK) {
            st = md_error_set(err, pst == MD_ERR_LIMIT ? MD_ERR_NOMEM : pst, "detokenizing failed");
            break;
        }
        md_llm_gate_result r = md_llm_gate_push(&l->gate, req, piece, n_piece);
        if (!md_llm_gate_ok(&l->gate)) {
            st = md_error_set(err, MD_ERR_NOMEM, "out of memory");
            break;
        }
        if (r != MD_LLM_GATE_MORE) {
            cancelled = r == MD_LLM_GATE_CANCEL;
            finish = cancelled ? "cancelled" : "stop";
            break;
        }
        if (req->sampling.max_tokens && usage->completion_tokens >= req->sampling.max_tokens) {
            finish = "length";
            break;
        }
        if (l->n_cached >= l->n_ctx) { /* the window is full: end rather than fail */
            finish = "length";
            break;
        }
        st = md_llama_decode(l->ctx, &tok, 1, l->n_cached, l->logits, err);
        if (st != MD_OK) {
            md_llama_ctx_truncate(l->ctx, 0);
            l->n_cached = 0;
            break;
        }
        l->cached[l->n_cached++] = tok;
    }
    if (st == MD_OK && !cancelled && md_llm_gate_flush(&l->gate, req) == MD_LLM_GATE_CANCEL) finish = "cancelled";
    md_llm_gate_reset(&l->gate);
    md_sampler_free(smp);
    usage->generation_ms = ms_since(t1);
    if (st == MD_OK) md_llm_usage_set_finish(usage, finish);
    return st;
}

static md_status local_generate(void *impl, const md_llm_request *req, md_llm_usage *usage, md_error *err) {
    local *l = impl;
    lock_acquire(l);
    md_status st = generate_locked(l, req, usage, err);
    lock_release(l);
    return st;
}

static const md_llm_backend k_local_backend = {local_generate, local_free};

/* ---- opening ----------------------------------------------------------------------- */

md_status md_llm_open_local(const char *model_path, const md_llm_local_params *params, md_llm **out, md_error *err) {
    if (out) *out = NULL;
    if (!model_path || !out) return md_error_set(err, MD_ERR_INVALID_ARG, "no model file given");
    local *l = md_calloc(1, sizeof *l);
    if (!l) return md_error_set(err, MD_ERR_NOMEM, "out of memory");
    if (pthread_mutex_init(&l->mu, NULL) != 0) {
        md_free(l);
        return md_error_set(err, MD_ERR_INTERNAL, "cannot create a mutex");
    }
    if (pthread_cond_init(&l->cv, NULL) != 0) {
        pthread_mutex_destroy(&l->mu);
        md_free(l);
        return md_error_set(err, MD_ERR_INTERNAL, "cannot create a condition variable");
    }
    md_buf_init(&l->text);
    md_llm_gate_init(&l->gate);
    md_buf_init(&l->scratch);
    md_status st = md_llama_load(model_path, md_llama_model_default_params(), &l->model, err);
    if (st == MD_OK) st = md_tokenizer_load(md_llama_model_gguf(l->model), &l->tok, err);
    if (st == MD_OK) {
        const md_llama_hparams *hp = md_llama_model_hparams(l->model);
        uint32_t n_ctx = params && params->n_ctx ? params->n_ctx : hp->n_ctx_train;
        if (!(params && params->n_ctx) && (n_ctx == 0 || n_ctx > LOCAL_MAX_DEFAULT_CTX))
            n_ctx = n_ctx == 0 ? MD_LLAMA_DEFAULT_N_CTX : LOCAL_MAX_DEFAULT_CTX;
        l->n_vocab = hp->n_vocab;
        if (md_tokenizer_n_tokens(l->tok) > l->n_vocab)
            st = md_error_set(err, MD_ERR_PARSE, "the tokenizer has %zu tokens, the model's vocabulary %u",
                              md_tokenizer_n_tokens(l->tok), l->n_vocab);
        md_llama_ctx_params cp = md_llama_ctx_default_params();
        cp.n_ctx = n_ctx;
        cp.n_threads = params ? params->n_threads : 0;
        if (st == MD_OK) st = md_llama_ctx_new(l->model, cp, &l->ctx, err);
        if (st == MD_OK) {
            l->n_ctx = md_llama_ctx_n_ctx(l->ctx);
            l->logits = md_calloc(l->n_vocab, sizeof *l->logits);
            l->prompt = md_calloc(l->n_ctx, sizeof *l->prompt);
            l->cached = md_calloc(l->n_ctx, sizeof *l->cached);
            if (!l->logits || !l->prompt || !l->cached) st = md_error_set(err, MD_ERR_NOMEM, "out of memory");
        }
        md_tokenizer_chat_template(l->tok, &l->tmpl);
    }
    if (st != MD_OK) {
        local_free(l);
        return st;
    }
    const char *base = strrchr(model_path, '/');
    base = base ? base + 1 : model_path;
    md_buf name;
    md_buf_init(&name);
    md_buf_appendf(&name, "local:%s", base);
    if (!md_buf_ok(&name)) {
        local_free(l);
        return md_error_set(err, MD_ERR_NOMEM, "out of memory");
    }
    st = md_llm_wrap(&k_local_backend, l, name.data, out, err);
    md_buf_free(&name);
    return st;
}
