/* medify sampler: picks the next token from a decoder's logits (engine module).
 *
 * The chain, in llama.cpp's default order (common/sampling.cpp):
 *
 *   penalties   over the last repeat_last_n accepted tokens: a token seen c > 0 times
 *               has its logit divided by repeat_penalty when positive, multiplied when
 *               negative (CTRL, Keskar et al. 2019, eq. 3), then lowered by
 *               c·frequency_penalty + presence_penalty (OpenAI's definition)
 *   greedy      temperature <= 0: the arg-max after the penalties (ties: lowest id)
 *   top-k       keep the k largest logits
 *   top-p       keep the smallest prefix (by falling probability) whose mass >= top_p
 *               (nucleus sampling, Holtzman et al. 2019)
 *   min-p       keep tokens whose probability >= min_p · the largest probability
 *   temperature divide the logits by the temperature, softmax, draw one token
 *
 * top-p and min-p see the distribution before the temperature, as in llama.cpp. At
 * least one token always survives each filter. Candidates are ordered by falling
 * logit and, on equal logits, rising id, so a given seed gives the same tokens on
 * every platform with the same logits.
 *
 * Randomness comes from xoshiro256** (Blackman & Vigna 2018) seeded through
 * splitmix64 from `seed`: the same seed and the same logits give the same tokens.
 *
 * Memory: md_sampler_new allocates every buffer from n_vocab and repeat_last_n;
 * md_sampler_sample and md_sampler_accept allocate nothing. A sampler is used by one
 * thread at a time.
 */
#ifndef MEDIFY_SAMPLER_H
#define MEDIFY_SAMPLER_H

#include "medify/base.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Most tokens the penalty window may hold. */
#define MD_SAMPLER_MAX_LAST_N 65536

typedef struct md_sampler_params {
    float temperature;       /* <= 0: greedy */
    int32_t top_k;           /* <= 0 or >= n_vocab: off */
    float top_p;             /* >= 1: off */
    float min_p;             /* <= 0: off */
    float repeat_penalty;    /* 1: off */
    int32_t repeat_last_n;   /* window of the three penalties; 0: penalties off */
    float frequency_penalty; /* 0: off */
    float presence_penalty;  /* 0: off */
    uint64_t seed;
} md_sampler_params;

/* temperature 0.8, top_k 40, top_p 0.95, min_p 0.05, penalties off over a window of
 * 64, seed 0 (llama.cpp's defaults, but a fixed seed). */
md_sampler_params md_sampler_default_params(void);

typedef struct md_sampler md_sampler;

/* A new sampler for a vocabulary of n_vocab tokens. Errors: MD_ERR_INVALID_ARG
 * (n_vocab 0, repeat_last_n < 0 or above MD_SAMPLER_MAX_LAST_N, a NaN parameter),
 * MD_ERR_NOMEM. Free with md_sampler_free. */
md_status md_sampler_new(uint32_t n_vocab, md_sampler_params params, md_sampler **out, md_error *err);
void md_sampler_free(md_sampler *s);

/* Forgets the penalty window and restarts the random sequence from seed. */
void md_sampler_reset(md_sampler *s, uint64_t seed);

/* Records a token (prompt or generated) in the penalty window. Ids outside the
 * vocabulary are ignored. */
void md_sampler_accept(md_sampler *s, int32_t token);

/* Picks a token from logits[0..n_vocab) (not modified). NaN logits are never picked;
 * when every logit is NaN or -inf the result is the lowest id. Does not accept the
 * token: call md_sampler_accept with it. */
int32_t md_sampler_sample(md_sampler *s, const float *logits);

/* The distribution the last md_sampler_sample drew from, after every filter: ids in
 * falling probability and their probabilities (summing to 1). Valid until the next
 * sample; n is 1 for a greedy pick. For tests and for showing alternatives. */
size_t md_sampler_last_candidates(const md_sampler *s, const int32_t **ids, const float **probs);

#ifdef __cplusplus
}
#endif

#endif /* MEDIFY_SAMPLER_H */
