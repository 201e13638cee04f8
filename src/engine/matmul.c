/* matmul.c: the batched matrix product y = W·x over a thread pool (kernels.h).
 *
 * Two phases per product, separated by a pool barrier:
 *  1. the f32 activation rows are quantised to the weights' vec_dot_type, token rows
 *     split round-robin over the threads (every weight of the product reads them);
 *  2. the weight rows of all the product's matrices form one list, handed out in
 *     chunks of MATMUL_ROW_CHUNK rows through an atomic counter (a thread that is
 *     slowed down by another process simply takes fewer chunks). Within a chunk the
 *     tokens are walked in tiles of MATMUL_TOK_TILE: a tile's quantised rows (a few
 *     KB) and the chunk's weight rows stay in L1/L2 while every pair is multiplied,
 *     so for a prompt each weight byte comes from memory once per chunk, not once per
 *     token; where the level has a 4-token kernel (vec_dot_x4) each weight block is
 *     also unpacked once per 4 tokens in registers.
 * Each output element is one kernel call on one (weight row, token) pair, whatever
 * the thread count, the chunk a row falls in or the number of tokens, so results are
 * bit-identical across those. A final barrier makes y visible to all threads.
 */
#include "engine/kernels.h"

/* Weight rows per claimed chunk: small enough to balance 2-16 threads on a 2048-row
 * matrix, large enough that claiming costs nothing next to the dots. */
#define MATMUL_ROW_CHUNK 16
/* Token rows multiplied with a chunk per pass (8 Q8_K rows of 4096 = 37 KB). */
#define MATMUL_TOK_TILE 8

static void quantize_phase(md_matmul *mm, int ith, int nth) {
    const md_tensor_traits *tr = md_tensor_traits_get((uint32_t)mm->w[0].type);
    const md_quantize_fn quantize = mm->kernels->quantize[tr->vec_dot_type];
    for (size_t t = (size_t)ith; t < mm->n_tok; t += (size_t)nth)
        quantize(mm->x + t * mm->ldx, mm->xq + t * mm->xq_stride, (int64_t)mm->n_in);
}

static void chunk_run(const md_matmul *mm, const md_matmul_weight *w, size_t r0, size_t r1) {
    const md_vec_dot_fn dot = mm->kernels->vec_dot[w->type];
    const md_vec_dot_x4_fn dot4 = mm->kernels->vec_dot_x4[w->type];
    const uint8_t *rows = w->data;
    for (size_t t0 = 0; t0 < mm->n_tok; t0 += MATMUL_TOK_TILE) {
        const size_t t1 = t0 + MATMUL_TOK_TILE < mm->n_tok ? t0 + MATMUL_TOK_TILE : mm->n_tok;
        for (size_t r = r0; r < r1; r++) {
            const uint8_t *row = rows + r * w->row_bytes;
            size_t t = t0;
            if (dot4) {
                for (; t + MD_KERNEL_TILE <= t1; t += MD_KERNEL_TILE) {
                    float o[MD_KERNEL_TILE];
                    dot4((int64_t)mm->n_in, row, mm->xq + t * mm->xq_stride, mm->xq_stride, o);
                    for (size_t j = 0; j < MD_KERNEL_TILE; j++)
                        w->y[(t + j) * w->ldy + r] = o[j];
                }
            }
            for (; t < t1; t++)
                dot((int64_t)mm->n_in, row, mm->xq + t * mm->xq_stride, &w->y[t * w->ldy + r]);
        }
    }
}

void md_matmul_thread(md_pool *pool, md_matmul *mm, int ith, int nth) {
    if (ith == 0) md_pool_counter_reset(&mm->next);
    quantize_phase(mm, ith, nth);
    md_pool_barrier(pool);
    size_t n_chunks[MD_MATMUL_MAX_WEIGHTS], total = 0;
    for (size_t i = 0; i < mm->n_weights; i++) {
        n_chunks[i] = (mm->w[i].n_out + MATMUL_ROW_CHUNK - 1) / MATMUL_ROW_CHUNK;
        total += n_chunks[i];
    }
    for (long c = md_pool_counter_next(&mm->next); c >= 0 && (size_t)c < total; c = md_pool_counter_next(&mm->next)) {
        size_t k = (size_t)c, i = 0;
        while (k >= n_chunks[i]) k -= n_chunks[i++];
        const md_matmul_weight *w = &mm->w[i];
        const size_t r0 = k * MATMUL_ROW_CHUNK;
        const size_t r1 = r0 + MATMUL_ROW_CHUNK < w->n_out ? r0 + MATMUL_ROW_CHUNK : w->n_out;
        chunk_run(mm, w, r0, r1);
    }
    md_pool_barrier(pool);
}

typedef struct matmul_job {
    md_pool *pool;
    md_matmul *mm;
} matmul_job;

static void matmul_job_run(void *ctx, int ith, int nth) {
    matmul_job *job = ctx;
    md_matmul_thread(job->pool, job->mm, ith, nth);
}

void md_matmul_run(md_pool *pool, md_matmul *mm) {
    matmul_job job = {.pool = pool, .mm = mm};
    md_pool_run(pool, matmul_job_run, &job);
}
