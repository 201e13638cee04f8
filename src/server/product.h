/* Private helpers of the product handlers (accounts, interviews, reports): strict JSON
 * field access over jansson, shared by handlers_*.c. */
#ifndef MEDIFY_SERVER_PRODUCT_H
#define MEDIFY_SERVER_PRODUCT_H

#include <jansson.h>

#include "server/server_internal.h"

/* A string field: absent → *out NULL (MD_ERR_INVALID_ARG when required); wrong type,
 * longer than max_bytes or containing NUL → MD_ERR_INVALID_ARG naming the field. The
 * string stays owned by obj. */
md_status srv_field_str(json_t *obj, const char *name, bool required, size_t max_bytes, const char **out,
                        md_error *err);
/* A number field in [min, max]; absent → *present false. */
md_status srv_field_num(json_t *obj, const char *name, double min, double max, double *out, bool *present,
                        md_error *err);
/* A boolean field; absent → *present false. */
md_status srv_field_bool(json_t *obj, const char *name, bool *out, bool *present, md_error *err);
/* An integer id field (>= 0) or null (→ 0); absent → *present false. */
md_status srv_field_id(json_t *obj, const char *name, int64_t *out, bool *present, md_error *err);

/* Loads the request body as an object with only `fields` (NULL-terminated). */
md_status srv_body_object(srv_request *r, const char *const *fields, json_t **out, md_error *err);

/* For POST routes without parameters: an empty body or an empty JSON object. */
md_status srv_body_none(srv_request *r, md_error *err);

/* Finishes a handler: MD_OK when the response buffer is intact. */
md_status srv_resp_ok(srv_request *r, md_error *err);

#endif
