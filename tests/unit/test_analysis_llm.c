/* The LLM generator of the analysis module against a fake OpenAI-compatible endpoint on
 * loopback (the remote llm backend, md_llm_open_remote): the prompt sent carries the
 * cases' ids and the citation rule; the model's sections replace the deterministic ones
 * but triage/red flags never do; an invented citation is removed and noted; usage and
 * cost are recorded; an endpoint failure falls back to the deterministic report with a
 * note; report questions go to the model only when on topic. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check.h"
#include "medify/analysis.h"
#include "medify/llm.h"
#include "medify/search.h"
#include "medify/store.h"
#include "mini_kb.h"

/* ---- a one-thread HTTP server answering each request with the next canned response --- */

#define MAX_RESPONSES 8
typedef struct fake_server {
    int fd;
    int port;
    int status[MAX_RESPONSES];
    const char *body[MAX_RESPONSES];
    int n_responses;
    int n_served;
    md_buf last_request;
    pthread_t thread;
} fake_server;

static void *serve(void *arg) {
    fake_server *s = arg;
    for (;;) {
        int c = accept(s->fd, NULL, NULL);
        if (c < 0) return NULL;
        /* read headers, then Content-Length bytes of body */
        md_buf req;
        md_buf_init(&req);
        char tmp[4096];
        size_t need = SIZE_MAX;
        while (req.len < need) {
            ssize_t n = read(c, tmp, sizeof tmp);
            if (n <= 0) break;
            md_buf_append(&req, tmp, (size_t)n);
            const char *hend = req.data ? strstr(req.data, "\r\n\r\n") : NULL;
            if (hend && need == SIZE_MAX) {
                const char *cl = strstr(req.data, "Content-Length:");
                size_t len = cl && cl < hend ? (size_t)strtoul(cl + 15, NULL, 10) : 0;
                need = (size_t)(hend + 4 - req.data) + len;
            }
        }
        md_buf_clear(&s->last_request);
        if (req.data) md_buf_append(&s->last_request, req.data, req.len);
        md_buf_free(&req);
        int i = s->n_served < s->n_responses ? s->n_served : s->n_responses - 1;
        s->n_served++;
        md_buf resp;
        md_buf_init(&resp);
        md_buf_appendf(&resp,
                       "HTTP/1.1 %d X\r\nContent-Type: application/json\r\nContent-Length: %zu\r\nConnection: "
                       "close\r\n\r\n%s",
                       s->status[i], strlen(s->body[i]), s->body[i]);
        ssize_t w = write(c, resp.data, resp.len);
        (void)w;
        md_buf_free(&resp);
        close(c);
    }
}

static bool server_start(fake_server *s) {
    s->fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t al = sizeof a;
    if (s->fd < 0 || bind(s->fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(s->fd, 8) != 0 ||
        getsockname(s->fd, (struct sockaddr *)&a, &al) != 0)
        return false;
    s->port = ntohs(a.sin_port);
    md_buf_init(&s->last_request);
    return pthread_create(&s->thread, NULL, serve, s) == 0;
}

static void server_stop(fake_server *s) {
    shutdown(s->fd, SHUT_RDWR);
    close(s->fd);
    pthread_join(s->thread, NULL);
    md_buf_free(&s->last_request);
}

/* ---- a data dir with three cases ---------------------------------------------------------- */

static char g_dir[256];

static bool add_doc(const md_case_record *rec, void *ctx) {
    md_sex s = MD_SEX_UNKNOWN;
    if (rec->sex) md_sex_parse(rec->sex, &s);
    md_search_doc d = {(uint64_t)rec->id, rec->external_id, rec->age_years, s};
    return md_bm25_add(ctx, &d, rec->text, strlen(rec->text), NULL) == MD_OK;
}

static bool make_data_dir(void) {
    static const struct {
        const char *uid, *pmid, *text;
        double age;
    } k_cases[] = {
        {"1001-1", "1001", "A 58-year-old man with crushing chest pain and sweating; myocardial infarction.", 58},
        {"1005-1", "1005", "A 61-year-old man with chest pain, sweating and shortness of breath.", 61},
        {"1006-1", "1006", "A 55-year-old man with a runny nose and cough.", 55},
    };
    md_store *st = NULL;
    md_error err = {0};
    bool ok = md_store_open(g_dir, &st, &err) == MD_OK;
    for (size_t i = 0; ok && i < 3; i++) {
        md_case_record rec = {0};
        rec.source = "synthetic";
        rec.external_id = k_cases[i].uid;
        rec.pmid = k_cases[i].pmid;
        rec.text = k_cases[i].text;
        rec.age_years = k_cases[i].age;
        rec.sex = "male";
        int64_t id;
        bool ins;
        ok = md_store_case_put(st, &rec, &id, &ins, &err) == MD_OK;
    }
    md_bm25 *ix = NULL;
    md_snapshot_writer *w = NULL;
    ok = ok && md_bm25_new(md_bm25_default_params(), &ix, &err) == MD_OK;
    ok = ok && md_store_case_each(st, 0, 0, add_doc, ix, &err) == MD_OK;
    ok = ok && md_bm25_finish(ix, &err) == MD_OK;
    ok = ok && md_snapshot_writer_new(g_dir, "v1", &w, &err) == MD_OK;
    ok = ok && md_bm25_save(ix, md_snapshot_writer_path(w, MD_SNAPSHOT_BM25_FILE), &err) == MD_OK;
    ok = ok && md_snapshot_writer_add(w, MD_SNAPSHOT_BM25_FILE, "bm25", 3, &err) == MD_OK;
    ok = ok && md_snapshot_writer_commit(w, "test", 3, NULL, &err) == MD_OK;
    if (!ok) fprintf(stderr, "data dir: %s\n", err.message);
    md_snapshot_writer_free(w);
    md_bm25_free(ix);
    if (st) md_store_close(st);
    return ok;
}

typedef struct pieces {
    md_buf all;
    int n;
} pieces;

static bool on_piece(const char *p, size_t n, void *ctx) {
    pieces *ps = ctx;
    md_buf_append(&ps->all, p, n);
    ps->n++;
    return true;
}

static const char k_model_report[] =
    "{\"choices\":[{\"message\":{\"role\":\"assistant\",\"content\":"
    "\"## Current case\\nA man in his fifties with crushing chest pain and sweating.\\n\\n"
    "## Triage and red flags\\nSelf-care is fine.\\n\\n"
    "## Differential diagnosis\\n- Acute coronary syndrome is most likely.\\n\\n"
    "## Similar cases\\nSimilar to [PMID 1001] and to [PMID 9999].\\n\\n"
    "## Suggested next steps\\n- ECG and troponin.\"},\"finish_reason\":\"stop\"}],"
    "\"usage\":{\"prompt_tokens\":1200,\"completion_tokens\":300}}";

static const char k_model_answer[] =
    "{\"choices\":[{\"message\":{\"role\":\"assistant\",\"content\":"
    "\"The crushing chest pain with sweating is why; compare [PMID 4242].\"},\"finish_reason\":\"stop\"}],"
    "\"usage\":{\"prompt_tokens\":900,\"completion_tokens\":20}}";

static const char k_error[] = "{\"error\":{\"message\":\"model overloaded\"}}";

int main(void) {
    snprintf(g_dir, sizeof g_dir, "/tmp/medify-test-analysis-llm-%d", (int)getpid());
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && mkdir -p '%s'", g_dir, g_dir);
    if (system(cmd) != 0) return 1;
    md_kb *kb = mini_kb_load();
    fake_server srv = {0};
    srv.status[0] = 200, srv.body[0] = k_model_report;
    srv.status[1] = 200, srv.body[1] = k_model_answer;
    srv.status[2] = 500, srv.body[2] = k_error;
    srv.n_responses = 3;
    bool ok = kb && make_data_dir() && server_start(&srv);
    CHECK(ok);
    if (!ok) return check_report("test_analysis_llm");

    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", srv.port);
    md_llm_remote_params rp = md_llm_remote_default_params();
    rp.max_retries = 0;
    rp.timeout_ms = 10000;
    md_llm *llm = NULL;
    md_error err = {0};
    CHECK(md_llm_open_remote(url, &rp, &llm, &err) == MD_OK);
    md_analysis_params p = md_analysis_default_params();
    p.cost_per_1k_prompt = 0.5;
    p.cost_per_1k_completion = 1.5;
    md_analysis *an = NULL;
    CHECK(md_analysis_open(g_dir, kb, llm, &p, &an, &err) == MD_OK);
    md_case *c = md_case_new(kb);
    const char *text = "crushing chest pain and sweating";
    CHECK(md_case_add_text(c, text, strlen(text), &err) == MD_OK);
    md_case_set_patient(c, 57, MD_SEX_MALE);

    /* 1. the model writes the report */
    md_report r;
    pieces ps = {{0}, 0};
    CHECK(md_analysis_report(an, c, on_piece, &ps, &r, &err) == MD_OK);
    CHECK(strncmp(r.generator, "remote:", 7) == 0);
    const char *req = srv.last_request.data ? srv.last_request.data : "";
    CHECK(strstr(req, "POST /v1/chat/completions") != NULL);
    CHECK(strstr(req, "cite nothing else") != NULL);
    CHECK(strstr(req, "[PMID 1001]") && strstr(req, "[PMID 1005]"));
    CHECK(strstr(req, "emergency_ambulance") != NULL);
    CHECK(ps.n >= 1 && ps.all.data && strstr(ps.all.data, "## Current case"));
    CHECK_EQ_STR(r.sections[0].text, "A man in his fifties with crushing chest pain and sweating.");
    const char *tri = md_report_section_text(&r, MD_REPORT_SECTION_TRIAGE);
    CHECK(tri && !strstr(tri, "Self-care is fine") && strstr(tri, "Chest pain that could be a heart attack"));
    CHECK_EQ_STR(md_report_section_text(&r, MD_REPORT_SECTION_SIMILAR_CASES), "Similar to [PMID 1001] and to.");
    CHECK_EQ_STR(md_report_section_text(&r, MD_REPORT_SECTION_NEXT_STEPS), "- ECG and troponin.");
    const char *safety = md_report_section_text(&r, MD_REPORT_SECTION_SAFETY_NOTICE);
    CHECK(safety && strstr(safety, MD_CLINICAL_NOTICE));
    bool noted = false;
    for (size_t i = 0; i < r.n_notes; i++) noted |= strstr(r.notes[i], "PMID 9999") != NULL;
    CHECK(noted);
    CHECK_EQ_INT(r.usage.prompt_tokens, 1200);
    CHECK_EQ_INT(r.usage.completion_tokens, 300);
    CHECK_NEAR(r.usage.cost, 1.2 * 0.5 + 0.3 * 1.5, 1e-9);
    CHECK(r.emergency && r.triage == MD_TRIAGE_EMERGENCY_AMBULANCE);

    /* 2. a question on topic goes to the model; its invented citation is flagged */
    md_buf ans;
    md_buf_init(&ans);
    bool on = false;
    CHECK(md_analysis_answer(an, &r, NULL, "Why is the chest pain urgent?", NULL, NULL, &ans, &on, &err) == MD_OK);
    CHECK(on);
    CHECK(ans.data && strstr(ans.data, "crushing chest pain with sweating is why"));
    CHECK(ans.data && strstr(ans.data, "'PMID 4242' is not one of the report's similar cases"));
    CHECK(ans.data && strcmp(ans.data + ans.len - strlen(MD_CLINICAL_NOTICE), MD_CLINICAL_NOTICE) == 0);
    CHECK_EQ_INT(srv.n_served, 2);
    /* off topic: no model call */
    md_buf_clear(&ans);
    CHECK(md_analysis_answer(an, &r, NULL, "What is the capital of France?", NULL, NULL, &ans, &on, &err) == MD_OK);
    CHECK(!on);
    CHECK_EQ_INT(srv.n_served, 2);
    md_buf_free(&ans);
    md_report_free(&r);

    /* 3. the endpoint fails: deterministic report with a note */
    pieces ps2 = {{0}, 0};
    CHECK(md_analysis_report(an, c, on_piece, &ps2, &r, &err) == MD_OK);
    CHECK_EQ_STR(r.generator, "deterministic");
    CHECK(ps2.all.data && strstr(ps2.all.data, "[generation failed") && strstr(ps2.all.data, "## Triage and red flags"));
    md_buf_free(&ps2.all);
    bool fell_back = false;
    for (size_t i = 0; i < r.n_notes; i++) fell_back |= strstr(r.notes[i], "language model failed") != NULL;
    CHECK(fell_back);
    CHECK(strstr(md_report_section_text(&r, MD_REPORT_SECTION_CURRENT_CASE), "57-year-old man") != NULL);
    CHECK_EQ_INT(r.usage.prompt_tokens, 0);
    /* and a question then gets the deterministic answer, saying the model is unavailable */
    md_buf_init(&ans);
    CHECK(md_analysis_answer(an, &r, NULL, "Why is the chest pain urgent?", NULL, NULL, &ans, &on, &err) == MD_OK);
    CHECK(on);
    CHECK(ans.data && strstr(ans.data, "language model is unavailable") && strstr(ans.data, "From the report's"));
    md_buf_free(&ans);
    md_report_free(&r);

    md_case_free(c);
    md_analysis_free(an);
    md_llm_free(llm);
    server_stop(&srv);
    md_buf_free(&ps.all);
    md_kb_free(kb);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    if (system(cmd) != 0) fprintf(stderr, "cleanup failed\n");
    return check_report("test_analysis_llm");
}
