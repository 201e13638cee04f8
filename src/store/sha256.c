/* sha256.c: SHA-256 as specified in FIPS 180-4 (sections 4.1.2, 4.2.2, 5.1.1, 6.2),
 * and the store's whitespace-normalised content hash.
 *
 * The message is processed in 64-byte blocks; a partial block waits in the context.
 * Padding (5.1.1) appends 0x80, zeros up to 56 mod 64, and the bit length as a 64-bit
 * big-endian integer. The content hash streams the normalised text through the
 * context without building a normalised copy.
 */
#include "store/sha256.h"

#include <string.h>

/* FIPS 180-4, 4.2.2: the first 32 bits of the fractional parts of the cube roots of
 * the first 64 primes. */
static const uint32_t k_round[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

/* A macro, not a function: unoptimised (debug, sanitizer) builds hash several times
 * faster without a call per rotation. n is 2..25, never 0. */
#define ROTR(x, n) (((x) >> (n)) | ((x) << (32 - (n))))

/* FIPS 180-4, 6.2.2: one block. */
static void compress(uint32_t h[8], const uint8_t block[64]) {
    uint32_t w[64];
    for (int t = 0; t < 16; t++)
        w[t] = (uint32_t)block[4 * t] << 24 | (uint32_t)block[4 * t + 1] << 16 | (uint32_t)block[4 * t + 2] << 8 |
               (uint32_t)block[4 * t + 3];
    for (int t = 16; t < 64; t++) {
        uint32_t s0 = ROTR(w[t - 15], 7) ^ ROTR(w[t - 15], 18) ^ (w[t - 15] >> 3);
        uint32_t s1 = ROTR(w[t - 2], 17) ^ ROTR(w[t - 2], 19) ^ (w[t - 2] >> 10);
        w[t] = w[t - 16] + s0 + w[t - 7] + s1;
    }
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], hh = h[7];
    for (int t = 0; t < 64; t++) {
        uint32_t S1 = ROTR(e, 6) ^ ROTR(e, 11) ^ ROTR(e, 25);
        uint32_t ch = (e & f) ^ (~e & g);
        uint32_t t1 = hh + S1 + ch + k_round[t] + w[t];
        uint32_t S0 = ROTR(a, 2) ^ ROTR(a, 13) ^ ROTR(a, 22);
        uint32_t maj = (a & b) ^ (a & c) ^ (b & c);
        uint32_t t2 = S0 + maj;
        hh = g;
        g = f;
        f = e;
        e = d + t1;
        d = c;
        c = b;
        b = a;
        a = t1 + t2;
    }
    h[0] += a;
    h[1] += b;
    h[2] += c;
    h[3] += d;
    h[4] += e;
    h[5] += f;
    h[6] += g;
    h[7] += hh;
}

void md_sha256_init(md_sha256 *c) {
    /* FIPS 180-4, 5.3.3 */
    static const uint32_t h0[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                   0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
    memcpy(c->h, h0, sizeof h0);
    c->n_bytes = 0;
    c->n_block = 0;
}

void md_sha256_update(md_sha256 *c, const void *bytes, size_t n_bytes) {
    const uint8_t *p = bytes;
    c->n_bytes += n_bytes;
    if (c->n_block > 0) {
        size_t take = 64 - c->n_block < n_bytes ? 64 - c->n_block : n_bytes;
        memcpy(c->block + c->n_block, p, take);
        c->n_block += take;
        p += take;
        n_bytes -= take;
        if (c->n_block < 64) return;
        compress(c->h, c->block);
        c->n_block = 0;
    }
    while (n_bytes >= 64) {
        compress(c->h, p);
        p += 64;
        n_bytes -= 64;
    }
    if (n_bytes > 0) {
        memcpy(c->block, p, n_bytes);
        c->n_block = n_bytes;
    }
}

void md_sha256_final(md_sha256 *c, uint8_t out[MD_SHA256_DIGEST_BYTES]) {
    uint64_t n_bits = c->n_bytes * 8;
    uint8_t pad[72] = {0x80};
    size_t n_pad = (c->n_block < 56 ? 56 : 120) - c->n_block;
    for (int i = 0; i < 8; i++) pad[n_pad + (size_t)i] = (uint8_t)(n_bits >> (56 - 8 * i));
    uint64_t n_keep = c->n_bytes;
    md_sha256_update(c, pad, n_pad + 8);
    c->n_bytes = n_keep;
    for (int i = 0; i < 8; i++) {
        out[4 * i] = (uint8_t)(c->h[i] >> 24);
        out[4 * i + 1] = (uint8_t)(c->h[i] >> 16);
        out[4 * i + 2] = (uint8_t)(c->h[i] >> 8);
        out[4 * i + 3] = (uint8_t)c->h[i];
    }
}

void md_sha256_to_hex(const uint8_t digest[MD_SHA256_DIGEST_BYTES], char out[MD_SHA256_HEX_BYTES]) {
    static const char k_hex[] = "0123456789abcdef";
    for (int i = 0; i < MD_SHA256_DIGEST_BYTES; i++) {
        out[2 * i] = k_hex[digest[i] >> 4];
        out[2 * i + 1] = k_hex[digest[i] & 15];
    }
    out[64] = '\0';
}

void md_sha256_hex(const void *bytes, size_t n_bytes, char out[MD_SHA256_HEX_BYTES]) {
    md_sha256 c;
    uint8_t d[MD_SHA256_DIGEST_BYTES];
    md_sha256_init(&c);
    md_sha256_update(&c, bytes, n_bytes);
    md_sha256_final(&c, d);
    md_sha256_to_hex(d, out);
}

static bool is_ws(char ch) { return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\f' || ch == '\v'; }

void md_store_content_hash(const char *text, size_t n_bytes, char out[MD_SHA256_HEX_BYTES]) {
    md_sha256 c;
    uint8_t d[MD_SHA256_DIGEST_BYTES];
    char buf[4096]; /* normalised bytes wait here so the hash sees few, large updates */
    size_t n_buf = 0;
    bool any = false;       /* a word has been written */
    bool need_space = false; /* a whitespace run lies between the last word and the next */
    md_sha256_init(&c);
    for (size_t i = 0; i < n_bytes; i++) {
        char ch = text[i];
        if (is_ws(ch)) {
            need_space = any;
            continue;
        }
        if (n_buf + 2 > sizeof buf) {
            md_sha256_update(&c, buf, n_buf);
            n_buf = 0;
        }
        if (need_space) buf[n_buf++] = ' ';
        buf[n_buf++] = ch;
        need_space = false;
        any = true;
    }
    md_sha256_update(&c, buf, n_buf);
    md_sha256_final(&c, d);
    md_sha256_to_hex(d, out);
}
