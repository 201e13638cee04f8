/* The model server's request decoding (src/modelserver/openai_request.c) and its FIFO
 * (fifo_queue.c): OpenAI fields mapped onto md_llm_sampling, unknown fields ignored,
 * every refusal with its status and a message naming the field; the queue's bound
 * and its first-come-first-served order under threads. */
#include <pthread.h>
#include <string.h>

#include "check.h"
#include "modelserver/modelserver_internal.h"

static md_status decode(const char *body, bool chat, ms_gen *g, md_error *err) {
    md_error_clear(err);
    return ms_gen_decode(body, strlen(body), chat, g, err);
}

/* Decodes a body that must fail with `want`, and checks the message mentions `needle`. */
static void expect_refused(const char *body, bool chat, md_status want, const char *needle) {
    ms_gen g;
    md_error err = {0};
    md_status st = decode(body, chat, &g, &err);
    CHECK_MSG(st == want, "%s: status %s, want %s (%s)", body, md_status_name(st), md_status_name(want), err.message);
    CHECK_MSG(strstr(err.message, needle) != NULL, "%s: message '%s' lacks '%s'", body, err.message, needle);
    ms_gen_free(&g);
}

static void test_chat_fields(void) {
    ms_gen g;
    md_error err = {0};
    const char *body = "{\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"developer\",\"content\":\"Be brief.\"},"
                       "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"a\"},{\"type\":\"text\","
                       "\"text\":\"b\"}]},{\"role\":\"assistant\",\"content\":null}],"
                       "\"temperature\":0.25,\"top_p\":0.5,\"max_tokens\":7,\"seed\":42,\"stop\":[\"x\",\"yz\"],"
                       "\"frequency_penalty\":0.5,\"presence_penalty\":-1,\"top_k\":3,\"n\":1,\"user\":\"u\","
                       "\"logit_bias\":{\"1\":2},\"logprobs\":false,\"stream\":true,"
                       "\"stream_options\":{\"include_usage\":true},\"tools\":[]}";
    CHECK_EQ_INT(decode(body, true, &g, &err), MD_OK);
    CHECK_EQ_INT(g.n_msgs, 3);
    if (g.n_msgs == 3) {
        CHECK_EQ_STR(g.msgs[0].role, "system"); /* developer is the newer name of system */
        CHECK_EQ_STR(g.msgs[1].content, "a\nb");
        CHECK_EQ_STR(g.msgs[2].role, "assistant");
        CHECK_EQ_STR(g.msgs[2].content, "");
    }
    CHECK_NEAR(g.sampling.temperature, 0.25, 1e-6);
    CHECK_NEAR(g.sampling.top_p, 0.5, 1e-6);
    CHECK_EQ_INT(g.sampling.max_tokens, 7);
    CHECK_EQ_INT(g.sampling.seed, 42);
    CHECK_EQ_STR(g.sampling.stop[0], "x");
    CHECK_EQ_STR(g.sampling.stop[1], "yz");
    CHECK(g.sampling.stop[2] == NULL);
    CHECK_NEAR(g.sampling.frequency_penalty, 0.5, 1e-6);
    CHECK_NEAR(g.sampling.presence_penalty, -1, 1e-6);
    CHECK_EQ_INT(g.sampling.top_k, 3);
    CHECK(g.stream && g.include_usage && g.chat);
    ms_gen_free(&g);

    /* null is absent: defaults stay; top_p 0 means greedy */
    md_llm_sampling def = md_llm_sampling_default();
    CHECK_EQ_INT(decode("{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"temperature\":null,"
                        "\"max_tokens\":null,\"stop\":null,\"stream\":null}",
                        true, &g, &err),
                 MD_OK);
    CHECK_NEAR(g.sampling.temperature, def.temperature, 1e-6);
    CHECK_EQ_INT(g.sampling.max_tokens, def.max_tokens);
    CHECK(!g.stream && g.sampling.stop[0] == NULL);
    ms_gen_free(&g);
    CHECK_EQ_INT(decode("{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"top_p\":0}", true, &g, &err),
                 MD_OK);
    CHECK(g.sampling.temperature == 0);
    ms_gen_free(&g);
    /* max_completion_tokens is max_tokens' newer name; a single stop string */
    CHECK_EQ_INT(decode("{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"max_completion_tokens\":5,"
                        "\"stop\":\"END\"}",
                        true, &g, &err),
                 MD_OK);
    CHECK_EQ_INT(g.sampling.max_tokens, 5);
    CHECK_EQ_STR(g.sampling.stop[0], "END");
    ms_gen_free(&g);
}

static void test_completion_fields(void) {
    ms_gen g;
    md_error err = {0};
    CHECK_EQ_INT(decode("{\"prompt\":\"Once\",\"max_tokens\":3,\"echo\":false,\"best_of\":1}", false, &g, &err), MD_OK);
    CHECK_EQ_STR(g.prompt, "Once");
    CHECK(!g.chat && g.msgs == NULL);
    ms_gen_free(&g);
    CHECK_EQ_INT(decode("{\"prompt\":[\"Only one\"]}", false, &g, &err), MD_OK);
    CHECK_EQ_STR(g.prompt, "Only one");
    ms_gen_free(&g);
}

static void test_refusals(void) {
    const char *user = "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]";
    char body[512];
    expect_refused("", true, MD_ERR_EMPTY, "empty");
    expect_refused("{\"messages\":\"\xff\"}", true, MD_ERR_UTF8, "UTF-8");
    expect_refused("{\"messages\":[", true, MD_ERR_PARSE, "malformed JSON");
    expect_refused("{\"a\":1,\"a\":2}", true, MD_ERR_PARSE, "malformed JSON"); /* duplicate keys */
    expect_refused("[]", true, MD_ERR_INVALID_ARG, "JSON object");
    expect_refused("{}", true, MD_ERR_INVALID_ARG, "'messages' is required");
    expect_refused("{\"messages\":[]}", true, MD_ERR_INVALID_ARG, "must not be empty");
    expect_refused("{\"messages\":[\"hi\"]}", true, MD_ERR_INVALID_ARG, "'messages[0]'");
    expect_refused("{\"messages\":[{\"content\":\"hi\"}]}", true, MD_ERR_INVALID_ARG, "'messages[0].role'");
    expect_refused("{\"messages\":[{\"role\":\"tool\",\"content\":\"x\"}]}", true, MD_ERR_INVALID_ARG, "not supported");
    expect_refused("{\"messages\":[{\"role\":\"user\",\"content\":7}]}", true, MD_ERR_INVALID_ARG,
                   "'messages[0].content'");
    expect_refused("{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"image_url\"}]}]}", true,
                   MD_ERR_INVALID_ARG, "only text parts");
    struct {
        const char *field;
        const char *needle;
    } bad[] = {
        {"\"n\":2", "n must be 1"},
        {"\"n\":0", "'n'"},
        {"\"logprobs\":true", "'logprobs'"},
        {"\"temperature\":\"hot\"", "'temperature' must be a number"},
        {"\"temperature\":2.5", "'temperature' must be from 0 to 2"},
        {"\"top_p\":1.5", "'top_p'"},
        {"\"max_tokens\":0", "'max_tokens'"},
        {"\"max_tokens\":1.5", "fractional"},
        {"\"frequency_penalty\":3", "'frequency_penalty'"},
        {"\"presence_penalty\":-3", "'presence_penalty'"},
        {"\"seed\":\"x\"", "'seed'"},
        {"\"stop\":[\"a\",\"\"]", "'stop[1]'"},
        {"\"stop\":[\"1\",\"2\",\"3\",\"4\",\"5\",\"6\",\"7\",\"8\",\"9\"]", "at most 8"},
        {"\"stop\":5", "'stop'"},
        {"\"stream\":1", "'stream'"},
        {"\"stream_options\":{\"include_usage\":\"yes\"}", "include_usage"},
        {"\"model\":3", "'model'"},
    };
    for (size_t i = 0; i < MD_ARRAY_LEN(bad); i++) {
        snprintf(body, sizeof body, "{%s,%s}", user, bad[i].field);
        expect_refused(body, true, MD_ERR_INVALID_ARG, bad[i].needle);
    }
    expect_refused("{\"max_tokens\":3}", false, MD_ERR_INVALID_ARG, "'prompt' is required");
    expect_refused("{\"prompt\":[\"a\",\"b\"]}", false, MD_ERR_INVALID_ARG, "batches");
    expect_refused("{\"prompt\":[1,2]}", false, MD_ERR_INVALID_ARG, "token arrays");
    expect_refused("{\"prompt\":\"a\",\"echo\":true}", false, MD_ERR_INVALID_ARG, "'echo'");
    expect_refused("{\"prompt\":\"a\",\"best_of\":3}", false, MD_ERR_INVALID_ARG, "'best_of'");
}

/* ---- the FIFO ---------------------------------------------------------------------- */

typedef struct fifo_run {
    ms_fifo *q;
    uint64_t ticket;
    int id;
    pthread_mutex_t *mu;
    int *order;
    int *n_order;
} fifo_run;

static void *fifo_worker(void *arg) {
    fifo_run *w = arg;
    ms_fifo_wait(w->q, w->ticket);
    pthread_mutex_lock(w->mu);
    w->order[(*w->n_order)++] = w->id;
    pthread_mutex_unlock(w->mu);
    ms_fifo_done(w->q, w->ticket);
    return NULL;
}

static void test_fifo(void) {
    ms_fifo q;
    ms_fifo_init(&q, 2); /* one running, two waiting */
    uint64_t t[4] = {0};
    CHECK(ms_fifo_admit(&q, &t[0]));
    CHECK_EQ_INT(ms_fifo_n_waiting(&q), 0);
    CHECK(ms_fifo_admit(&q, &t[1]));
    CHECK(ms_fifo_admit(&q, &t[2]));
    CHECK_EQ_INT(ms_fifo_n_waiting(&q), 2);
    uint64_t extra = 99;
    CHECK(!ms_fifo_admit(&q, &extra)); /* full: nothing taken */
    CHECK_EQ_INT(extra, 99);
    CHECK_EQ_INT(ms_fifo_n_waiting(&q), 2);

    /* Waiters started in reverse order still run in ticket order. */
    pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    int order[3] = {0}, n_order = 0;
    fifo_run runs[2];
    pthread_t th[2];
    for (int i = 1; i >= 0; i--) {
        runs[i] = (fifo_run){.q = &q, .ticket = t[i + 1], .id = i + 1, .mu = &mu, .order = order, .n_order = &n_order};
        CHECK(pthread_create(&th[i], NULL, fifo_worker, &runs[i]) == 0);
    }
    ms_fifo_wait(&q, t[0]); /* ticket 0's turn is immediate */
    order[n_order++] = 0;   /* the workers are parked: nobody else touches order yet */
    ms_fifo_done(&q, t[0]);
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    CHECK_EQ_INT(n_order, 3);
    CHECK(order[0] == 0 && order[1] == 1 && order[2] == 2);
    CHECK_EQ_INT(ms_fifo_n_waiting(&q), 0);
    CHECK(ms_fifo_admit(&q, &t[3])); /* room again */
    ms_fifo_wait(&q, t[3]);
    ms_fifo_done(&q, t[3]);

    /* max_waiting 0: only the running request */
    ms_fifo q0;
    ms_fifo_init(&q0, 0);
    uint64_t a = 0, b = 0;
    CHECK(ms_fifo_admit(&q0, &a));
    CHECK(!ms_fifo_admit(&q0, &b));
    ms_fifo_done(&q0, a);
    CHECK(ms_fifo_admit(&q0, &b));
    ms_fifo_done(&q0, b);
    ms_fifo_destroy(&q0);
    ms_fifo_destroy(&q);
}

int main(void) {
    test_chat_fields();
    test_completion_fields();
    test_refusals();
    test_fifo();
    return check_report("test_modelserver_request");
}
