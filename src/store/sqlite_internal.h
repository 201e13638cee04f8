/* Shared between the SQLite backend's files (sqlite_store.c, sqlite_product.c). */
#ifndef MEDIFY_STORE_SQLITE_INTERNAL_H
#define MEDIFY_STORE_SQLITE_INTERNAL_H

#include <sqlite3.h>

#include "store/store_ops.h"

/* The connection of a store opened by the SQLite backend. */
sqlite3 *md_sqlite_store_db(md_store *s);

#endif
