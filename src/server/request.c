/* request.c: strict decoding of a clinical request body.
 *
 * The body must be, in this order of checks: non-empty, valid UTF-8 (checked on the
 * raw bytes, so the error names the encoding rather than a JSON position), one JSON
 * value (jansson: duplicate keys and NUL escapes refused), an object, with only the
 * fields the endpoint accepts (all unknown names are listed at once), each of its
 * type and range, and every id known to the knowledge base. A client learns every
 * unknown field from one answer; for the other checks the first problem is reported,
 * naming the field (`evidence[2].status`).
 *
 * Fields (docs/openapi.yaml, ClinicalRequest):
 *   text         string, the patient's words (the parser's own limits apply)
 *   age          number of years, 0 to 130 (0.1 is about five weeks)
 *   sex          "male" | "female"
 *   evidence     array of {"id": observation id, "status": "present"|"absent"|"unknown"}
 *   condition    condition id (explain)
 *   max_results  integer 1..20 (suggest)
 */
#include <jansson.h>
#include <string.h>

#include "server/server_internal.h"

#define MAX_EVIDENCE      1024 /* far more than the KB has observations worth stating */
#define MAX_RESULTS_LIMIT 20

typedef struct field_spec {
    const char *name;
    uint32_t bit;
} field_spec;

static const field_spec k_fields[] = {
    {"text", SRV_FIELD_TEXT},
    {"age", SRV_FIELD_AGE},
    {"sex", SRV_FIELD_SEX},
    {"evidence", SRV_FIELD_EVIDENCE},
    {"condition", SRV_FIELD_CONDITION},
    {"max_results", SRV_FIELD_MAX_RESULTS},
};

static const char *json_type_name(const json_t *v) {
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER:
    case JSON_REAL: return "a number";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    case JSON_NULL: return "null";
    }
    return "a value";
}

/* Names every key of obj that is not in the allowed set, as 'a', 'b'. */
static md_status check_unknown_fields(json_t *obj, uint32_t allowed, const char *prefix, md_error *err) {
    md_buf names;
    md_buf_init(&names);
    size_t n_bad = 0;
    const char *key;
    json_t *val;
    json_object_foreach(obj, key, val) {
        bool ok = false;
        for (size_t i = 0; i < MD_ARRAY_LEN(k_fields); i++)
            if ((allowed & k_fields[i].bit) && strcmp(key, k_fields[i].name) == 0) ok = true;
        if (ok) continue;
        md_buf_appendf(&names, "%s'%s%s'", n_bad ? ", " : "", prefix, key);
        n_bad++;
    }
    md_status st = MD_OK;
    if (n_bad)
        st = md_error_set(err, MD_ERR_INVALID_ARG, "unknown field%s %s", n_bad > 1 ? "s" : "",
                          md_buf_ok(&names) ? names.data : "");
    md_buf_free(&names);
    return st;
}

static md_status decode_evidence(srv_request *r, json_t *arr, srv_input *in, md_error *err) {
    const md_kb *kb = r->srv->kb;
    if (!json_is_array(arr))
        return md_error_set(err, MD_ERR_INVALID_ARG, "field 'evidence' must be an array, got %s", json_type_name(arr));
    size_t n = json_array_size(arr);
    if (n > MAX_EVIDENCE)
        return md_error_set(err, MD_ERR_TOO_LARGE, "field 'evidence' has %zu items; at most %d are accepted", n,
                            MAX_EVIDENCE);
    in->evidence = md_arena_calloc(&r->arena, n ? n : 1, sizeof *in->evidence);
    if (!in->evidence) return md_error_set(err, MD_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        json_t *item = json_array_get(arr, i);
        if (!json_is_object(item))
            return md_error_set(err, MD_ERR_INVALID_ARG, "field 'evidence[%zu]' must be an object, got %s", i,
                                json_type_name(item));
        md_buf names;
        md_buf_init(&names);
        size_t n_bad = 0;
        const char *key;
        json_t *val;
        json_object_foreach(item, key, val) {
            if (strcmp(key, "id") == 0 || strcmp(key, "status") == 0) continue;
            md_buf_appendf(&names, "%s'evidence[%zu].%s'", n_bad ? ", " : "", i, key);
            n_bad++;
        }
        if (n_bad) {
            md_status st = md_error_set(err, MD_ERR_INVALID_ARG, "unknown field%s %s", n_bad > 1 ? "s" : "",
                                        md_buf_ok(&names) ? names.data : "");
            md_buf_free(&names);
            return st;
        }
        md_buf_free(&names);
        json_t *id = json_object_get(item, "id"), *status = json_object_get(item, "status");
        if (!id) return md_error_set(err, MD_ERR_INVALID_ARG, "field 'evidence[%zu].id' is required", i);
        if (!json_is_string(id))
            return md_error_set(err, MD_ERR_INVALID_ARG, "field 'evidence[%zu].id' must be a string, got %s", i,
                                json_type_name(id));
        if (!status) return md_error_set(err, MD_ERR_INVALID_ARG, "field 'evidence[%zu].status' is required", i);
        if (!json_is_string(status))
            return md_error_set(err, MD_ERR_INVALID_ARG, "field 'evidence[%zu].status' must be a string, got %s", i,
                                json_type_name(status));
        int32_t obs = md_kb_observation_find(kb, json_string_value(id));
        if (obs < 0)
            return md_error_set(err, MD_ERR_INVALID_ARG, "field 'evidence[%zu].id': unknown observation '%s'", i,
                                json_string_value(id));
        md_obs_status s;
        if (!md_obs_status_parse(json_string_value(status), &s))
            return md_error_set(err, MD_ERR_INVALID_ARG,
                                "field 'evidence[%zu].status' must be \"present\", \"absent\" or \"unknown\", got '%s'",
                                i, json_string_value(status));
        in->evidence[i] = (srv_evidence){.obs = (uint32_t)obs, .status = s};
    }
    in->n_evidence = n;
    return MD_OK;
}

static md_status decode_fields(srv_request *r, json_t *root, uint32_t allowed, srv_input *in, md_error *err) {
    const md_kb *kb = r->srv->kb;
    md_status st = check_unknown_fields(root, allowed, "", err);
    if (st != MD_OK) return st;
    json_t *v;
    if ((v = json_object_get(root, "text"))) {
        if (!json_is_string(v))
            return md_error_set(err, MD_ERR_INVALID_ARG, "field 'text' must be a string, got %s", json_type_name(v));
        in->n_text_bytes = json_string_length(v);
        in->text = md_arena_strndup(&r->arena, json_string_value(v), in->n_text_bytes);
        if (!in->text) return md_error_set(err, MD_ERR_NOMEM, "out of memory");
    }
    if ((v = json_object_get(root, "age"))) {
        if (!json_is_number(v))
            return md_error_set(err, MD_ERR_INVALID_ARG, "field 'age' must be a number, got %s", json_type_name(v));
        double age = json_number_value(v);
        if (!(age >= 0 && age <= 130))
            return md_error_set(err, MD_ERR_INVALID_ARG, "field 'age' must be from 0 to 130 years, got %g", age);
        in->age_years = age;
    }
    if ((v = json_object_get(root, "sex"))) {
        if (!json_is_string(v))
            return md_error_set(err, MD_ERR_INVALID_ARG, "field 'sex' must be a string, got %s", json_type_name(v));
        if (!md_sex_parse(json_string_value(v), &in->sex) || in->sex == MD_SEX_UNKNOWN)
            return md_error_set(err, MD_ERR_INVALID_ARG, "field 'sex' must be \"male\" or \"female\", got '%s'",
                                json_string_value(v));
    }
    if ((v = json_object_get(root, "evidence"))) {
        st = decode_evidence(r, v, in, err);
        if (st != MD_OK) return st;
    }
    if ((v = json_object_get(root, "condition"))) {
        if (!json_is_string(v))
            return md_error_set(err, MD_ERR_INVALID_ARG, "field 'condition' must be a string, got %s",
                                json_type_name(v));
        in->condition = md_kb_condition_find(kb, json_string_value(v));
        if (in->condition < 0)
            return md_error_set(err, MD_ERR_INVALID_ARG, "field 'condition': unknown condition '%s'",
                                json_string_value(v));
    } else if (allowed & SRV_FIELD_CONDITION) {
        return md_error_set(err, MD_ERR_INVALID_ARG, "field 'condition' is required");
    }
    if ((v = json_object_get(root, "max_results"))) {
        if (!json_is_integer(v))
            return md_error_set(err, MD_ERR_INVALID_ARG, "field 'max_results' must be an integer, got %s",
                                json_is_real(v) ? "a fractional number" : json_type_name(v));
        json_int_t k = json_integer_value(v);
        if (k < 1 || k > MAX_RESULTS_LIMIT)
            return md_error_set(err, MD_ERR_INVALID_ARG, "field 'max_results' must be from 1 to %d, got %lld",
                                MAX_RESULTS_LIMIT, (long long)k);
        in->max_results = (int)k;
    }
    return MD_OK;
}

md_status srv_input_decode(srv_request *r, uint32_t allowed, bool need_case, srv_input *in, md_error *err) {
    memset(in, 0, sizeof *in);
    in->age_years = -1;
    in->condition = -1;
    const char *body = r->body.data;
    size_t n = r->body.len;
    if (!body || n == 0) return md_error_set(err, MD_ERR_EMPTY, "the request body is empty; send a JSON object");
    size_t bad = 0;
    if (!md_utf8_valid(body, n, &bad))
        return md_error_set(err, MD_ERR_UTF8, "the request body is not valid UTF-8 (byte %zu)", bad);
    json_error_t jerr;
    json_t *root = json_loadb(body, n, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return md_error_set(err, MD_ERR_PARSE, "malformed JSON at line %d, column %d: %s", jerr.line, jerr.column,
                            jerr.text);
    md_status st;
    if (!json_is_object(root))
        st = md_error_set(err, MD_ERR_INVALID_ARG, "the request body must be a JSON object, got %s",
                          json_type_name(root));
    else
        st = decode_fields(r, root, allowed, in, err);
    json_decref(root);
    if (st == MD_OK && need_case && !in->text && in->n_evidence == 0)
        st = md_error_set(err, MD_ERR_INVALID_ARG, "give 'text' or a non-empty 'evidence' array (or both)");
    return st;
}

md_status srv_case_build(const md_kb *kb, const srv_input *in, md_case **out, md_error *err) {
    *out = NULL;
    md_case *c = md_case_new(kb);
    if (!c) return md_error_set(err, MD_ERR_NOMEM, "out of memory");
    md_status st = MD_OK;
    if (in->text) {
        md_error text_err = {0};
        st = md_case_add_text(c, in->text, in->n_text_bytes, &text_err);
        if (st != MD_OK)
            md_error_set(err, st, "field 'text': %s", text_err.message[0] ? text_err.message : md_status_message(st));
    }
    for (size_t i = 0; st == MD_OK && i < in->n_evidence; i++)
        st = md_case_set(c, in->evidence[i].obs, in->evidence[i].status, err);
    if (st != MD_OK) {
        md_case_free(c);
        return st;
    }
    md_case_set_patient(c, in->age_years, in->sex);
    *out = c;
    return MD_OK;
}
