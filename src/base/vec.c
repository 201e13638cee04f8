/* vec.c: a growable array of fixed-size elements.
 *
 * Elements are stored contiguously in data (n of them, room for cap). Capacity
 * doubles from VEC_MIN_CAP, with every size computation checked for overflow. A
 * failed growth returns MD_ERR_NOMEM and leaves the vector untouched, so the caller
 * still owns every element it pushed before.
 */
#include "medify/base.h"

#include <string.h>

#define VEC_MIN_CAP 8

void md_vec_init(md_vec *v, size_t item_bytes) {
    v->data = NULL;
    v->n = 0;
    v->cap = 0;
    v->item_bytes = item_bytes;
}

void md_vec_free(md_vec *v) {
    md_free(v->data);
    v->data = NULL;
    v->n = 0;
    v->cap = 0;
}

md_status md_vec_reserve(md_vec *v, size_t n_total) {
    if (v->item_bytes == 0) {
        return MD_ERR_INVALID_ARG;
    }
    if (n_total <= v->cap) {
        return MD_OK;
    }
    if (n_total > SIZE_MAX / v->item_bytes) {
        return MD_ERR_NOMEM;
    }
    void *data = md_realloc(v->data, n_total * v->item_bytes);
    if (!data) {
        return MD_ERR_NOMEM;
    }
    v->data = data;
    v->cap = n_total;
    return MD_OK;
}

md_status md_vec_push(md_vec *v, const void *item) {
    if (v->n == v->cap) {
        size_t cap = v->cap ? v->cap : VEC_MIN_CAP;
        if (v->cap) {
            cap = v->cap > SIZE_MAX / 2 ? SIZE_MAX : v->cap * 2;
        }
        md_status st = md_vec_reserve(v, cap);
        if (st != MD_OK) {
            return st;
        }
    }
    memcpy((char *)v->data + v->n * v->item_bytes, item, v->item_bytes);
    v->n++;
    return MD_OK;
}

void *md_vec_at(const md_vec *v, size_t i) {
    if (i >= v->n) {
        return NULL;
    }
    return (char *)v->data + i * v->item_bytes;
}

void md_vec_clear(md_vec *v) {
    v->n = 0;
}
