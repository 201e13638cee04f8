/* The local llm backend on the fixtures' tiny Llama model (llm.h, llm_local.c).
 *
 * The reference continuation is computed here from the engine itself: the prompt is
 * tokenized and decoded, then the arg-max of md_llama_decode's logits is taken token
 * by token. md_llm_complete at temperature 0 must produce exactly its text; that
 * reference must in turn match llama.cpp's greedy tokens (ref/<model>.greedy.json) up
 * to the first step whose top-2 logit gap is below 0.01 (fixtures README, sec. 4.5).
 * Then: stop strings cut exactly, pieces concatenate to the text, max_tokens, a full
 * context ends with "length", cancel from the callback, chat, seeds, threads.
 * Skips (77) when ../shared/fixtures is absent. */
#include <jansson.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "medify/llama.h"
#include "medify/llm.h"
#include "medify/tokenizer.h"

#define MODEL_NAME    "tiny-llama-f32"
#define N_GEN         32
#define GAP_THRESHOLD 0.01 /* fixtures README 4.5, F32 */

static char g_model[1024], g_ref[1024];
static char *g_prompt;               /* the fixture's prompt text */
static int32_t g_ref_ids[N_GEN];     /* our arg-max continuation */
static size_t g_n_ref;               /* tokens before an end-of-generation token */
static md_buf g_ref_text[N_GEN + 1]; /* sanitized text of the first k tokens */

/* Text as md_llm releases it: invalid UTF-8 becomes U+FFFD. */
static void sanitize(const char *s, size_t n, md_buf *out) {
    const char *p = s, *end = s + n;
    while (p < end) {
        char enc[4];
        size_t k = md_utf8_encode(md_utf8_decode(&p, end), enc);
        md_buf_append(out, enc, k);
    }
    md_buf_append_str(out, "");
}

static bool compute_reference(void) {
    md_error err = {0};
    md_llama_model *model = NULL;
    md_tokenizer *tok = NULL;
    md_llama_ctx *ctx = NULL;
    bool ok = false;
    json_t *root = json_load_file(g_ref, 0, NULL);
    CHECK_MSG(root != NULL, "cannot read %s", g_ref);
    if (!root) return false;
    g_prompt = strdup(json_string_value(json_object_get(root, "prompt_text")));
    json_t *pids = json_object_get(root, "prompt_ids"), *gids = json_object_get(root, "generated_ids"),
           *steps = json_object_get(root, "steps");
    CHECK(md_llama_load(g_model, md_llama_model_default_params(), &model, &err) == MD_OK);
    if (model) CHECK(md_tokenizer_load(md_llama_model_gguf(model), &tok, &err) == MD_OK);
    md_llama_ctx_params cp = md_llama_ctx_default_params();
    cp.n_ctx = 512;
    if (tok) CHECK(md_llama_ctx_new(model, cp, &ctx, &err) == MD_OK);
    if (ctx && g_prompt) {
        int32_t ids[128];
        size_t n = 0;
        CHECK(md_tokenize(tok, g_prompt, strlen(g_prompt), true, false, ids, 128, &n) == MD_OK);
        CHECK_EQ_INT(n, json_array_size(pids));
        for (size_t i = 0; i < n && i < json_array_size(pids); i++)
            CHECK_EQ_INT(ids[i], json_integer_value(json_array_get(pids, i)));
        uint32_t n_vocab = md_llama_model_hparams(model)->n_vocab;
        float *logits = malloc(n_vocab * sizeof *logits);
        CHECK(md_llama_decode(ctx, ids, n, 0, logits, &err) == MD_OK);
        md_buf raw;
        md_buf_init(&raw);
        bool diverged = false;
        for (size_t k = 0; k < N_GEN; k++) {
            int32_t best = 0;
            for (uint32_t v = 1; v < n_vocab; v++)
                if (logits[v] > logits[best]) best = (int32_t)v;
            json_t *step = json_array_get(steps, k);
            double gap = json_real_value(json_object_get(step, "gap"));
            if (gap < GAP_THRESHOLD) diverged = true; /* a near tie: llama.cpp may have picked the other */
            if (!diverged)
                CHECK_MSG(best == json_integer_value(json_array_get(gids, k)), "step %zu: %d vs llama.cpp %lld", k,
                          best, (long long)json_integer_value(json_array_get(gids, k)));
            if (md_tokenizer_is_eog(tok, best)) break;
            g_ref_ids[g_n_ref++] = best;
            CHECK(md_detokenize(tok, &best, 1, false, &raw) == MD_OK);
            sanitize(raw.data ? raw.data : "", raw.len, &g_ref_text[g_n_ref]);
            if (k + 1 < N_GEN) CHECK(md_llama_decode(ctx, &best, 1, (uint32_t)(n + k), logits, &err) == MD_OK);
        }
        md_buf_append_str(&g_ref_text[0], "");
        md_buf_free(&raw);
        free(logits);
        ok = g_n_ref > 20;
        CHECK_MSG(ok, "the reference ended after %zu tokens", g_n_ref);
    }
    json_decref(root);
    md_llama_ctx_free(ctx);
    md_tokenizer_free(tok);
    md_llama_free(model);
    return ok;
}

static md_llm_sampling greedy(uint32_t max_tokens) {
    md_llm_sampling s = md_llm_sampling_default();
    s.temperature = 0.0f;
    s.max_tokens = max_tokens;
    return s;
}

typedef struct pieces {
    md_buf all;
    int n, cancel_at;
    bool all_valid;
    const char *must_not_contain;
} pieces;

static bool on_piece(const char *piece, size_t len, void *ctx) {
    pieces *p = ctx;
    p->n++;
    if (!md_utf8_valid(piece, len, NULL)) p->all_valid = false;
    md_buf_append(&p->all, piece, len);
    md_buf_append_str(&p->all, "");
    if (p->must_not_contain && strstr(p->all.data, p->must_not_contain)) p->all_valid = false;
    return !(p->cancel_at && p->n >= p->cancel_at);
}

static void test_greedy(md_llm *llm) {
    md_buf out;
    md_buf_init(&out);
    md_llm_usage u;
    md_error err = {0};
    pieces p = {.all_valid = true};
    md_buf_init(&p.all);
    md_llm_sampling s = greedy((uint32_t)g_n_ref);
    CHECK_MSG(md_llm_complete(llm, g_prompt, &s, on_piece, &p, &out, &u, &err) == MD_OK, "%s", err.message);
    CHECK_MSG(out.data && strcmp(out.data, g_ref_text[g_n_ref].data) == 0, "greedy text \"%s\" vs \"%s\"", out.data,
              g_ref_text[g_n_ref].data);
    CHECK(p.all.data && out.data && strcmp(p.all.data, out.data) == 0); /* pieces concatenate to the text */
    CHECK(p.all_valid);
    CHECK(p.n > 1);
    CHECK_EQ_INT(u.prompt_tokens, 24);
    CHECK_EQ_INT(u.completion_tokens, g_n_ref);
    CHECK_EQ_STR(u.finish_reason, "length");
    CHECK(u.prompt_ms > 0.0 && u.generation_ms > 0.0);

    /* again: the cached prompt prefix is reused, the text is the same */
    md_buf_clear(&out);
    CHECK(md_llm_complete(llm, g_prompt, &s, NULL, NULL, &out, &u, &err) == MD_OK);
    CHECK(out.data && strcmp(out.data, g_ref_text[g_n_ref].data) == 0);

    /* max_tokens 5: the first five tokens */
    md_buf_clear(&out);
    s = greedy(5);
    CHECK(md_llm_complete(llm, g_prompt, &s, NULL, NULL, &out, &u, &err) == MD_OK);
    CHECK_MSG(out.data && strcmp(out.data, g_ref_text[5].data) == 0, "\"%s\" vs \"%s\"", out.data, g_ref_text[5].data);
    CHECK_EQ_INT(u.completion_tokens, 5);
    CHECK_EQ_STR(u.finish_reason, "length");
    md_buf_free(&p.all);
    md_buf_free(&out);
}

/* A stop string taken from the middle of the reference text cuts it exactly there. */
static void test_stop(md_llm *llm) {
    const char *ref = g_ref_text[g_n_ref].data;
    size_t n = strlen(ref), at = n / 3;
    while (at + 3 < n &&
           !((unsigned char)ref[at] < 0x80 && (unsigned char)ref[at + 1] < 0x80 && (unsigned char)ref[at + 2] < 0x80))
        at++;
    CHECK(at + 3 < n);
    char stop[4] = {ref[at], ref[at + 1], ref[at + 2], 0};
    size_t first = (size_t)(strstr(ref, stop) - ref);
    md_llm_sampling s = greedy((uint32_t)g_n_ref);
    s.stop[0] = "\x01never";
    s.stop[1] = stop;
    md_buf out;
    md_buf_init(&out);
    md_llm_usage u;
    md_error err = {0};
    pieces p = {.all_valid = true, .must_not_contain = stop};
    md_buf_init(&p.all);
    CHECK(md_llm_complete(llm, g_prompt, &s, on_piece, &p, &out, &u, &err) == MD_OK);
    CHECK_EQ_INT(out.len, first);
    CHECK(out.len == first && strncmp(out.data ? out.data : "", ref, first) == 0);
    CHECK_EQ_STR(u.finish_reason, "stop");
    CHECK(p.all_valid); /* no piece ever showed the stop string */
    CHECK(p.all.len == out.len);

    /* a stop string whose beginning is the end of the text: held back, then released
     * (k tokens whose text ends in an ASCII character, so the raw text ends the same) */
    size_t k = g_n_ref;
    while (k > 1 && (g_ref_text[k].len == 0 || (unsigned char)g_ref_text[k].data[g_ref_text[k].len - 1] >= 0x80))
        k--;
    const char *rk = g_ref_text[k].data ? g_ref_text[k].data : "";
    char tail_stop[16];
    snprintf(tail_stop, sizeof tail_stop, "%cQQ\x02", rk[strlen(rk) - 1]);
    s = greedy((uint32_t)k);
    s.stop[0] = tail_stop;
    s.stop[1] = NULL;
    md_buf_clear(&out);
    md_buf_clear(&p.all);
    p.must_not_contain = NULL;
    p.n = 0;
    CHECK_MSG(md_llm_complete(llm, g_prompt, &s, on_piece, &p, &out, &u, &err) == MD_OK, "%s", err.message);
    CHECK(out.data && strcmp(out.data, rk) == 0);
    CHECK(p.all.data && strcmp(p.all.data, rk) == 0);
    CHECK_EQ_STR(u.finish_reason, "length");

    /* an empty stop string is refused before anything runs */
    s.stop[0] = "";
    CHECK(md_llm_complete(llm, g_prompt, &s, NULL, NULL, &out, &u, &err) == MD_ERR_INVALID_ARG);
    md_buf_free(&p.all);
    md_buf_free(&out);
}

static void test_cancel(md_llm *llm) {
    pieces p = {.all_valid = true, .cancel_at = 3};
    md_buf_init(&p.all);
    md_buf out;
    md_buf_init(&out);
    md_llm_usage u;
    md_llm_sampling s = greedy(0);
    CHECK(md_llm_complete(llm, g_prompt, &s, on_piece, &p, &out, &u, NULL) == MD_OK);
    CHECK_EQ_INT(p.n, 3);
    CHECK_EQ_STR(u.finish_reason, "cancelled");
    CHECK(out.data && p.all.data && strcmp(out.data, p.all.data) == 0);
    CHECK(out.data && strncmp(out.data, g_ref_text[g_n_ref].data, out.len) == 0);
    md_buf_free(&p.all);
    md_buf_free(&out);
}

static void test_context_limits(void) {
    md_llm *small = NULL;
    md_error err = {0};
    md_llm_local_params lp = md_llm_local_default_params();
    lp.n_ctx = 40;
    CHECK_MSG(md_llm_open_local(g_model, &lp, &small, &err) == MD_OK, "%s", err.message);
    if (!small) return;
    md_buf out;
    md_buf_init(&out);
    md_llm_usage u;
    md_llm_sampling s = greedy(0); /* no budget but the window */
    CHECK_MSG(md_llm_complete(small, g_prompt, &s, NULL, NULL, &out, &u, &err) == MD_OK, "%s", err.message);
    CHECK_EQ_STR(u.finish_reason, "length");
    CHECK_EQ_INT(u.completion_tokens, 40 - 24 + 1); /* the last token is sampled from a full window */
    CHECK(out.data && strcmp(out.data, g_ref_text[17].data) == 0);
    md_llm_free(small);

    lp.n_ctx = 16; /* the 24-token prompt does not fit */
    CHECK(md_llm_open_local(g_model, &lp, &small, &err) == MD_OK);
    if (small) {
        CHECK(md_llm_complete(small, g_prompt, &s, NULL, NULL, &out, &u, &err) == MD_ERR_LIMIT);
        CHECK(strstr(err.message, "24 tokens") != NULL);
        /* the context survives and serves a short prompt */
        CHECK(md_llm_complete(small, "Fever", &s, NULL, NULL, &out, &u, &err) == MD_OK);
        CHECK_EQ_STR(u.finish_reason, "length");
    }
    md_llm_free(small);
    md_buf_free(&out);
}

static void test_chat(md_llm *llm) {
    md_llm_message msgs[] = {{"system", "You are a careful clinician."}, {"user", "Fever and cough for 3 days."}};
    md_buf out;
    md_buf_init(&out);
    md_llm_usage u;
    md_error err = {0};
    md_llm_sampling s = greedy(8);
    CHECK_MSG(md_llm_chat(llm, msgs, 2, &s, NULL, NULL, &out, &u, &err) == MD_OK, "%s", err.message);
    /* the prompt is the Llama 3 rendering: BOS + two messages + the assistant header */
    md_tokenizer *tok = NULL;
    md_llama_model *model = NULL;
    CHECK(md_llama_load(g_model, md_llama_model_default_params(), &model, NULL) == MD_OK);
    if (model) CHECK(md_tokenizer_load(md_llama_model_gguf(model), &tok, NULL) == MD_OK);
    if (tok) {
        md_chat_template kind;
        md_tokenizer_chat_template(tok, &kind);
        CHECK_EQ_INT(kind, MD_CHAT_TEMPLATE_LLAMA3);
        md_buf r;
        md_buf_init(&r);
        md_chat_message cm[] = {{"system", msgs[0].content}, {"user", msgs[1].content}};
        CHECK(md_chat_template_render(kind, cm, 2, true, &r, NULL) == MD_OK);
        size_t n = 0;
        md_tokenize(tok, r.data, r.len, true, true, NULL, 0, &n);
        CHECK_EQ_INT(u.prompt_tokens, n);
        CHECK(strstr(r.data, "<|start_header_id|>assistant<|end_header_id|>") != NULL);
        md_buf_free(&r);
    }
    md_tokenizer_free(tok);
    md_llama_free(model);
    CHECK(u.completion_tokens <= 8);

    md_llm_message bad_role[] = {{"doctor", "hi"}};
    CHECK(md_llm_chat(llm, bad_role, 1, &s, NULL, NULL, &out, &u, &err) == MD_ERR_INVALID_ARG);
    md_llm_message bad_utf8[] = {{"user", "caf\xC3"}};
    CHECK(md_llm_chat(llm, bad_utf8, 1, &s, NULL, NULL, &out, &u, &err) == MD_ERR_INVALID_ARG);
    CHECK(strstr(err.message, "UTF-8") != NULL);
    CHECK(md_llm_chat(llm, msgs, 0, &s, NULL, NULL, &out, &u, &err) == MD_ERR_INVALID_ARG);
    CHECK(md_llm_complete(llm, "\xFF", &s, NULL, NULL, &out, &u, &err) == MD_ERR_INVALID_ARG);
    md_buf_free(&out);
}

static void test_seeds(md_llm *llm) {
    md_llm_sampling s = md_llm_sampling_default();
    s.temperature = 1.0f;
    s.max_tokens = 16;
    s.seed = 7;
    md_buf a, b;
    md_buf_init(&a);
    md_buf_init(&b);
    CHECK(md_llm_complete(llm, g_prompt, &s, NULL, NULL, &a, NULL, NULL) == MD_OK);
    CHECK(md_llm_complete(llm, g_prompt, &s, NULL, NULL, &b, NULL, NULL) == MD_OK);
    CHECK(a.data && b.data && strcmp(a.data, b.data) == 0); /* same seed, same text */
    md_buf_free(&a);
    md_buf_free(&b);
}

typedef struct thread_arg {
    md_llm *llm;
    bool same;
} thread_arg;

static void *worker(void *ud) {
    thread_arg *t = ud;
    md_buf out;
    md_buf_init(&out);
    md_llm_sampling s = greedy(12);
    t->same = md_llm_complete(t->llm, g_prompt, &s, NULL, NULL, &out, NULL, NULL) == MD_OK && out.data &&
              strcmp(out.data, g_ref_text[12].data) == 0;
    md_buf_free(&out);
    return NULL;
}

static void test_threads(md_llm *llm) {
    pthread_t th[3];
    thread_arg args[3];
    for (int i = 0; i < 3; i++) {
        args[i] = (thread_arg){llm, false};
        CHECK(pthread_create(&th[i], NULL, worker, &args[i]) == 0);
    }
    for (int i = 0; i < 3; i++) {
        pthread_join(th[i], NULL);
        CHECK(args[i].same);
    }
}

/* Callers queue in arrival order: while a long generation runs, three short calls
 * start 60 ms apart; they must finish in the order they started. */
typedef struct fifo_arg {
    md_llm *llm;
    uint32_t max_tokens;
    int *n_done;
    pthread_mutex_t *mu;
    int rank;
} fifo_arg;

static void *fifo_worker(void *ud) {
    fifo_arg *a = ud;
    md_llm_sampling s = greedy(a->max_tokens);
    CHECK(md_llm_complete(a->llm, g_prompt, &s, NULL, NULL, NULL, NULL, NULL) == MD_OK);
    pthread_mutex_lock(a->mu);
    a->rank = (*a->n_done)++;
    pthread_mutex_unlock(a->mu);
    return NULL;
}

static void test_fifo(md_llm *llm) {
    pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    int n_done = 0;
    fifo_arg args[4];
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        args[i] = (fifo_arg){llm, i == 0 ? 64u : 2u, &n_done, &mu, -1};
        CHECK(pthread_create(&th[i], NULL, fifo_worker, &args[i]) == 0);
        struct timespec ts = {0, (i == 0 ? 150 : 60) * 1000000L};
        nanosleep(&ts, NULL);
    }
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    if (args[0].rank == 0) { /* the long call held the lock while the others queued */
        CHECK_EQ_INT(args[1].rank, 1);
        CHECK_EQ_INT(args[2].rank, 2);
        CHECK_EQ_INT(args[3].rank, 3);
    } else {
        fprintf(stderr, "test_llm_local: the first call ended before the others queued; order not checked\n");
    }
}

int main(void) {
    const char *fx = getenv("MEDIFY_FIXTURES");
    snprintf(g_model, sizeof g_model, "%s/models/" MODEL_NAME ".gguf", fx ? fx : "../shared/fixtures");
    snprintf(g_ref, sizeof g_ref, "%s/ref/" MODEL_NAME ".greedy.json", fx ? fx : "../shared/fixtures");
    FILE *f = fopen(g_model, "rb");
    if (!f) {
        fprintf(stderr, "test_llm_local: skipped, %s is absent\n", g_model);
        return 77;
    }
    fclose(f);
    for (size_t i = 0; i <= N_GEN; i++)
        md_buf_init(&g_ref_text[i]);
    if (compute_reference()) {
        md_llm *llm = NULL;
        md_error err = {0};
        CHECK_MSG(md_llm_open_local(g_model, NULL, &llm, &err) == MD_OK, "%s", err.message);
        if (llm) {
            CHECK_EQ_STR(md_llm_name(llm), "local:" MODEL_NAME ".gguf");
            test_greedy(llm);
            test_stop(llm);
            test_cancel(llm);
            test_chat(llm);
            test_seeds(llm);
            test_threads(llm);
            test_fifo(llm);
        }
        md_llm_free(llm);
        test_context_limits();
        md_llm *none = NULL;
        CHECK(md_llm_open_local("/nonexistent/model.gguf", NULL, &none, &err) != MD_OK);
        CHECK(none == NULL);
    }
    for (size_t i = 0; i <= N_GEN; i++)
        md_buf_free(&g_ref_text[i]);
    free(g_prompt);
    return check_report("test_llm_local");
}
