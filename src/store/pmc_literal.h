/* Parsers for the Python-literal columns of PMC-Patients. Private to src/store.
 *
 *   age                 a list of [value, unit] pairs: [[1.0, 'year'], [6.0, 'month']]
 *   relevant_articles,  dicts from an id string to a relevance number:
 *   similar_patients    {'123': 1, '456': 2}
 *
 * Both accept single- or double-quoted strings, so the JSON spelling of the same
 * values (as in the PMC-Patients JSON release) parses too. Malformed input gives
 * MD_ERR_PARSE with a reason in err ("age: unknown unit 'decade'").
 */
#ifndef MEDIFY_STORE_PMC_LITERAL_H
#define MEDIFY_STORE_PMC_LITERAL_H

#include "medify/base.h"

#define MD_PMC_MAX_AGE_YEARS 150.0 /* older is a data error, not a patient */
#define MD_PMC_MAX_LITERAL_ITEMS 100000 /* dict entries or age pairs in one field */

/* Sums the pairs into years (month = 1/12 year, week = 7 days, day = 1/365.25 year,
 * hour = 1/24 day; plural unit names accepted). An empty list gives *age_years = -1
 * (unknown). Rejects negative or non-finite values, unknown units and ages above
 * MD_PMC_MAX_AGE_YEARS. */
md_status md_pmc_age_parse(const char *s, size_t n_bytes, double *age_years, md_error *err);

/* Appends the dict as a compact JSON object ({"123":1,"456":2}) to out, keys in input
 * order. Values must be numbers (ints or floats, as written: they are copied, not
 * re-formatted) or True/False; duplicate keys are rejected. On error out is left as
 * it was. */
md_status md_pmc_dict_to_json(const char *s, size_t n_bytes, md_buf *out, md_error *err);

#endif
