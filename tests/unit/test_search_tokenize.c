/* Tokeniser: folding, hyphens, numbers with units, abbreviations, stop words, stems. */
#include "check.h"
#include "medify/search.h"

static void expect(const char *text, const char *want) {
    md_arena a;
    md_arena_init(&a, 0);
    char **t = NULL;
    size_t n = 0;
    CHECK(md_search_tokenize_arena(text, strlen(text), &a, &t, &n) == MD_OK);
    md_buf b;
    md_buf_init(&b);
    for (size_t i = 0; i < n; i++) {
        if (i) md_buf_append_char(&b, ' ');
        md_buf_append_str(&b, t[i]);
    }
    CHECK_EQ_STR(b.data ? b.data : "", want);
    md_buf_free(&b);
    md_arena_free(&a);
}

static md_status stop_after_two(const char *tok, size_t n, void *ctx) {
    (void)tok;
    (void)n;
    return ++*(int *)ctx >= 2 ? MD_ERR_LIMIT : MD_OK;
}

int main(void) {
    expect("Non-blanching rash", "non-blanching non blanching rash");
    expect("Temperature 38.5°C, 38.5 C and 38.5c", "temperature 38.5c 38.5c 38.5c");
    expect("took 10mg then 10 mg", "took 10mg 10mg");
    expect("for 3 days, then 3days and 24 hrs", "3_day 3_day 24_hour");
    expect("SOB and MI with COPD", "shortness breath myocardial infarction chronic obstructive pulmonary disease");
    expect("The patient's fevers and the headaches", "patient fever headache");
    expect("Haemoglobin low; diarrhoea; oesophageal", "hemoglobin low diarrhea esophageal");
    expect("A 34-year-old woman", "34-year-old 34 year old woman");
    expect("CAFÉ Naïve", "cafe naive");
    expect("end. Next sentence", "end next sentence");
    expect("bodies classes bus glass", "body classe bus glass");
    expect("3, 4", "3 4");
    expect("", "");
    expect("the and of", "");
    /* invalid UTF-8 is a word break, not an error */
    expect("fever\xff" "cough", "fever cough");
    /* a callback error stops tokenising and is returned */
    int count = 0;
    CHECK(md_search_tokenize("one two three four", 18, stop_after_two, &count) == MD_ERR_LIMIT);
    CHECK_EQ_INT(count, 2);
    /* very long words are dropped, not truncated */
    char longw[300];
    memset(longw, 'x', sizeof longw - 1);
    longw[sizeof longw - 1] = '\0';
    expect(longw, "");
    return check_report("test_search_tokenize");
}
