/* Report retrieval over a snapshot with dense vectors, and the local llm backend.
 *
 * Always: a snapshot whose manifest names an encoder file that does not exist opens
 * (BM25 alone) and the report says why. With the shared fixtures (MEDIFY_FIXTURES:
 * models/tiny-bert-f16.gguf, models/tiny-llama-f16.gguf; skipped with a message when
 * absent): case texts embedded with the tiny BERT into an HNSW index in the snapshot,
 * the report fuses both rankings (cases no BM25 term reaches appear, with a dense
 * similarity); and a report written by the tiny local decoder either parses or falls
 * back to the deterministic report with a note. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "medify/analysis.h"
#include "medify/bert.h"
#include "medify/search.h"
#include "medify/store.h"
#include "medify/vector.h"
#include "mini_kb.h"

#define CHUNK_BITS 16 /* the vector id layout of `medify index build --embed-model` */

/* No text says "man": the query's demographic words then match nothing, and only the
 * first two share terms with the patient's findings. */
static const char *const k_texts[] = {
    "A 58-year-old patient presented with crushing chest pain and sweating.",
    "A 61-year-old patient with chest pain and shortness of breath.",
    "A 55-year-old patient had a runny nose.",
    "A 60-year-old patient fell from a ladder and broke a wrist.",
    "A 52-year-old patient attended for a routine eye test.",
    "A 63-year-old patient with a painful swollen knee after gardening.",
};
#define N_TEXTS (sizeof k_texts / sizeof k_texts[0])

static bool add_doc(const md_case_record *rec, void *ctx) {
    md_search_doc d = {(uint64_t)rec->id, rec->external_id, rec->age_years, MD_SEX_MALE};
    return md_bm25_add(ctx, &d, rec->text, strlen(rec->text), NULL) == MD_OK;
}

/* Store + BM25 + an HNSW file of dim `dim` in a new snapshot. vectors: the encoder, or
 * NULL for fixed unit vectors; embed_path is what the manifest records. */
static bool make_data_dir(const char *dir, const char *embed_path, const char *embed_name, md_bert_ctx *enc,
                          uint32_t dim) {
    md_store *st = NULL;
    md_error err = {0};
    bool ok = md_store_open(dir, &st, &err) == MD_OK;
    int64_t ids[N_TEXTS];
    for (size_t i = 0; ok && i < N_TEXTS; i++) {
        md_case_record rec = {0};
        char uid[16], pmid[16];
        snprintf(uid, sizeof uid, "%zu-1", 3000 + i);
        snprintf(pmid, sizeof pmid, "%zu", 3000 + i);
        rec.source = "synthetic";
        rec.external_id = uid;
        rec.pmid = pmid;
        rec.text = k_texts[i];
        rec.age_years = 58;
        rec.sex = "male";
        bool ins;
        ok = md_store_case_put(st, &rec, &ids[i], &ins, &err) == MD_OK;
    }
    md_bm25 *ix = NULL;
    md_vindex *vx = NULL;
    md_snapshot_writer *w = NULL;
    ok = ok && md_bm25_new(md_bm25_default_params(), &ix, &err) == MD_OK;
    ok = ok && md_store_case_each(st, 0, 0, add_doc, ix, &err) == MD_OK;
    ok = ok && md_bm25_finish(ix, &err) == MD_OK;
    ok = ok && md_vindex_new(md_vindex_default_params(dim), &vx, &err) == MD_OK;
    float *vec = calloc(dim, sizeof(float));
    for (size_t i = 0; ok && vec && i < N_TEXTS; i++) {
        if (enc) {
            const char *t = k_texts[i];
            ok = md_bert_embed_texts(enc, &t, 1, vec, &err) == MD_OK;
        } else {
            memset(vec, 0, dim * sizeof(float));
            vec[i % dim] = 1;
        }
        ok = ok && md_vindex_add(vx, (uint64_t)ids[i] << CHUNK_BITS, vec, &err) == MD_OK;
    }
    free(vec);
    ok = ok && md_snapshot_writer_new(dir, "v1", &w, &err) == MD_OK;
    ok = ok && md_bm25_save(ix, md_snapshot_writer_path(w, MD_SNAPSHOT_BM25_FILE), &err) == MD_OK;
    ok = ok && md_snapshot_writer_add(w, MD_SNAPSHOT_BM25_FILE, "bm25", N_TEXTS, &err) == MD_OK;
    ok = ok && md_vindex_save(vx, md_snapshot_writer_path(w, MD_SNAPSHOT_HNSW_FILE), &err) == MD_OK;
    ok = ok && md_snapshot_writer_add(w, MD_SNAPSHOT_HNSW_FILE, "hnsw", N_TEXTS, &err) == MD_OK;
    ok = ok && md_snapshot_writer_set_embedding(w, embed_name, embed_path, dim, &err) == MD_OK;
    ok = ok && md_snapshot_writer_commit(w, "test", N_TEXTS, NULL, &err) == MD_OK;
    if (!ok) fprintf(stderr, "data dir: %s\n", err.message);
    md_snapshot_writer_free(w);
    md_vindex_free(vx);
    md_bm25_free(ix);
    if (st) md_store_close(st);
    return ok;
}

static md_case *chest_pain_case(const md_kb *kb) {
    md_case *c = md_case_new(kb);
    const char *t = "crushing chest pain and sweating";
    md_error err = {0};
    if (c && md_case_add_text(c, t, strlen(t), &err) != MD_OK) fprintf(stderr, "case: %s\n", err.message);
    if (c) md_case_set_patient(c, 58, MD_SEX_MALE);
    return c;
}

static bool has_note(const md_report *r, const char *needle) {
    for (size_t i = 0; i < r->n_notes; i++)
        if (strstr(r->notes[i], needle)) return true;
    return false;
}

static void rm_rf(const char *dir) {
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "cleanup of %s failed\n", dir);
}

int main(void) {
    md_kb *kb = mini_kb_load();
    CHECK(kb != NULL);
    if (!kb) return check_report("test_analysis_dense");
    md_case *c = chest_pain_case(kb);
    md_error err = {0};
    char dir[256];

    /* 1. vectors whose encoder is missing: BM25 alone, and the report says so */
    snprintf(dir, sizeof dir, "/tmp/medify-test-analysis-dense-a-%d", (int)getpid());
    rm_rf(dir);
    CHECK(make_data_dir(dir, "/nonexistent/encoder.gguf", "gone", NULL, 8));
    md_analysis *an = NULL;
    md_report r;
    CHECK(md_analysis_open(dir, kb, NULL, NULL, &an, &err) == MD_OK);
    if (an) {
        CHECK(md_analysis_report(an, c, NULL, NULL, &r, &err) == MD_OK);
        CHECK(has_note(&r, "encoder is not readable"));
        CHECK_EQ_INT(r.n_similar_cases, 2); /* only the two texts sharing a BM25 term */
        for (size_t i = 0; i < r.n_similar_cases; i++) CHECK(!r.similar_cases[i].has_dense);
        md_report_free(&r);
        md_analysis_free(an);
    }
    rm_rf(dir);

    const char *fx = getenv("MEDIFY_FIXTURES");
    char bert_path[4096], llama_path[4096];
    snprintf(bert_path, sizeof bert_path, "%s/models/tiny-bert-f16.gguf", fx ? fx : "");
    snprintf(llama_path, sizeof llama_path, "%s/models/tiny-llama-f16.gguf", fx ? fx : "");
    if (!fx || access(bert_path, R_OK) != 0 || access(llama_path, R_OK) != 0) {
        fprintf(stderr, "test_analysis_dense: SKIP fixture checks: %s\n",
                fx ? "tiny-bert-f16.gguf / tiny-llama-f16.gguf not found" : "MEDIFY_FIXTURES is unset");
        md_case_free(c);
        md_kb_free(kb);
        return check_report("test_analysis_dense");
    }

    /* 2. a snapshot embedded with the tiny BERT: both rankings fused */
    md_bert_model *bert = NULL;
    md_bert_ctx *enc = NULL;
    CHECK(md_bert_load(bert_path, md_bert_model_default_params(), &bert, &err) == MD_OK);
    if (bert) {
        md_bert_ctx_params bp = md_bert_ctx_default_params();
        if (md_bert_model_hparams(bert)->pooling == MD_BERT_POOLING_NONE) bp.pooling = MD_BERT_POOLING_MEAN;
        CHECK(md_bert_ctx_new(bert, bp, &enc, &err) == MD_OK);
    }
    snprintf(dir, sizeof dir, "/tmp/medify-test-analysis-dense-b-%d", (int)getpid());
    rm_rf(dir);
    if (enc && make_data_dir(dir, bert_path, md_bert_model_name(bert), enc, md_bert_ctx_n_embd(enc))) {
        CHECK(md_analysis_open(dir, kb, NULL, NULL, &an, &err) == MD_OK);
        if (an) {
            CHECK(md_analysis_report(an, c, NULL, NULL, &r, &err) == MD_OK);
            CHECK(!has_note(&r, "BM25 alone"));
            CHECK(r.n_similar_cases > 2); /* the dense ranker reaches texts with no shared term */
            size_t n_dense = 0, n_dense_only = 0;
            for (size_t i = 0; i < r.n_similar_cases; i++) {
                n_dense += r.similar_cases[i].has_dense;
                n_dense_only += r.similar_cases[i].has_dense && r.similar_cases[i].bm25 == 0;
            }
            CHECK(n_dense == r.n_similar_cases);
            CHECK(n_dense_only >= 1);
            const char *sim = md_report_section_text(&r, MD_REPORT_SECTION_SIMILAR_CASES);
            CHECK(sim && strstr(sim, "BM25 and dense vectors"));
            md_buf j;
            md_buf_init(&j);
            CHECK(md_report_to_json(&r, &j) == MD_OK && j.data && strstr(j.data, "\"dense\":0.") != NULL);
            md_buf_free(&j);
            md_report_free(&r);
            md_analysis_free(an);
        }
    } else {
        CHECK(!"could not build the dense snapshot");
    }
    rm_rf(dir);
    md_bert_ctx_free(enc);
    md_bert_free(bert);

    /* 3. the tiny local decoder: its report parses or falls back, never fails */
    md_llm *llm = NULL;
    CHECK(md_llm_open_local(llama_path, NULL, &llm, &err) == MD_OK);
    if (llm) {
        md_analysis_params p = md_analysis_default_params();
        p.sampling.max_tokens = 48;
        p.sampling.temperature = 0;
        CHECK(md_analysis_open("/nonexistent-medify-data-dir", kb, llm, &p, &an, &err) == MD_OK);
        if (an) {
            CHECK(md_analysis_report(an, c, NULL, NULL, &r, &err) == MD_OK);
            CHECK_EQ_INT(r.n_sections, MD_REPORT_N_SECTIONS);
            if (strcmp(r.generator, "deterministic") == 0) CHECK(has_note(&r, "language model failed"));
            else CHECK(strncmp(r.generator, "local:", 6) == 0 && r.usage.completion_tokens > 0);
            const char *tri = md_report_section_text(&r, MD_REPORT_SECTION_TRIAGE);
            CHECK(tri && strstr(tri, "Chest pain that could be a heart attack"));
            md_report_free(&r);
            md_analysis_free(an);
        }
        md_llm_free(llm);
    }
    md_case_free(c);
    md_kb_free(kb);
    return check_report("test_analysis_dense");
}
