/* The sampler's filters on small hand-computed distributions (sampler.h).
 *
 * The base distribution puts probabilities 0.1, 0.4, 0.2, 0.3 on ids 0..3 (logits are
 * their natural logarithms), so sorted by probability the ids are 1, 3, 2, 0. Every
 * expected probability below was worked out by hand from those four numbers. */
#include <math.h>
#include <stdlib.h>

#include "check.h"
#include "medify/sampler.h"

static float k_logits[4];

static md_sampler_params plain(void) { /* temperature 1, every filter off */
    md_sampler_params p = md_sampler_default_params();
    p.temperature = 1.0f;
    p.top_k = 0;
    p.top_p = 1.0f;
    p.min_p = 0.0f;
    return p;
}

static md_sampler *make(md_sampler_params p) {
    md_sampler *s = NULL;
    md_error err = {0};
    CHECK_MSG(md_sampler_new(4, p, &s, &err) == MD_OK, "%s", err.message);
    return s;
}

/* Samples once and checks the distribution drawn from: ids in order, probabilities. */
static void expect_dist(md_sampler_params p, const float *logits, size_t n, const int32_t *ids, const double *probs,
                        const char *what) {
    md_sampler *s = make(p);
    if (!s) return;
    int32_t tok = md_sampler_sample(s, logits);
    const int32_t *got_ids = NULL;
    const float *got_probs = NULL;
    size_t n_got = md_sampler_last_candidates(s, &got_ids, &got_probs);
    CHECK_MSG(n_got == n, "%s: %zu candidates, expected %zu", what, n_got, n);
    bool in = false;
    for (size_t i = 0; i < n && i < n_got; i++) {
        CHECK_MSG(got_ids[i] == ids[i], "%s: candidate %zu is %d, expected %d", what, i, got_ids[i], ids[i]);
        CHECK_MSG(fabs(got_probs[i] - probs[i]) < 1e-4, "%s: p[%zu] = %g, expected %g", what, i, got_probs[i],
                  probs[i]);
        in = in || tok == ids[i];
    }
    CHECK_MSG(in, "%s: sampled %d, not a candidate", what, tok);
    md_sampler_free(s);
}

static void test_greedy(void) {
    md_sampler_params p = plain();
    p.temperature = 0.0f;
    md_sampler *s = make(p);
    if (!s) return;
    CHECK_EQ_INT(md_sampler_sample(s, k_logits), 1);
    static const float ties[4] = {1.0f, 2.0f, 2.0f, 0.0f};
    CHECK_EQ_INT(md_sampler_sample(s, ties), 1); /* equal logits: the lowest id */
    static const float with_nan[4] = {NAN, 0.5f, NAN, 0.25f};
    CHECK_EQ_INT(md_sampler_sample(s, with_nan), 1);
    static const float nothing[4] = {NAN, -INFINITY, NAN, -INFINITY};
    int32_t t = md_sampler_sample(s, nothing);
    CHECK(t == 1 || t == 0);
    /* greedy = argmax over a larger random vector */
    md_sampler_free(s);
    enum { N = 1000 };
    float *v = malloc(N * sizeof *v);
    md_sampler *g = NULL;
    CHECK(md_sampler_new(N, p, &g, NULL) == MD_OK);
    uint32_t x = 12345;
    for (int round = 0; round < 20 && g && v; round++) {
        int32_t best = 0;
        for (int i = 0; i < N; i++) {
            x = x * 1664525u + 1013904223u;
            v[i] = (float)(x >> 8) / 16777216.0f * 10.0f - 5.0f;
            if (v[i] > v[best]) best = i;
        }
        CHECK_EQ_INT(md_sampler_sample(g, v), best);
    }
    md_sampler_free(g);
    free(v);
    /* a sampled draw with temperature 0 never consumes randomness: also argmax */
}

static void test_filters(void) {
    md_sampler_params p = plain();
    expect_dist(p, k_logits, 4, (const int32_t[]){1, 3, 2, 0}, (const double[]){0.4, 0.3, 0.2, 0.1}, "plain");

    p = plain();
    p.top_k = 2;
    expect_dist(p, k_logits, 2, (const int32_t[]){1, 3}, (const double[]){0.4 / 0.7, 0.3 / 0.7}, "top_k 2");
    p.top_k = 9; /* above n_vocab: off */
    expect_dist(p, k_logits, 4, (const int32_t[]){1, 3, 2, 0}, (const double[]){0.4, 0.3, 0.2, 0.1}, "top_k 9");

    p = plain();
    p.top_p = 0.35f; /* 0.4 alone reaches it */
    expect_dist(p, k_logits, 1, (const int32_t[]){1}, (const double[]){1.0}, "top_p 0.35");
    p.top_p = 0.65f; /* 0.4 + 0.3 */
    expect_dist(p, k_logits, 2, (const int32_t[]){1, 3}, (const double[]){0.4 / 0.7, 0.3 / 0.7}, "top_p 0.65");
    p.top_p = 0.75f; /* 0.4 + 0.3 + 0.2 */
    expect_dist(p, k_logits, 3, (const int32_t[]){1, 3, 2}, (const double[]){0.4 / 0.9, 0.3 / 0.9, 0.2 / 0.9},
                "top_p 0.75");

    /* top-p sees the distribution renormalised after top-k: {.444, .333, .222} */
    p = plain();
    p.top_k = 3;
    p.top_p = 0.8f; /* .444 + .333 = .778 < .8: three stay */
    expect_dist(p, k_logits, 3, (const int32_t[]){1, 3, 2}, (const double[]){0.4 / 0.9, 0.3 / 0.9, 0.2 / 0.9},
                "top_k 3 + top_p 0.8");
    p.top_p = 0.7f; /* .778 >= .7: two stay (without top-k, 0.7 would need 0.4 + 0.3 exactly) */
    expect_dist(p, k_logits, 2, (const int32_t[]){1, 3}, (const double[]){0.4 / 0.7, 0.3 / 0.7}, "top_k 3 + top_p 0.7");

    p = plain();
    p.min_p = 0.6f; /* threshold 0.24: 0.4 and 0.3 stay */
    expect_dist(p, k_logits, 2, (const int32_t[]){1, 3}, (const double[]){0.4 / 0.7, 0.3 / 0.7}, "min_p 0.6");
    p.min_p = 0.3f; /* threshold 0.12: 0.1 goes */
    expect_dist(p, k_logits, 3, (const int32_t[]){1, 3, 2}, (const double[]){0.4 / 0.9, 0.3 / 0.9, 0.2 / 0.9},
                "min_p 0.3");
    p.min_p = 1.0f; /* only the top token */
    expect_dist(p, k_logits, 1, (const int32_t[]){1}, (const double[]){1.0}, "min_p 1");

    /* temperature 0.5 squares the probabilities: .16 .09 .04 .01 over .30 */
    p = plain();
    p.temperature = 0.5f;
    expect_dist(p, k_logits, 4, (const int32_t[]){1, 3, 2, 0},
                (const double[]){0.16 / 0.30, 0.09 / 0.30, 0.04 / 0.30, 0.01 / 0.30}, "temperature 0.5");
    /* temperature 2 takes square roots: .632456 .547723 .447214 .316228 over 1.943621 */
    p.temperature = 2.0f;
    expect_dist(p, k_logits, 4, (const int32_t[]){1, 3, 2, 0}, (const double[]){0.325406, 0.281806, 0.230094, 0.162700},
                "temperature 2");
    /* the filters see the untempered distribution: min_p 0.6 still keeps two */
    p.min_p = 0.6f;
    p.temperature = 0.5f;
    expect_dist(p, k_logits, 2, (const int32_t[]){1, 3}, (const double[]){0.16 / 0.25, 0.09 / 0.25},
                "min_p 0.6 + temperature 0.5");
}

static void test_penalties(void) {
    static const float logits[4] = {2.0f, -1.0f, 1.5f, 0.5f};
    md_sampler_params p = plain();
    p.repeat_penalty = 2.0f;
    md_sampler *s = make(p);
    if (!s) return;
    md_sampler_accept(s, 0);
    md_sampler_accept(s, 1);
    md_sampler_accept(s, 99); /* outside the vocabulary: ignored */
    md_sampler_accept(s, -1);
    /* 2.0 / 2 = 1.0, -1.0 * 2 = -2.0; softmax of [1.0, -2.0, 1.5, 0.5]:
     * e = 2.718282 .135335 4.481689 1.648721, sum 8.984027 */
    md_sampler_sample(s, logits);
    const int32_t *ids = NULL;
    const float *probs = NULL;
    size_t n = md_sampler_last_candidates(s, &ids, &probs);
    CHECK_EQ_INT(n, 4);
    if (n == 4) {
        CHECK_EQ_INT(ids[0], 2);
        CHECK_EQ_INT(ids[1], 0);
        CHECK_EQ_INT(ids[2], 3);
        CHECK_EQ_INT(ids[3], 1);
        CHECK_NEAR(probs[0], 0.498850, 1e-4);
        CHECK_NEAR(probs[1], 0.302568, 1e-4);
        CHECK_NEAR(probs[2], 0.183517, 1e-4);
        CHECK_NEAR(probs[3], 0.015064, 1e-4);
    }
    md_sampler_free(s);

    /* greedy after a penalty: token 0 drops from 2.0 to 1.0, token 2 (1.5) wins */
    p.temperature = 0.0f;
    s = make(p);
    if (!s) return;
    CHECK_EQ_INT(md_sampler_sample(s, logits), 0);
    md_sampler_accept(s, 0);
    CHECK_EQ_INT(md_sampler_sample(s, logits), 2);
    md_sampler_free(s);

    /* frequency 0.5 and presence 1.0; token 0 seen 3 times, token 3 once:
     * [2.0 - 1.5 - 1, -1.0, 1.5, 0.5 - 0.5 - 1] = [-0.5, -1.0, 1.5, -1.0];
     * e = .606531 .367879 4.481689 .367879, sum 5.823978 */
    p = plain();
    p.frequency_penalty = 0.5f;
    p.presence_penalty = 1.0f;
    s = make(p);
    if (!s) return;
    md_sampler_accept(s, 0);
    md_sampler_accept(s, 0);
    md_sampler_accept(s, 3);
    md_sampler_accept(s, 0);
    md_sampler_sample(s, logits);
    n = md_sampler_last_candidates(s, &ids, &probs);
    CHECK_EQ_INT(n, 4);
    if (n == 4) {
        CHECK_EQ_INT(ids[0], 2);
        CHECK_EQ_INT(ids[1], 0);
        CHECK_EQ_INT(ids[2], 1); /* equal logits with 3: the lower id first */
        CHECK_EQ_INT(ids[3], 3);
        CHECK_NEAR(probs[0], 0.769523, 1e-4);
        CHECK_NEAR(probs[1], 0.104144, 1e-4);
        CHECK_NEAR(probs[2], 0.063166, 1e-4);
        CHECK_NEAR(probs[3], 0.063166, 1e-4);
    }
    md_sampler_free(s);

    /* the window: with repeat_last_n 2, accepting 0, 1, 2 evicts 0 again */
    p = plain();
    p.temperature = 0.0f;
    p.repeat_penalty = 2.0f;
    p.repeat_last_n = 2;
    s = make(p);
    if (!s) return;
    md_sampler_accept(s, 0);
    CHECK_EQ_INT(md_sampler_sample(s, logits), 2); /* 0 penalised to 1.0 */
    md_sampler_accept(s, 1);
    md_sampler_accept(s, 2); /* window {1, 2}: 0 back to 2.0, 2 down to 0.75 */
    CHECK_EQ_INT(md_sampler_sample(s, logits), 0);
    md_sampler_reset(s, 0); /* the window is forgotten */
    md_sampler_accept(s, 0);
    md_sampler_accept(s, 0);
    md_sampler_accept(s, 0); /* still counted twice at most: 1.0 (once divided) */
    CHECK_EQ_INT(md_sampler_sample(s, logits), 2);
    md_sampler_free(s);

    /* repeat_last_n 0: penalties off */
    p.repeat_last_n = 0;
    s = make(p);
    if (!s) return;
    md_sampler_accept(s, 0);
    CHECK_EQ_INT(md_sampler_sample(s, logits), 0);
    md_sampler_free(s);
}

static void test_seed(void) {
    enum { N_DRAWS = 4000 };
    md_sampler_params p = plain();
    p.seed = 42;
    md_sampler *a = make(p), *b = make(p);
    p.seed = 43;
    md_sampler *c = make(p);
    if (!a || !b || !c) return;
    int32_t first[64];
    int same_ab = 0, same_ac = 0, counts[4] = {0};
    for (int i = 0; i < N_DRAWS; i++) {
        int32_t ta = md_sampler_sample(a, k_logits), tb = md_sampler_sample(b, k_logits),
                tc = md_sampler_sample(c, k_logits);
        if (i < 64) first[i] = ta;
        same_ab += ta == tb;
        same_ac += ta == tc;
        if (ta >= 0 && ta < 4) counts[ta]++;
    }
    CHECK_EQ_INT(same_ab, N_DRAWS);    /* same seed, same tokens */
    CHECK(same_ac < N_DRAWS * 9 / 10); /* another seed: another sequence */
    /* the draws follow the distribution (4000 draws: sd of a share <= 0.008) */
    static const double expect[4] = {0.1, 0.4, 0.2, 0.3};
    for (int i = 0; i < 4; i++)
        CHECK_NEAR((double)counts[i] / N_DRAWS, expect[i], 0.035);
    /* reset with the same seed replays the sequence */
    md_sampler_reset(a, 42);
    bool replay = true;
    for (int i = 0; i < 64; i++)
        replay = replay && md_sampler_sample(a, k_logits) == first[i];
    CHECK(replay);
    md_sampler_free(a);
    md_sampler_free(b);
    md_sampler_free(c);
}

static void test_errors(void) {
    md_sampler *s = NULL;
    md_error err = {0};
    md_sampler_params p = md_sampler_default_params();
    CHECK(md_sampler_new(0, p, &s, &err) == MD_ERR_INVALID_ARG);
    CHECK(s == NULL);
    p.repeat_last_n = -1;
    CHECK(md_sampler_new(4, p, &s, &err) == MD_ERR_INVALID_ARG);
    p = md_sampler_default_params();
    p.top_p = NAN;
    CHECK(md_sampler_new(4, p, &s, &err) == MD_ERR_INVALID_ARG);
    p = md_sampler_default_params();
    p.repeat_penalty = 0.0f;
    CHECK(md_sampler_new(4, p, &s, &err) == MD_ERR_INVALID_ARG);
    /* allocation failure at each of the sampler's allocations */
    for (uint64_t k = 1; k <= 6; k++) {
        md_alloc_fail_after(k, false);
        md_status st = md_sampler_new(4, md_sampler_default_params(), &s, &err);
        md_alloc_fail_after(0, false);
        CHECK(st == MD_OK || st == MD_ERR_NOMEM);
        CHECK((st == MD_OK) == (s != NULL));
        md_sampler_free(s);
        s = NULL;
    }
    md_sampler_free(NULL);
}

int main(void) {
    static const double base[4] = {0.1, 0.4, 0.2, 0.3};
    for (int i = 0; i < 4; i++)
        k_logits[i] = (float)log(base[i]);
    test_greedy();
    test_filters();
    test_penalties();
    test_seed();
    test_errors();
    return check_report("test_engine_sampler");
}
