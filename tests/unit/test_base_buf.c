/* The byte buffer: growth keeps contents and the NUL terminator, the failed flag is
 * sticky, steal hands over ownership, and JSON escaping follows RFC 8259 (checked by
 * parsing the output back with jansson). */
#include "check.h"
#include "medify/base.h"

#include <jansson.h>
#include <string.h>

static void test_growth(void) {
    md_buf b;
    md_buf_init(&b);
    CHECK(b.data == NULL);
    CHECK(md_buf_ok(&b));
    for (int i = 0; i < 10000; i++) {
        md_buf_append_char(&b, (char)('a' + i % 26));
    }
    CHECK_EQ_INT(b.len, 10000);
    CHECK(b.cap > b.len);
    CHECK_EQ_INT(b.data[b.len], '\0');
    int pattern_ok = 1;
    for (int i = 0; i < 10000; i++) {
        pattern_ok &= b.data[i] == (char)('a' + i % 26);
    }
    CHECK(pattern_ok);

    md_buf_clear(&b);
    CHECK_EQ_INT(b.len, 0);
    CHECK_EQ_STR(b.data, "");
    CHECK(b.cap >= 10000); /* memory kept */

    md_buf_append_str(&b, "temp ");
    md_buf_appendf(&b, "%.1f C, %d%%", 38.5, 97);
    CHECK_EQ_STR(b.data, "temp 38.5 C, 97%");
    /* appendf longer than the remaining capacity */
    md_buf_clear(&b);
    md_buf_free(&b);
    md_buf_appendf(&b, "%s|%0300d|%s", "start", 1, "end");
    CHECK_EQ_INT(b.len, 5 + 1 + 300 + 1 + 3);
    CHECK(strncmp(b.data + b.len - 4, "|end", 4) == 0);

    /* binary bytes with NULs are kept; len is authoritative */
    md_buf_clear(&b);
    md_buf_append(&b, "a\0b", 3);
    CHECK_EQ_INT(b.len, 3);
    CHECK(memcmp(b.data, "a\0b", 4) == 0);
    md_buf_free(&b);
    CHECK(b.data == NULL && b.len == 0 && b.cap == 0);
}

static void test_empty_append_terminates(void) {
    md_buf b = {0}; /* zero-initialised works too */
    md_buf_append(&b, "", 0);
    CHECK(b.data != NULL);
    CHECK_EQ_STR(b.data, "");
    md_buf_append_str(&b, NULL);
    CHECK_EQ_INT(b.len, 0);
    md_buf_free(&b);
}

static void test_reserve(void) {
    md_buf b;
    md_buf_init(&b);
    CHECK(md_buf_reserve(&b, 1000));
    CHECK(b.cap >= 1001);
    char *data = b.data;
    md_buf_append(&b, "x", 1);
    for (int i = 0; i < 998; i++) {
        md_buf_append_char(&b, 'y');
    }
    CHECK(b.data == data); /* no reallocation within the reservation */
    /* a size that overflows fails the buffer instead of wrapping */
    CHECK(!md_buf_reserve(&b, SIZE_MAX));
    CHECK(!md_buf_ok(&b));
    md_buf_free(&b);
}

static void test_failure_is_sticky(void) {
    md_buf b;
    md_buf_init(&b);
    md_buf_append_str(&b, "before");
    md_alloc_fail_after(1, false);
    char big[200];
    memset(big, 'z', sizeof(big));
    md_buf_append(&b, big, sizeof(big)); /* needs to grow: fails */
    md_alloc_fail_after(0, false);
    CHECK(!md_buf_ok(&b));
    md_buf_append_str(&b, "after"); /* no-op although memory is available now */
    md_buf_appendf(&b, "%d", 5);
    CHECK(!md_buf_ok(&b));
    CHECK_EQ_STR(b.data, "before"); /* what was there stays valid */
    CHECK(md_buf_steal(&b) == NULL);  /* a failed buffer gives nothing and is reset */
    CHECK(b.data == NULL && md_buf_ok(&b));

    md_buf_append_str(&b, "again");
    md_buf_clear(&b); /* clear also clears failed */
    CHECK(md_buf_ok(&b));
    md_buf_free(&b);
}

static void test_steal(void) {
    md_buf b;
    md_buf_init(&b);
    char *empty = md_buf_steal(&b);
    CHECK(empty != NULL);
    CHECK_EQ_STR(empty, "");
    md_free(empty);

    md_buf_append_str(&b, "owned by caller");
    char *s = md_buf_steal(&b);
    CHECK_EQ_STR(s, "owned by caller");
    CHECK(b.data == NULL && b.len == 0 && b.cap == 0);
    md_free(s);
}

/* ---- JSON escaping ---- */

static char *json_of(const char *s, size_t n) {
    md_buf b;
    md_buf_init(&b);
    md_buf_append_json_str(&b, s, n);
    return md_buf_steal(&b);
}

/* Escaped output must parse back (as a JSON string) to want[0..n_want). */
static void check_round_trip(const char *s, size_t n, const char *want, size_t n_want) {
    char *lit = json_of(s, n);
    CHECK(lit != NULL);
    json_error_t jerr;
    json_t *v = json_loads(lit, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
    CHECK_MSG(v && json_is_string(v), "%s does not parse: %s", lit, jerr.text);
    if (v && json_is_string(v)) {
        CHECK_EQ_INT(json_string_length(v), n_want);
        CHECK_MSG(memcmp(json_string_value(v), want, n_want) == 0, "round trip of %s", lit);
    }
    json_decref(v);
    md_free(lit);
}

static void test_json_escapes(void) {
    char *lit = json_of("say \"hi\" \\ bye", 14);
    CHECK_EQ_STR(lit, "\"say \\\"hi\\\" \\\\ bye\"");
    md_free(lit);

    lit = json_of("\b\f\n\r\t", 5);
    CHECK_EQ_STR(lit, "\"\\b\\f\\n\\r\\t\"");
    md_free(lit);

    lit = json_of("\x01\x1f\x00x", 4); /* other controls and NUL: \u00XX */
    CHECK_EQ_STR(lit, "\"\\u0001\\u001f\\u0000x\"");
    md_free(lit);

    lit = json_of("\x7f/", 2); /* DEL and '/' need no escape */
    CHECK_EQ_STR(lit, "\"\x7f/\"");
    md_free(lit);

    lit = json_of(NULL, 0);
    CHECK_EQ_STR(lit, "\"\"");
    md_free(lit);

    /* every control byte round-trips through a real JSON parser */
    char controls[32];
    for (int c = 0; c < 32; c++) {
        controls[c] = (char)c;
    }
    check_round_trip(controls, 32, controls, 32);
}

static void test_json_utf8(void) {
    /* é (2 bytes), € (3 bytes), 😀 (4 bytes) pass through unescaped */
    const char *text = "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80";
    char *lit = json_of(text, strlen(text));
    CHECK(lit && strncmp(lit + 1, text, strlen(text)) == 0);
    md_free(lit);
    check_round_trip(text, strlen(text), text, strlen(text));

    /* invalid bytes become U+FFFD, so the output is still valid JSON */
    const char *bad = "a\xff" "b\xc3" "";          /* stray FF, truncated C3 */
    const char *want = "a\xef\xbf\xbd" "b\xef\xbf\xbd"; /* U+FFFD twice */
    check_round_trip(bad, 4, want, strlen(want));
    lit = json_of("\xed\xa0\x80", 3); /* a surrogate: three replacement escapes */
    CHECK_EQ_STR(lit, "\"\\ufffd\\ufffd\\ufffd\"");
    md_free(lit);
    lit = json_of("\xef\xbf\xbd", 3); /* a real U+FFFD passes through */
    CHECK_EQ_STR(lit, "\"\xef\xbf\xbd\"");
    md_free(lit);
}

static void test_json_appends(void) {
    md_buf b;
    md_buf_init(&b);
    md_buf_append_str(&b, "{\"k\":");
    md_buf_append_json_str(&b, "v\n", 2);
    md_buf_append_char(&b, '}');
    CHECK_EQ_STR(b.data, "{\"k\":\"v\\n\"}");
    md_buf_free(&b);
}

int main(void) {
    test_growth();
    test_empty_append_terminates();
    test_reserve();
    test_failure_is_sticky();
    test_steal();
    test_json_escapes();
    test_json_utf8();
    test_json_appends();
    return check_report("test_base_buf");
}
