/* SHA-256 (FIPS 180-4) and the store's content hash. Private to src/store. */
#ifndef MEDIFY_STORE_SHA256_H
#define MEDIFY_STORE_SHA256_H

#include "medify/base.h"

#define MD_SHA256_DIGEST_BYTES 32
#define MD_SHA256_HEX_BYTES 65 /* 64 hex digits + NUL */

typedef struct md_sha256 {
    uint32_t h[8];
    uint64_t n_bytes;   /* message length so far */
    uint8_t block[64];  /* pending partial block */
    size_t n_block;     /* bytes in block */
} md_sha256;

void md_sha256_init(md_sha256 *c);
void md_sha256_update(md_sha256 *c, const void *bytes, size_t n_bytes);
void md_sha256_final(md_sha256 *c, uint8_t out[MD_SHA256_DIGEST_BYTES]);
/* One-shot digest as lower-case hex. */
void md_sha256_hex(const void *bytes, size_t n_bytes, char out[MD_SHA256_HEX_BYTES]);
void md_sha256_to_hex(const uint8_t digest[MD_SHA256_DIGEST_BYTES], char out[MD_SHA256_HEX_BYTES]);

/* The content hash of a case: SHA-256 (hex) of the text with every run of ASCII
 * whitespace turned into one space and leading/trailing whitespace removed, so the
 * same summary re-wrapped or re-indented hashes the same. Allocates nothing. */
void md_store_content_hash(const char *text, size_t n_bytes, char out[MD_SHA256_HEX_BYTES]);

#endif
