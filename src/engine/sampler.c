/* The token sampler: penalties, greedy, top-k, top-p, min-p, temperature (sampler.h).
 *
 * Every buffer is sized at creation from n_vocab: the candidate array, the output
 * ids and probabilities, the per-token occurrence counts of the penalty window and the
 * window itself (a ring of repeat_last_n ids). Accepting a token updates the counts
 * incrementally (the evicted id is decremented), so applying the penalties is one
 * pass over the vocabulary with no search of the window.
 *
 * Top-k keeps a min-heap of the k best candidates (O(n log k)); without top-k the
 * candidates are sorted whole. The ordering is total (falling logit, then rising id),
 * which makes the result independent of the sort algorithm's stability.
 */
#include "medify/sampler.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct cand {
    float logit;
    int32_t id;
} cand;

struct md_sampler {
    md_sampler_params params;
    uint32_t n_vocab;
    cand *cands;      /* (n_vocab) */
    int32_t *out_ids; /* (n_vocab) the last distribution, see md_sampler_last_candidates */
    float *out_probs; /* (n_vocab) */
    size_t n_out;
    int32_t *counts; /* (n_vocab) occurrences in the window */
    int32_t *window; /* (repeat_last_n) ring of accepted ids */
    size_t n_window, i_window;
    uint64_t rng[4];
};

md_sampler_params md_sampler_default_params(void) {
    return (md_sampler_params){
        .temperature = 0.8f,
        .top_k = 40,
        .top_p = 0.95f,
        .min_p = 0.05f,
        .repeat_penalty = 1.0f,
        .repeat_last_n = 64,
        .frequency_penalty = 0.0f,
        .presence_penalty = 0.0f,
        .seed = 0,
    };
}

/* ---- xoshiro256** seeded by splitmix64 (Blackman & Vigna, prng.di.unimi.it) ---- */

static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static uint64_t xoshiro_next(uint64_t s[4]) {
    uint64_t result = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

static double rng_uniform(uint64_t s[4]) { /* [0, 1) with 53 random bits */
    return (double)(xoshiro_next(s) >> 11) * (1.0 / 9007199254740992.0);
}

static void rng_seed(uint64_t s[4], uint64_t seed) {
    uint64_t x = seed;
    for (int i = 0; i < 4; i++)
        s[i] = splitmix64(&x);
}

/* ---- lifecycle --------------------------------------------------------------------- */

md_status md_sampler_new(uint32_t n_vocab, md_sampler_params params, md_sampler **out, md_error *err) {
    if (out) *out = NULL;
    if (!out || n_vocab == 0 || n_vocab > INT32_MAX)
        return md_error_set(err, MD_ERR_INVALID_ARG, "sampler: vocabulary size %u is invalid", n_vocab);
    if (params.repeat_last_n < 0 || params.repeat_last_n > MD_SAMPLER_MAX_LAST_N)
        return md_error_set(err, MD_ERR_INVALID_ARG, "sampler: repeat_last_n %d is outside 0..%d",
                            (int)params.repeat_last_n, MD_SAMPLER_MAX_LAST_N);
    if (isnan(params.temperature) || isnan(params.top_p) || isnan(params.min_p) || isnan(params.repeat_penalty) ||
        isnan(params.frequency_penalty) || isnan(params.presence_penalty))
        return md_error_set(err, MD_ERR_INVALID_ARG, "sampler: a parameter is NaN");
    if (!(params.repeat_penalty > 0.0f))
        return md_error_set(err, MD_ERR_INVALID_ARG, "sampler: repeat_penalty must be > 0 (1 is off)");
    md_sampler *s = md_calloc(1, sizeof *s);
    if (!s) return md_error_set(err, MD_ERR_NOMEM, "out of memory");
    s->params = params;
    s->n_vocab = n_vocab;
    s->cands = md_calloc(n_vocab, sizeof *s->cands);
    s->out_ids = md_calloc(n_vocab, sizeof *s->out_ids);
    s->out_probs = md_calloc(n_vocab, sizeof *s->out_probs);
    s->counts = md_calloc(n_vocab, sizeof *s->counts);
    s->window = params.repeat_last_n > 0 ? md_calloc((size_t)params.repeat_last_n, sizeof *s->window) : NULL;
    if (!s->cands || !s->out_ids || !s->out_probs || !s->counts || (params.repeat_last_n > 0 && !s->window)) {
        md_sampler_free(s);
        return md_error_set(err, MD_ERR_NOMEM, "out of memory");
    }
    rng_seed(s->rng, params.seed);
    *out = s;
    return MD_OK;
}

void md_sampler_free(md_sampler *s) {
    if (!s) return;
    md_free(s->cands);
    md_free(s->out_ids);
    md_free(s->out_probs);
    md_free(s->counts);
    md_free(s->window);
    md_free(s);
}

void md_sampler_reset(md_sampler *s, uint64_t seed) {
    if (!s) return;
    memset(s->counts, 0, (size_t)s->n_vocab * sizeof *s->counts);
    s->n_window = s->i_window = 0;
    s->n_out = 0;
    s->params.seed = seed;
    rng_seed(s->rng, seed);
}

void md_sampler_accept(md_sampler *s, int32_t token) {
    if (!s || token < 0 || (uint32_t)token >= s->n_vocab || s->params.repeat_last_n <= 0) return;
    size_t cap = (size_t)s->params.repeat_last_n;
    if (s->n_window == cap)
        s->counts[s->window[s->i_window]]--;
    else
        s->n_window++;
    s->window[s->i_window] = token;
    s->counts[token]++;
    s->i_window = (s->i_window + 1) % cap;
}

size_t md_sampler_last_candidates(const md_sampler *s, const int32_t **ids, const float **probs) {
    if (ids) *ids = s ? s->out_ids : NULL;
    if (probs) *probs = s ? s->out_probs : NULL;
    return s ? s->n_out : 0;
}

/* ---- sampling ---------------------------------------------------------------------- */

static bool better(const cand *a, const cand *b) { /* a ranks before b */
    return a->logit > b->logit || (a->logit == b->logit && a->id < b->id);
}

static int cmp_cand(const void *pa, const void *pb) {
    const cand *a = pa, *b = pb;
    return better(a, b) ? -1 : better(b, a) ? 1 : 0;
}

/* Min-heap on `better` (the worst candidate at the root). */
static void heap_sift_down(cand *h, size_t n, size_t i) {
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, w = i;
        if (l < n && better(&h[w], &h[l])) w = l;
        if (r < n && better(&h[w], &h[r])) w = r;
        if (w == i) return;
        cand t = h[i];
        h[i] = h[w];
        h[w] = t;
        i = w;
    }
}

/* Moves the k best of c[0..n) to c[0..k), sorted best first. */
static void select_top_k(cand *c, size_t n, size_t k) {
    for (size_t i = k / 2; i-- > 0;)
        heap_sift_down(c, k, i);
    for (size_t i = k; i < n; i++) {
        if (better(&c[i], &c[0])) {
            c[0] = c[i];
            heap_sift_down(c, k, 0);
        }
    }
    qsort(c, k, sizeof *c, cmp_cand);
}

/* The logit of token i after the penalties of the window. */
static float penalised(const md_sampler *s, float logit, int32_t count) {
    if (count <= 0) return logit;
    const md_sampler_params *p = &s->params;
    if (p->repeat_penalty != 1.0f) logit = logit <= 0.0f ? logit * p->repeat_penalty : logit / p->repeat_penalty;
    return logit - (float)count * p->frequency_penalty - p->presence_penalty;
}

int32_t md_sampler_sample(md_sampler *s, const float *logits) {
    const md_sampler_params *p = &s->params;
    size_t n = 0;
    for (uint32_t i = 0; i < s->n_vocab; i++) {
        float l = logits[i];
        if (isnan(l)) continue;
        l = penalised(s, l, s->counts[i]);
        if (isnan(l)) continue;
        s->cands[n++] = (cand){l, (int32_t)i};
    }
    if (n == 0 || p->temperature <= 0.0f) {
        int32_t best = 0;
        if (n > 0) {
            size_t ib = 0;
            for (size_t i = 1; i < n; i++)
                if (better(&s->cands[i], &s->cands[ib])) ib = i;
            best = s->cands[ib].id;
        }
        s->out_ids[0] = best;
        s->out_probs[0] = 1.0f;
        s->n_out = 1;
        return best;
    }

    /* top-k, then everything sorted best first */
    if (p->top_k > 0 && (size_t)p->top_k < n) {
        select_top_k(s->cands, n, (size_t)p->top_k);
        n = (size_t)p->top_k;
    } else {
        qsort(s->cands, n, sizeof *s->cands, cmp_cand);
    }
    if (s->cands[0].logit == -INFINITY) n = 1; /* nothing finite: the lowest id wins */

    /* softmax of the untempered logits, for top-p and min-p */
    float max = s->cands[0].logit;
    double sum = 0.0;
    for (size_t i = 0; i < n; i++) {
        float e = expf(s->cands[i].logit - max);
        s->out_probs[i] = e;
        sum += e;
    }
    if (p->top_p < 1.0f) {
        double cum = 0.0;
        size_t keep = n;
        for (size_t i = 0; i < n; i++) {
            cum += s->out_probs[i] / sum;
            if (cum >= p->top_p) {
                keep = i + 1;
                break;
            }
        }
        n = keep;
    }
    if (p->min_p > 0.0f) {
        float threshold = p->min_p * s->out_probs[0]; /* relative to the largest: normalisation cancels */
        size_t keep = 1;
        while (keep < n && s->out_probs[keep] >= threshold)
            keep++;
        n = keep;
    }

    /* temperature, softmax over what is left, one draw */
    sum = 0.0;
    for (size_t i = 0; i < n; i++) {
        float e = expf((s->cands[i].logit - max) / p->temperature);
        s->out_probs[i] = e;
        s->out_ids[i] = s->cands[i].id;
        sum += e;
    }
    for (size_t i = 0; i < n; i++)
        s->out_probs[i] = (float)(s->out_probs[i] / sum);
    s->n_out = n;
    double u = rng_uniform(s->rng), cum = 0.0;
    for (size_t i = 0; i < n; i++) {
        cum += s->out_probs[i];
        if (u < cum) return s->out_ids[i];
    }
    return s->out_ids[n - 1]; /* rounding left u above the last cumulative sum */
}
