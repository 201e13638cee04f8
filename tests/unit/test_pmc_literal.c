/* PMC-Patients Python literals: ages summed over [value, unit] pairs in every unit,
 * dicts converted to JSON, the JSON spelling accepted too, and each malformed form
 * rejected with a reason. */
#include "check.h"
#include "medify/base.h"
#include "store/pmc_literal.h"

#include <string.h>

static double age_of(const char *s, md_status want) {
    double years = -99;
    md_error err = {0};
    md_status st = md_pmc_age_parse(s, strlen(s), &years, &err);
    CHECK_MSG(st == want, "'%s': status %d, want %d (%s)", s, st, want, err.message);
    return years;
}

static void test_age(void) {
    CHECK_NEAR(age_of("[[1.0, 'year'], [6.0, 'month']]", MD_OK), 1.5, 1e-12);
    CHECK_NEAR(age_of("[[45.0, 'year']]", MD_OK), 45, 1e-12);
    CHECK_NEAR(age_of("[[3.0, 'week']]", MD_OK), 21.0 / 365.25, 1e-12);
    CHECK_NEAR(age_of("[[10.0, 'day']]", MD_OK), 10.0 / 365.25, 1e-12);
    CHECK_NEAR(age_of("[[12.0, 'hour']]", MD_OK), 0.5 / 365.25, 1e-12);
    CHECK_NEAR(age_of(" [ [2, \"years\"] , [3, 'months'], ] ", MD_OK), 2.25, 1e-12);
    CHECK_NEAR(age_of("[[1e1, 'year']]", MD_OK), 10, 1e-12);
    CHECK_NEAR(age_of("[]", MD_OK), -1, 0); /* unknown */
    age_of("", MD_ERR_PARSE);
    age_of("45", MD_ERR_PARSE);
    age_of("[[45.0, 'decade']]", MD_ERR_PARSE);
    age_of("[[-1.0, 'year']]", MD_ERR_PARSE);
    age_of("[[nan, 'year']]", MD_ERR_PARSE);
    age_of("[[inf, 'year']]", MD_ERR_PARSE);
    age_of("[[0x10, 'year']]", MD_ERR_PARSE);
    age_of("[[200.0, 'year']]", MD_ERR_PARSE);
    age_of("[[1e400, 'year']]", MD_ERR_PARSE);
    age_of("[[45.0, 'year']", MD_ERR_PARSE);
    age_of("[[45.0 'year']]", MD_ERR_PARSE);
    age_of("[[45.0, 'year]]", MD_ERR_PARSE);
    age_of("[[45.0, year]]", MD_ERR_PARSE);
    age_of("[[45.0, 'year']] extra", MD_ERR_PARSE);
    age_of("[45.0, 'year']", MD_ERR_PARSE);
    md_error err = {0};
    double y;
    md_pmc_age_parse("[[45.0, 'decade']]", 18, &y, &err);
    CHECK(strstr(err.message, "age: unknown unit 'decade'") != NULL);
}

static void dict_is(const char *s, const char *want_json) {
    md_buf b;
    md_buf_init(&b);
    md_error err = {0};
    md_status st = md_pmc_dict_to_json(s, strlen(s), &b, &err);
    CHECK_MSG(st == MD_OK, "'%s': %s", s, err.message);
    if (st == MD_OK) CHECK_EQ_STR(b.data, want_json);
    md_buf_free(&b);
}

static void dict_bad(const char *s, const char *reason) {
    md_buf b;
    md_buf_init(&b);
    md_buf_append_str(&b, "keep");
    md_error err = {0};
    md_status st = md_pmc_dict_to_json(s, strlen(s), &b, &err);
    CHECK_MSG(st == MD_ERR_PARSE, "'%s' accepted", s);
    CHECK_MSG(strstr(err.message, reason) != NULL, "'%s': '%s' lacks '%s'", s, err.message, reason);
    CHECK_EQ_STR(b.data, "keep"); /* output untouched on error */
    md_buf_free(&b);
}

static void test_dict(void) {
    dict_is("{'123': 1, '456': 2}", "{\"123\":1,\"456\":2}");
    dict_is("{}", "{}");
    dict_is("  { '7665777-1' : 2 , } ", "{\"7665777-1\":2}");
    dict_is("{\"1\": 1}", "{\"1\":1}"); /* JSON spelling */
    dict_is("{'a\\'b': 1.5, 'c\"d': -.5, 'e': 5., 'f': True}", "{\"a'b\":1.5,\"c\\\"d\":-0.5,\"e\":5,\"f\":true}");
    dict_is("{'caf\xC3\xA9': 0}", "{\"caf\xC3\xA9\":0}");
    dict_bad("", "expected a dict");
    dict_bad("{'1': 1", "expected ',' or '}'");
    dict_bad("{'1' 1}", "expected ':'");
    dict_bad("{1: 1}", "expected a quoted string");
    dict_bad("{'1': 'x'}", "expected a number");
    dict_bad("{'1': 1, '1': 2}", "duplicate key '1'");
    dict_bad("{'1': 1} x", "unexpected text");
    dict_bad("{'\\q': 1}", "unsupported escape");
    dict_bad("{'\xFF': 1}", "not valid UTF-8");
    dict_bad("{'1': nan}", "expected a number");
    dict_bad("['1', 1]", "expected a dict");
}

static void test_oom(void) {
    for (uint64_t n = 1; n < 30; n++) {
        md_buf b;
        md_buf_init(&b);
        md_error err = {0};
        md_alloc_fail_after(n, true);
        md_status st = md_pmc_dict_to_json("{'1': 1, '2': 2, '3': 3}", 24, &b, &err);
        md_alloc_fail_after(0, false);
        CHECK(st == MD_OK || st == MD_ERR_NOMEM);
        md_buf_free(&b);
    }
}

int main(void) {
    test_age();
    test_dict();
    test_oom();
    return check_report("test_pmc_literal");
}
