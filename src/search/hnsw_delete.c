/* Deletion support: compaction with graph repair, and the graph invariant check.
 *
 * md_vindex_delete (vec_index.c) only sets a tombstone: searches walk through the
 * node but never return it. md_vindex_compact then
 *   1. repairs, on every layer, each live node whose list names a deleted node: its
 *      new candidates are its live neighbours plus the live neighbours of its deleted
 *      neighbours (two hops through the hole), re-selected with the heuristic of
 *      algorithm 4 (the repair pgvector's vacuum and hnswlib's re-linking also do);
 *   2. moves a deleted entry point to the live node with the highest level;
 *   3. renumbers the live nodes densely, in their old order, dropping the deleted
 *      records and their upper-layer blocks, and rebuilds the id map.
 * The flat index only does step 3.
 */
#include "search/vec_index.h"

#include <string.h>

/* Adds live, unseen node x to the candidate pairs of the node being repaired. */
static size_t consider(const md_vindex *v, mdv_scratch *s, const mdv_query *qu, uint32_t x, mdv_pair *pairs,
                       size_t n_pairs) {
    if (v->deleted[x] || s->visited[x] == s->epoch) {
        return n_pairs;
    }
    s->visited[x] = s->epoch;
    pairs[n_pairs] = (mdv_pair){mdv_distance(v, qu, x), x};
    return n_pairs + 1;
}

static md_status repair_node(md_vindex *v, mdv_scratch *s, uint32_t u, uint32_t layer, mdv_pair *pairs) {
    uint32_t *links = mdv_links(v, u, layer);
    uint32_t n = links[0];
    bool hole = false;
    for (uint32_t j = 0; j < n && !hole; j++) {
        hole = v->deleted[links[1 + j]] != 0;
    }
    if (!hole) {
        return MD_OK;
    }
    mdv_visited_begin(s);
    s->visited[u] = s->epoch;
    mdv_query qu;
    mdv_query_prepare(v, mdv_vector_f32(v, u, s->tmp_vec + v->params.dim), &qu);
    size_t n_pairs = 0;
    for (uint32_t j = 0; j < n; j++) {
        uint32_t w = links[1 + j];
        if (!v->deleted[w]) {
            n_pairs = consider(v, s, &qu, w, pairs, n_pairs);
            continue;
        }
        const uint32_t *hop = mdv_links(v, w, layer); /* two hops through the hole */
        for (uint32_t i = 0; i < hop[0]; i++) {
            n_pairs = consider(v, s, &qu, hop[1 + i], pairs, n_pairs);
        }
    }
    mdv_pairs_sort(pairs, n_pairs);
    uint32_t kept[2 * MDV_MAX_M];
    uint32_t cap = layer == 0 ? v->max_links0 : v->max_links;
    size_t n_kept = mdv_hnsw_select(v, s, pairs, n_pairs, cap, kept);
    for (size_t j = 0; j < n_kept; j++) {
        links[1 + j] = kept[j];
    }
    links[0] = (uint32_t)n_kept;
    return MD_OK;
}

static md_status repair(md_vindex *v, md_error *err) {
    if (!v->build) {
        v->build = md_calloc(1, sizeof(mdv_scratch));
    }
    size_t cap = (size_t)v->max_links0 + 1;
    mdv_pair *pairs = md_malloc(cap * cap * sizeof(mdv_pair));
    if (!v->build || !pairs || mdv_scratch_fit(v->build, v, v->params.ef_construction) != MD_OK) {
        md_free(pairs);
        return md_error_set(err, MD_ERR_NOMEM, "vector index: out of memory compacting");
    }
    for (uint32_t layer = 0; layer <= v->max_level; layer++) {
        for (size_t u = 0; u < v->n_nodes; u++) {
            if (!v->deleted[u] && v->levels[u] >= layer) {
                repair_node(v, v->build, (uint32_t)u, layer, pairs);
            }
        }
    }
    md_free(pairs);
    return MD_OK;
}

md_status md_vindex_compact(md_vindex *v, md_error *err) {
    if (!v) {
        return md_error_set(err, MD_ERR_INVALID_ARG, "vector index: NULL index");
    }
    md_status st = mdv_make_writable(v, err);
    if (st != MD_OK || v->n_deleted == 0) {
        return st;
    }
    uint32_t *renum = md_malloc((v->n_nodes ? v->n_nodes : 1) * sizeof(uint32_t));
    if (!renum) {
        return md_error_set(err, MD_ERR_NOMEM, "vector index: out of memory compacting");
    }
    if (v->params.kind == MD_VINDEX_HNSW) {
        st = repair(v, err);
        if (st != MD_OK) {
            md_free(renum);
            return st;
        }
    }
    /* New numbers, and the new entry point: the first live node of highest level. */
    uint32_t n_live = 0, entry = MDV_NONE, max_level = 0;
    for (size_t i = 0; i < v->n_nodes; i++) {
        renum[i] = v->deleted[i] ? MDV_NONE : n_live++;
        if (!v->deleted[i] && (entry == MDV_NONE || v->levels[i] > max_level)) {
            entry = (uint32_t)i;
            max_level = v->levels[i];
        }
    }
    if (v->entry != MDV_NONE && !v->deleted[v->entry]) {
        entry = v->entry; /* keep a live entry: it already has the top level */
        max_level = v->levels[entry];
    }
    size_t n_upper = 0;
    for (size_t i = 0; i < v->n_nodes; i++) {
        if (v->deleted[i]) {
            continue;
        }
        uint32_t j = renum[i];
        size_t words = (size_t)v->levels[i] * (1u + v->max_links);
        /* New positions never pass old ones, so moving in increasing order is safe. */
        memmove(v->records + (size_t)j * v->record_bytes, v->records + i * v->record_bytes, v->record_bytes);
        memmove(v->upper + n_upper, v->upper + v->upper_off[i], words * sizeof(uint32_t));
        v->ids[j] = v->ids[i];
        v->levels[j] = v->levels[i];
        v->deleted[j] = 0;
        v->upper_off[j] = n_upper;
        n_upper += words;
    }
    v->n_nodes = n_live;
    v->n_upper = n_upper;
    v->n_deleted = 0;
    v->entry = entry == MDV_NONE ? MDV_NONE : renum[entry];
    v->max_level = entry == MDV_NONE ? 0 : max_level;
    for (uint32_t u = 0; u < n_live; u++) {
        for (uint32_t layer = 0; layer <= v->levels[u] && v->params.kind == MD_VINDEX_HNSW; layer++) {
            uint32_t *links = mdv_links(v, u, layer);
            for (uint32_t j = 0; j < links[0]; j++) {
                links[1 + j] = renum[links[1 + j]];
            }
        }
    }
    md_free(renum);
    return mdv_map_rebuild(v, err);
}

md_status mdv_check_graph(const md_vindex *v, md_error *err) {
    size_t n = v->n_nodes, n_deleted = 0;
    if (n == 0) {
        if (v->entry != MDV_NONE) {
            return md_error_set(err, MD_ERR_PARSE, "vector index: entry point in an empty index");
        }
        return MD_OK;
    }
    if (v->entry >= n || v->levels[v->entry] != v->max_level) {
        return md_error_set(err, MD_ERR_PARSE, "vector index: bad entry point");
    }
    size_t words = 1u + v->max_links;
    for (size_t i = 0; i < n; i++) {
        n_deleted += v->deleted[i] != 0;
        uint32_t level = v->levels[i];
        if (level > v->max_level || (v->params.kind == MD_VINDEX_FLAT && level != 0)) {
            return md_error_set(err, MD_ERR_PARSE, "vector index: node %zu has bad level %u", i, level);
        }
        /* Upper blocks within the pool: upper_off + level * words <= n_upper. */
        if (level > 0 && (v->upper_off[i] > v->n_upper || (v->n_upper - v->upper_off[i]) / words < level)) {
            return md_error_set(err, MD_ERR_PARSE, "vector index: node %zu upper links out of range", i);
        }
        for (uint32_t layer = 0; layer <= level; layer++) {
            const uint32_t *links = mdv_links(v, (uint32_t)i, layer);
            uint32_t cap = layer == 0 ? v->max_links0 : v->max_links;
            if (links[0] > cap) {
                return md_error_set(err, MD_ERR_PARSE, "vector index: node %zu has %u links on layer %u", i, links[0],
                                    layer);
            }
            for (uint32_t j = 0; j < links[0]; j++) {
                uint32_t u = links[1 + j];
                if (u >= n || v->levels[u] < layer) {
                    return md_error_set(err, MD_ERR_PARSE, "vector index: node %zu has a bad link on layer %u", i,
                                        layer);
                }
            }
        }
    }
    if (n_deleted != v->n_deleted) {
        return md_error_set(err, MD_ERR_PARSE, "vector index: deleted count %zu, header says %zu", n_deleted,
                            v->n_deleted);
    }
    return MD_OK;
}
