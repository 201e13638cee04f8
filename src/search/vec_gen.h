/* Synthetic vectors for the recall tests and the benchmark (private; header-only).
 *
 * A Gaussian mixture with low-rank covariances, shaped like sentence embeddings
 * rather than uniform noise: n_clusters centres ~ N(0, I); a point of cluster c is
 *
 *     x = centre_c + B_c z + noise * e,    z ~ N(0, I_latent), e ~ N(0, I_dim)
 *
 * with B_c a dim x latent matrix of N(0, 1/latent) entries, so most of the variance of
 * a cluster lies in a latent-dimensional subspace (intrinsic dimension ~ latent), as
 * with real embeddings, and nearest neighbours are meaningful. Everything follows from
 * the seed (splitmix64 + Box-Muller), on every platform.
 */
#ifndef MEDIFY_SEARCH_VEC_GEN_H
#define MEDIFY_SEARCH_VEC_GEN_H

#include "medify/base.h"

#include <math.h>

typedef struct mdv_gen {
    size_t dim, n_clusters, latent;
    float noise;
    float *centres; /* (n_clusters, dim) */
    float *bases;   /* (n_clusters, dim, latent) */
    uint64_t state;
} mdv_gen;

static inline uint64_t mdv_gen_u64(uint64_t *s) {
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static inline float mdv_gen_normal(uint64_t *s) {
    double u1 = ((double)(mdv_gen_u64(s) >> 11) + 1.0) / 9007199254740993.0; /* (0, 1] */
    double u2 = (double)(mdv_gen_u64(s) >> 11) / 9007199254740992.0;
    return (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}

/* Returns false on OOM. Free with mdv_gen_free. */
static inline bool mdv_gen_init(mdv_gen *g, size_t dim, size_t n_clusters, size_t latent, float noise, uint64_t seed) {
    g->dim = dim;
    g->n_clusters = n_clusters;
    g->latent = latent;
    g->noise = noise;
    g->state = seed;
    g->centres = (float *)md_calloc(n_clusters * dim, sizeof(float));
    g->bases = (float *)md_calloc(n_clusters * dim * latent, sizeof(float));
    if (!g->centres || !g->bases) {
        md_free(g->centres);
        md_free(g->bases);
        return false;
    }
    float bscale = 1.0f / sqrtf((float)latent);
    for (size_t i = 0; i < n_clusters * dim; i++) {
        g->centres[i] = mdv_gen_normal(&g->state);
    }
    for (size_t i = 0; i < n_clusters * dim * latent; i++) {
        g->bases[i] = mdv_gen_normal(&g->state) * bscale;
    }
    return true;
}

static inline void mdv_gen_free(mdv_gen *g) {
    md_free(g->centres);
    md_free(g->bases);
}

/* Writes n points (n, dim) drawn with the given stream seed (base and query sets use
 * different seeds over the same mixture). */
static inline void mdv_gen_points(const mdv_gen *g, uint64_t stream_seed, float *out, size_t n) {
    uint64_t s = stream_seed;
    float z[256];
    size_t latent = g->latent < 256 ? g->latent : 256;
    for (size_t i = 0; i < n; i++) {
        size_t c = (size_t)(mdv_gen_u64(&s) % g->n_clusters);
        for (size_t j = 0; j < latent; j++) {
            z[j] = mdv_gen_normal(&s);
        }
        const float *centre = g->centres + c * g->dim;
        const float *b = g->bases + c * g->dim * g->latent;
        float *x = out + i * g->dim;
        for (size_t d = 0; d < g->dim; d++) {
            float acc = centre[d] + g->noise * mdv_gen_normal(&s);
            const float *row = b + d * g->latent;
            for (size_t j = 0; j < latent; j++) {
                acc += row[j] * z[j];
            }
            x[d] = acc;
        }
    }
}

#endif
