/* handlers_static.h: the web UI's files (web/, embedded at build time), served by
 * handlers_static.c. Private to the server module. */
#ifndef MEDIFY_SERVER_HANDLERS_STATIC_H
#define MEDIFY_SERVER_HANDLERS_STATIC_H

#include "server/server_internal.h"

struct MHD_Response;

/* GET /: web/index.html. */
md_status srv_handle_static_index(srv_request *r, md_error *err);
/* GET /assets/{name}: one file of web/ by name; 404 for anything else. */
md_status srv_handle_static_asset(srv_request *r, md_error *err);

/* True for the two routes above. */
bool srv_route_is_static(const srv_route *route);

/* The headers of a static answer, added to resp in place of the API's
 * "Cache-Control: no-store": ETag, Cache-Control (revalidate every time), the
 * Content-Security-Policy, Referrer-Policy and framing refusal. */
void srv_static_headers(const srv_request *r, struct MHD_Response *resp);

#endif /* MEDIFY_SERVER_HANDLERS_STATIC_H */
