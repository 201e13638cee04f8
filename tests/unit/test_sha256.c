/* SHA-256 against the FIPS 180-2 / NIST CAVP example vectors (empty, "abc", the
 * 448- and 896-bit messages, one million 'a'), every split point of incremental
 * updates against the one-shot digest, the padding boundary lengths 55/56/63/64, and
 * the whitespace normalisation of the content hash. */
#include "check.h"
#include "medify/base.h"
#include "store/sha256.h"

#include <stdlib.h>
#include <string.h>

static void check_hex(const char *msg, size_t n, const char *want) {
    char hex[MD_SHA256_HEX_BYTES];
    md_sha256_hex(msg, n, hex);
    CHECK_EQ_STR(hex, want);
}

static void test_vectors(void) {
    check_hex("", 0, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    check_hex("abc", 3, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    const char *m448 = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    check_hex(m448, strlen(m448), "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    const char *m896 = "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu";
    check_hex(m896, strlen(m896), "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
    char *million = malloc(1000000);
    memset(million, 'a', 1000000);
    check_hex(million, 1000000, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
    /* The same million fed in uneven pieces. */
    md_sha256 c;
    md_sha256_init(&c);
    size_t pos = 0, step = 1;
    while (pos < 1000000) {
        size_t n = step < 1000000 - pos ? step : 1000000 - pos;
        md_sha256_update(&c, million + pos, n);
        pos += n;
        step = step * 3 % 1000 + 1;
    }
    uint8_t d[MD_SHA256_DIGEST_BYTES];
    char hex[MD_SHA256_HEX_BYTES];
    md_sha256_final(&c, d);
    md_sha256_to_hex(d, hex);
    CHECK_EQ_STR(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
    free(million);
}

/* Lengths around the padding boundary, computed with sha256sum (coreutils). */
static void test_padding_boundaries(void) {
    char buf[128];
    memset(buf, 'x', sizeof buf);
    check_hex(buf, 55, "d5e285683cd4efc02d021a5c62014694958901005d6f71e89e0989fac77e4072");
    check_hex(buf, 56, "04c26261370ee7541549d16dee320c723e3fd14671e66a099afe0a377c16888e");
    check_hex(buf, 63, "75220b47218278e656f2013bb8f0c455a25eaf01e86c64924e9d48d89776d6f2");
    check_hex(buf, 64, "7ce100971f64e7001e8fe5a51973ecdfe1ced42befe7ee8d5fd6219506b5393c");
}

static void test_splits(void) {
    char msg[300];
    for (size_t i = 0; i < sizeof msg; i++) msg[i] = (char)(i * 7 + 3);
    char want[MD_SHA256_HEX_BYTES];
    md_sha256_hex(msg, sizeof msg, want);
    for (size_t cut = 0; cut <= sizeof msg; cut++) {
        md_sha256 c;
        uint8_t d[MD_SHA256_DIGEST_BYTES];
        char hex[MD_SHA256_HEX_BYTES];
        md_sha256_init(&c);
        md_sha256_update(&c, msg, cut);
        md_sha256_update(&c, msg + cut, sizeof msg - cut);
        md_sha256_final(&c, d);
        md_sha256_to_hex(d, hex);
        CHECK_MSG(strcmp(hex, want) == 0, "split at %zu", cut);
    }
}

static void test_content_hash(void) {
    char a[MD_SHA256_HEX_BYTES], b[MD_SHA256_HEX_BYTES], plain[MD_SHA256_HEX_BYTES];
    const char *t1 = "A 45-year-old man   with\tchest pain.\n\nHe was admitted.";
    const char *t2 = "  A 45-year-old man with chest pain. He was admitted.\r\n";
    const char *norm = "A 45-year-old man with chest pain. He was admitted.";
    md_store_content_hash(t1, strlen(t1), a);
    md_store_content_hash(t2, strlen(t2), b);
    md_sha256_hex(norm, strlen(norm), plain);
    CHECK_EQ_STR(a, b);
    CHECK_EQ_STR(a, plain); /* the hash is SHA-256 of the normalised text itself */
    const char *t3 = "A 45-year-old man with chest pain. He was admitted!";
    md_store_content_hash(t3, strlen(t3), b);
    CHECK(strcmp(a, b) != 0);
    md_store_content_hash(" \n\t ", 4, a);
    CHECK_EQ_STR(a, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

int main(void) {
    test_vectors();
    test_padding_boundaries();
    test_splits();
    test_content_hash();
    return check_report("test_sha256");
}
