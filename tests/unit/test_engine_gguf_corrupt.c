/* The GGUF reader on hostile input: one hand-made bad file per failure class, each
 * built here in memory by a byte-level writer of its own (the real writer refuses to
 * make bad files) and fed to md_gguf_open_memory, expecting the exact status and a
 * message naming the field; the same files, committed under tests/corrupt/gguf/ with
 * their expectations in EXPECTED.tsv, opened from disk through md_gguf_open (and
 * checked to be byte-identical to what this file builds, so the two cannot drift);
 * then sweeps over a valid file: every truncation must be MD_ERR_PARSE until all
 * tensor data is present, and six byte values written at every position of the header
 * must each give MD_ERR_PARSE or a file that reads end to end, never a crash (ASan/UBSan).
 *
 * `test_engine_gguf_corrupt --write DIR` rewrites DIR/<case>.gguf and DIR/EXPECTED.tsv;
 * `--write-seeds DIR` writes the libFuzzer seed corpus (valid files and a few bad ones).
 */
#include "check.h"
#include "medify/gguf.h"
#include "medify/tensor.h"

#include <stdlib.h>
#include <string.h>

/* ---- a byte-level GGUF builder ------------------------------------------------------- */

typedef struct bb {
    uint8_t data[4096];
    size_t n;
} bb;

static void raw(bb *b, const void *p, size_t n) {
    if (b->n + n <= sizeof b->data) {
        memcpy(b->data + b->n, p, n);
        b->n += n;
    }
}
static void u32(bb *b, uint32_t v) { raw(b, &v, 4); }
static void u64(bb *b, uint64_t v) { raw(b, &v, 8); }
static void str(bb *b, const char *s) {
    u64(b, strlen(s));
    raw(b, s, strlen(s));
}
static void header(bb *b, uint32_t version, uint64_t n_tensors, uint64_t n_kv) {
    raw(b, "GGUF", 4);
    u32(b, version);
    u64(b, n_tensors);
    u64(b, n_kv);
}
static void kv_u32(bb *b, const char *key, uint32_t v) {
    str(b, key);
    u32(b, MD_GGUF_TYPE_UINT32);
    u32(b, v);
}
static void kv_str(bb *b, const char *key, const char *v) {
    str(b, key);
    u32(b, MD_GGUF_TYPE_STRING);
    str(b, v);
}
static void tensor1(bb *b, const char *name, uint32_t type, uint64_t ne0, uint64_t offset) {
    str(b, name);
    u32(b, 1);
    u64(b, ne0);
    u32(b, type);
    u64(b, offset);
}
static void pad(bb *b, size_t alignment) {
    static const uint8_t zeros[64];
    raw(b, zeros, (alignment - b->n % alignment) % alignment);
}
static void zeros(bb *b, size_t n) {
    for (size_t i = 0; i < n; i++) {
        raw(b, "", 1);
    }
}

/* The valid base every case departs from: one string key, one F32 tensor of 8. */
static void base_file(bb *b) {
    header(b, 3, 1, 1);
    kv_str(b, "general.architecture", "llama");
    tensor1(b, "w", MD_TENSOR_TYPE_F32, 8, 0);
    pad(b, 32);
    zeros(b, 32);
}

/* ---- the cases ----------------------------------------------------------------------- */

static void c_bad_magic(bb *b) {
    base_file(b);
    memcpy(b->data, "GGML", 4);
}
static void c_empty(bb *b) { (void)b; }
static void c_version_1(bb *b) {
    base_file(b);
    b->data[4] = 1;
}
static void c_version_99(bb *b) {
    base_file(b);
    b->data[4] = 99;
}
static void c_big_endian(bb *b) {
    base_file(b);
    uint32_t be3 = 0x03000000u;
    memcpy(b->data + 4, &be3, 4);
}
static void c_truncated_header(bb *b) {
    raw(b, "GGUF", 4);
    u32(b, 3);
    u32(b, 1); /* half of n_tensors */
}
static void c_huge_n_kv(bb *b) {
    header(b, 3, 0, (uint64_t)1 << 40);
    kv_u32(b, "a", 1);
}
static void c_huge_n_tensors(bb *b) {
    header(b, 3, (uint64_t)1 << 63, 0);
    tensor1(b, "w", 0, 8, 0);
}
static void c_counts_past_eof(bb *b) {
    header(b, 3, 0, 1000); /* within the limit, but 1000 keys cannot fit in what follows */
    kv_u32(b, "a", 1);
}
static void c_key_past_eof(bb *b) {
    header(b, 3, 0, 1);
    u64(b, 1000);
    raw(b, "general", 7);
}
static void c_key_too_long(bb *b) {
    header(b, 3, 0, 1);
    u64(b, MD_GGUF_MAX_KEY_BYTES + 1);
    zeros(b, 64);
}
static void c_empty_key(bb *b) {
    header(b, 3, 0, 1);
    kv_u32(b, "", 1);
}
static void c_key_with_nul(bb *b) {
    header(b, 3, 0, 1);
    u64(b, 5);
    raw(b, "ab\0cd", 5);
    u32(b, MD_GGUF_TYPE_UINT32);
    u32(b, 1);
}
static void c_string_past_eof(bb *b) {
    header(b, 3, 0, 1);
    str(b, "general.name");
    u32(b, MD_GGUF_TYPE_STRING);
    u64(b, 500);
    raw(b, "tiny", 4);
}
static void c_string_too_long(bb *b) {
    header(b, 3, 0, 1);
    str(b, "general.name");
    u32(b, MD_GGUF_TYPE_STRING);
    u64(b, (uint64_t)MD_GGUF_MAX_STRING_BYTES + 1);
    zeros(b, 64);
}
static void c_unknown_value_type(bb *b) {
    header(b, 3, 0, 1);
    str(b, "general.name");
    u32(b, 13);
    u32(b, 0);
}
static void c_value_past_eof(bb *b) {
    header(b, 3, 0, 1);
    str(b, "general.big");
    u32(b, MD_GGUF_TYPE_UINT64);
    u32(b, 7); /* 4 of the 8 bytes */
    /* the minimum-size check needs 14 bytes per key: this file has them */
}
static void c_unknown_array_type(bb *b) {
    header(b, 3, 0, 1);
    str(b, "a");
    u32(b, MD_GGUF_TYPE_ARRAY);
    u32(b, 42);
    u64(b, 1);
    u32(b, 0);
}
static void c_nested_array(bb *b) {
    header(b, 3, 0, 1);
    str(b, "a");
    u32(b, MD_GGUF_TYPE_ARRAY);
    u32(b, MD_GGUF_TYPE_ARRAY);
    u64(b, 1);
    u32(b, MD_GGUF_TYPE_UINT8);
    u64(b, 1);
    raw(b, "x", 1);
}
static void c_array_count_huge(bb *b) {
    header(b, 3, 0, 1);
    str(b, "a");
    u32(b, MD_GGUF_TYPE_ARRAY);
    u32(b, MD_GGUF_TYPE_UINT64);
    u64(b, (uint64_t)1 << 62); /* × 8 bytes would overflow 64 bits */
    u64(b, 0);
}
static void c_array_past_eof(bb *b) {
    header(b, 3, 0, 1);
    str(b, "a");
    u32(b, MD_GGUF_TYPE_ARRAY);
    u32(b, MD_GGUF_TYPE_UINT32);
    u64(b, 1000);
    u32(b, 1);
    u32(b, 2);
}
static void c_string_array_past_eof(bb *b) {
    header(b, 3, 0, 1);
    str(b, "tokenizer.ggml.tokens");
    u32(b, MD_GGUF_TYPE_ARRAY);
    u32(b, MD_GGUF_TYPE_STRING);
    u64(b, 100);
    str(b, "a");
    str(b, "b");
}
static void c_string_array_element_past_eof(bb *b) {
    header(b, 3, 0, 1);
    str(b, "tokenizer.ggml.tokens");
    u32(b, MD_GGUF_TYPE_ARRAY);
    u32(b, MD_GGUF_TYPE_STRING);
    u64(b, 2);
    str(b, "a");
    u64(b, 9); /* the second string claims 9 bytes; 8 remain */
    raw(b, "12345678", 8);
}
static void c_bad_bool(bb *b) {
    header(b, 3, 0, 1);
    str(b, "general.flag");
    u32(b, MD_GGUF_TYPE_BOOL);
    raw(b, "\x02", 1);
}
static void c_duplicate_key(bb *b) {
    header(b, 3, 0, 2);
    kv_u32(b, "llama.block_count", 2);
    kv_u32(b, "llama.block_count", 3);
}
static void c_alignment_not_pow2(bb *b) {
    header(b, 3, 0, 1);
    kv_u32(b, "general.alignment", 48);
}
static void c_alignment_zero(bb *b) {
    header(b, 3, 0, 1);
    kv_u32(b, "general.alignment", 0);
}
static void c_alignment_wrong_type(bb *b) {
    header(b, 3, 0, 1);
    str(b, "general.alignment");
    u32(b, MD_GGUF_TYPE_UINT64);
    u64(b, 32);
}
static void c_truncated_tensor_info(bb *b) {
    header(b, 3, 1, 1);
    kv_str(b, "general.architecture", "llama");
    str(b, "w");
    u32(b, 2);
    u64(b, 8); /* ne[1], type and offset missing, but 33 bytes remain in total */
    zeros(b, 0);
}
static void c_tensor_name_too_long(bb *b) {
    header(b, 3, 1, 0);
    tensor1(b, "a-tensor-name-that-is-exactly-sixty-four-bytes-long-0123456789ab", 0, 8, 0);
}
static void c_empty_tensor_name(bb *b) {
    header(b, 3, 1, 0);
    tensor1(b, "", 0, 8, 0);
    pad(b, 32);
    zeros(b, 32);
}
static void c_duplicate_tensor(bb *b) {
    header(b, 3, 2, 0);
    tensor1(b, "w", 0, 8, 0);
    tensor1(b, "w", 0, 8, 32);
    pad(b, 32);
    zeros(b, 64);
}
static void c_n_dims_5(bb *b) {
    header(b, 3, 1, 0);
    str(b, "w");
    u32(b, 5);
    for (int d = 0; d < 5; d++) {
        u64(b, 1);
    }
    u32(b, 0);
    u64(b, 0);
}
static void c_n_dims_0(bb *b) {
    header(b, 3, 1, 0);
    str(b, "w");
    u32(b, 0);
    u32(b, 0);
    u64(b, 0);
    zeros(b, 16);
}
static void c_zero_dim(bb *b) {
    header(b, 3, 1, 0);
    str(b, "w");
    u32(b, 2);
    u64(b, 8);
    u64(b, 0);
    u32(b, 0);
    u64(b, 0);
}
static void c_ne_above_int64(bb *b) {
    header(b, 3, 1, 0);
    str(b, "w");
    u32(b, 1);
    u64(b, (uint64_t)1 << 63);
    u32(b, 0);
    u64(b, 0);
}
static void c_ne_product_overflow(bb *b) {
    header(b, 3, 1, 0);
    str(b, "w");
    u32(b, 2);
    u64(b, (uint64_t)1 << 32);
    u64(b, (uint64_t)1 << 32);
    u32(b, 0);
    u64(b, 0);
}
static void c_byte_size_overflow(bb *b) {
    header(b, 3, 1, 0);
    str(b, "w");
    u32(b, 2);
    u64(b, (uint64_t)1 << 31);
    u64(b, (uint64_t)1 << 31); /* 2^62 elements fit int64, 2^64 bytes of F32 do not */
    u32(b, MD_TENSOR_TYPE_F32);
    u64(b, 0);
}
static void c_row_not_whole_blocks(bb *b) {
    header(b, 3, 1, 0);
    tensor1(b, "w", MD_TENSOR_TYPE_Q4_K, 100, 0);
    pad(b, 32);
    zeros(b, 144);
}
static void c_misaligned_offset(bb *b) {
    header(b, 3, 2, 0);
    tensor1(b, "a", MD_TENSOR_TYPE_F32, 4, 0);
    tensor1(b, "b", MD_TENSOR_TYPE_F32, 4, 16);
    pad(b, 32);
    zeros(b, 64);
}
static void c_data_past_eof(bb *b) {
    header(b, 3, 1, 0);
    tensor1(b, "w", MD_TENSOR_TYPE_F32, 64, 0); /* 256 bytes of data ... */
    pad(b, 32);
    zeros(b, 100); /* ... but only 100 in the file */
}
static void c_offset_overflow(bb *b) {
    header(b, 3, 1, 0);
    tensor1(b, "w", MD_TENSOR_TYPE_F32, 8, UINT64_MAX - 31); /* aligned; start overflows */
    pad(b, 32);
    zeros(b, 32);
}
static void c_unknown_type_past_eof(bb *b) {
    header(b, 3, 1, 0);
    tensor1(b, "w", 3 /* Q4_1: kept as unusable, but its offset is still checked */, 32, 4096);
    pad(b, 32);
    zeros(b, 32);
}
static void c_overlapping_tensors(bb *b) {
    header(b, 3, 2, 0);
    tensor1(b, "a", MD_TENSOR_TYPE_F32, 16, 0);
    tensor1(b, "b", MD_TENSOR_TYPE_F32, 8, 32); /* a covers [0, 64) */
    pad(b, 32);
    zeros(b, 64);
}
static void c_padding_past_eof(bb *b) {
    header(b, 3, 1, 0);
    tensor1(b, "w", MD_TENSOR_TYPE_F32, 1, 0); /* header ends at 57: data would start at 64 */
    zeros(b, 3);
}

typedef struct corrupt_case {
    const char *name;
    void (*build)(bb *b);
    md_status status;
    const char *message; /* a substring of the error message */
} corrupt_case;

static const corrupt_case k_cases[] = {
    {"bad_magic", c_bad_magic, MD_ERR_PARSE, "header: magic at offset 0: expected \"GGUF\""},
    {"empty_file", c_empty, MD_ERR_PARSE, "header: magic at offset 0: truncated"},
    {"version_1", c_version_1, MD_ERR_PARSE, "version at offset 4: GGUF version 1"},
    {"version_99", c_version_99, MD_ERR_PARSE, "version at offset 4: unsupported version 99"},
    {"big_endian", c_big_endian, MD_ERR_PARSE, "version at offset 4: big-endian GGUF"},
    {"truncated_header", c_truncated_header, MD_ERR_PARSE, "n_tensors at offset 8: truncated"},
    {"huge_n_kv", c_huge_n_kv, MD_ERR_PARSE, "n_kv at offset 16: 1099511627776 exceeds the limit"},
    {"huge_n_tensors", c_huge_n_tensors, MD_ERR_PARSE, "n_tensors at offset 8: 9223372036854775808 exceeds"},
    {"counts_past_eof", c_counts_past_eof, MD_ERR_PARSE, "n_tensors/n_kv at offset 8: 0 tensors and 1000 keys"},
    {"key_length_past_eof", c_key_past_eof, MD_ERR_PARSE, "key #0: key at offset 24: length 1000 runs past"},
    {"key_too_long", c_key_too_long, MD_ERR_PARSE, "key at offset 24: length 65536 exceeds the limit"},
    {"empty_key", c_empty_key, MD_ERR_PARSE, "key at offset 24: is empty"},
    {"key_with_nul", c_key_with_nul, MD_ERR_PARSE, "key at offset 32: contains a NUL byte"},
    {"string_value_past_eof", c_string_past_eof, MD_ERR_PARSE,
     "key #0 'general.name': string value at offset 48: length 500 runs past"},
    {"string_too_long", c_string_too_long, MD_ERR_PARSE, "string value at offset 48: length 16777217 exceeds"},
    {"unknown_value_type", c_unknown_value_type, MD_ERR_PARSE, "value type at offset 44: unknown type 13"},
    {"value_past_eof", c_value_past_eof, MD_ERR_PARSE, "value at offset 47: 1 uint64 values need more bytes"},
    {"unknown_array_type", c_unknown_array_type, MD_ERR_PARSE, "array element type at offset 37: unknown type 42"},
    {"nested_array", c_nested_array, MD_ERR_PARSE, "array element type at offset 37: arrays of arrays"},
    {"array_count_huge", c_array_count_huge, MD_ERR_PARSE, "array count at offset 41: 4611686018427387904 exceeds"},
    {"array_past_eof", c_array_past_eof, MD_ERR_PARSE, "array elements at offset 49: 1000 uint32 values need"},
    {"string_array_past_eof", c_string_array_past_eof, MD_ERR_PARSE,
     "array count at offset 61: 100 strings need at least 8 bytes each"},
    {"string_array_element_past_eof", c_string_array_element_past_eof, MD_ERR_PARSE,
     "array string at offset 78: length 9 runs past"},
    {"bad_bool", c_bad_bool, MD_ERR_PARSE, "value at offset 48: bool value 2 is neither 0 nor 1"},
    {"duplicate_key", c_duplicate_key, MD_ERR_PARSE, "key #1 'llama.block_count': key at offset 57: duplicate key"},
    {"alignment_not_power_of_two", c_alignment_not_pow2, MD_ERR_PARSE, "alignment 48 is not a power of two"},
    {"alignment_zero", c_alignment_zero, MD_ERR_PARSE, "'general.alignment': value at offset 53: alignment 0"},
    {"alignment_wrong_type", c_alignment_wrong_type, MD_ERR_PARSE, "must be uint32, found uint64"},
    {"truncated_tensor_info", c_truncated_tensor_info, MD_ERR_PARSE, "tensor #0 'w': ne[1] at offset 90: truncated"},
    {"tensor_name_too_long", c_tensor_name_too_long, MD_ERR_PARSE, "name at offset 24: length 64 exceeds the limit"},
    {"empty_tensor_name", c_empty_tensor_name, MD_ERR_PARSE, "tensor #0: name at offset 24: is empty"},
    {"duplicate_tensor_name", c_duplicate_tensor, MD_ERR_PARSE,
     "tensor #1 'w': name at offset 57: duplicate tensor name"},
    {"n_dims_5", c_n_dims_5, MD_ERR_PARSE, "n_dims at offset 33: 5 is outside 1..4"},
    {"n_dims_0", c_n_dims_0, MD_ERR_PARSE, "n_dims at offset 33: 0 is outside 1..4"},
    {"zero_dim", c_zero_dim, MD_ERR_PARSE, "ne[1] at offset 45: 0 is not a dimension size"},
    {"ne_above_int64", c_ne_above_int64, MD_ERR_PARSE, "ne[0] at offset 37: 9223372036854775808 is not a dimension"},
    {"ne_product_overflow", c_ne_product_overflow, MD_ERR_PARSE, "ne[1] at offset 45: the element count overflows"},
    {"byte_size_overflow", c_byte_size_overflow, MD_ERR_PARSE, "type at offset 53: the byte size of F32 data"},
    {"row_not_whole_blocks", c_row_not_whole_blocks, MD_ERR_PARSE,
     "type at offset 45: ne[0] = 100 is not a multiple of the Q4_K block size 256"},
    {"misaligned_offset", c_misaligned_offset, MD_ERR_PARSE,
     "tensor #1 'b': offset at offset 82: 16 is not a multiple of the alignment 32"},
    {"tensor_data_past_eof", c_data_past_eof, MD_ERR_PARSE,
     "offset at offset 49: data at data section + 0 (256 bytes)"},
    {"offset_overflow", c_offset_overflow, MD_ERR_PARSE,
     "offset at offset 49: data at data section + 18446744073709551584"},
    {"unknown_type_offset_past_eof", c_unknown_type_past_eof, MD_ERR_PARSE,
     "data at data section + 4096 (0 bytes) runs"},
    {"overlapping_tensors", c_overlapping_tensors, MD_ERR_PARSE, "tensor #1 'b': offset at offset 82: data overlaps"},
    {"padding_past_eof", c_padding_past_eof, MD_ERR_PARSE, "data section: padding at offset 57: the data section"},
};

/* ---- checks ------------------------------------------------------------------------------ */

static void check_case_memory(const corrupt_case *c) {
    bb b = {.n = 0};
    c->build(&b);
    md_gguf *g = NULL;
    md_error err;
    /* A heap copy of exactly the file's size, so ASan catches any read past the end. */
    uint8_t *copy = malloc(b.n ? b.n : 1);
    memcpy(copy, b.data, b.n);
    md_status st = md_gguf_open_memory(copy, b.n, &g, &err);
    CHECK_MSG(st == c->status, "%s: status %s, want %s (%s)", c->name, md_status_name(st), md_status_name(c->status),
              st == MD_OK ? "opened" : err.message);
    if (st != MD_OK) {
        CHECK_MSG(strstr(err.message, c->message) != NULL, "%s: message \"%s\" lacks \"%s\"", c->name, err.message,
                  c->message);
        CHECK_MSG(strstr(err.message, " at offset ") != NULL, "%s: message names no offset", c->name);
    }
    md_gguf_close(g);
    free(copy);
}

static const corrupt_case *find_case(const char *name) {
    for (size_t i = 0; i < MD_ARRAY_LEN(k_cases); i++) {
        if (strcmp(k_cases[i].name, name) == 0) {
            return &k_cases[i];
        }
    }
    return NULL;
}

/* Reads EXPECTED.tsv (name, status name, message substring) and opens every file. */
static void check_committed_files(void) {
    const char *src = getenv("MEDIFY_SOURCE_DIR");
    if (!src) {
        fprintf(stderr, "test_engine_gguf_corrupt: SKIP committed files: MEDIFY_SOURCE_DIR unset\n");
        return;
    }
    char path[1024];
    snprintf(path, sizeof path, "%s/tests/corrupt/gguf/EXPECTED.tsv", src);
    char *tsv;
    size_t n_tsv;
    md_error err;
    CHECK_MSG(md_read_file(path, 1 << 20, &tsv, &n_tsv, &err) == MD_OK, "%s", err.message);
    if (!tsv) {
        return;
    }
    size_t n_rows = 0;
    for (char *line = strtok(tsv, "\n"); line; line = strtok(NULL, "\n")) {
        if (line[0] == '#' || line[0] == '\0') {
            continue;
        }
        char *tab1 = strchr(line, '\t'), *tab2 = tab1 ? strchr(tab1 + 1, '\t') : NULL;
        CHECK_MSG(tab1 && tab2, "EXPECTED.tsv: malformed line \"%s\"", line);
        if (!tab1 || !tab2) {
            continue;
        }
        *tab1 = *tab2 = '\0';
        const char *name = line, *status = tab1 + 1, *message = tab2 + 1;
        n_rows++;
        const corrupt_case *c = find_case(name);
        CHECK_MSG(c != NULL, "EXPECTED.tsv: %s is not a case of this test", name);
        if (c) {
            CHECK_EQ_STR(status, md_status_name(c->status));
            CHECK_EQ_STR(message, c->message);
        }
        char file[1024];
        snprintf(file, sizeof file, "%s/tests/corrupt/gguf/%s.gguf", src, name);
        md_gguf *g = NULL;
        md_status st = md_gguf_open(file, &g, &err);
        CHECK_MSG(strcmp(md_status_name(st), status) == 0, "%s.gguf: status %s, want %s", name, md_status_name(st),
                  status);
        if (st != MD_OK) {
            CHECK_MSG(strstr(err.message, message) != NULL, "%s.gguf: \"%s\" lacks \"%s\"", name, err.message, message);
            CHECK_MSG(strstr(err.message, name) != NULL, "%s.gguf: message does not name the file", name);
        }
        md_gguf_close(g);
        /* The committed bytes are what this test builds. */
        char *bytes;
        size_t n;
        if (c && md_read_file(file, 1 << 20, &bytes, &n, &err) == MD_OK) {
            bb b = {.n = 0};
            c->build(&b);
            CHECK_MSG(n == b.n && memcmp(bytes, b.data, n) == 0, "%s.gguf differs from the case (rerun --write)", name);
            md_free(bytes);
        }
    }
    CHECK_EQ_INT(n_rows, MD_ARRAY_LEN(k_cases));
    md_free(tsv);
}

/* A valid file with one tensor of each type and a string array, from the real writer. */
static void valid_file(md_buf *out) {
    md_gguf_writer *w = md_gguf_writer_new();
    static const char *const toks[] = {"a", "bc", "<s>"};
    md_gguf_writer_set_str(w, "general.architecture", "llama");
    md_gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", toks, 3);
    md_gguf_writer_set_f32(w, "llama.rope.freq_base", 10000.0f);
    md_gguf_writer_set_bool(w, "b", true);
    static const md_tensor_type types[] = {MD_TENSOR_TYPE_F32,  MD_TENSOR_TYPE_F16,  MD_TENSOR_TYPE_BF16,
                                           MD_TENSOR_TYPE_Q8_0, MD_TENSOR_TYPE_Q4_0, MD_TENSOR_TYPE_Q4_K,
                                           MD_TENSOR_TYPE_Q5_K, MD_TENSOR_TYPE_Q6_K};
    uint8_t data[256 * 4] = {0};
    for (size_t i = 0; i < MD_ARRAY_LEN(types); i++) {
        const md_tensor_traits *t = md_tensor_traits_get(types[i]);
        uint64_t ne[2] = {t->block_size == 1 ? 4 : t->block_size, 1};
        uint64_t n_bytes;
        md_tensor_row_bytes(types[i], ne[0], &n_bytes);
        char name[16];
        snprintf(name, sizeof name, "t.%s", t->name);
        md_gguf_writer_add_tensor(w, name, types[i], 2, ne, data, (size_t)n_bytes);
    }
    md_error err;
    md_gguf_writer_write_buf(w, out, &err);
    md_gguf_writer_free(w);
}

/* Every truncation of a valid file is an error until all tensor data is present; each
 * of six byte values at each header position is an error or a file that reads. */
static void test_sweeps(void) {
    md_buf b;
    md_buf_init(&b);
    valid_file(&b);
    md_gguf *g = NULL;
    md_error err;
    CHECK(md_gguf_open_memory(b.data, b.len, &g, &err) == MD_OK);
    uint64_t data_end = 0, header_end = md_gguf_data_offset(g);
    for (size_t i = 0; i < md_gguf_n_tensors(g); i++) {
        const md_gguf_tensor *t = md_gguf_tensor_at(g, i);
        uint64_t end = md_gguf_data_offset(g) + t->offset + t->n_bytes;
        data_end = end > data_end ? end : data_end;
    }
    md_gguf_close(g);
    int n_wrong = 0;
    for (size_t len = 0; len <= b.len; len++) {
        uint8_t *copy = malloc(len ? len : 1);
        memcpy(copy, b.data, len);
        md_status st = md_gguf_open_memory(copy, len, &g, &err);
        n_wrong += (len < data_end) ? st != MD_ERR_PARSE : st != MD_OK;
        md_gguf_close(g);
        g = NULL;
        free(copy);
    }
    CHECK_EQ_INT(n_wrong, 0);
    int n_bad_status = 0;
    static const uint8_t values[] = {0x00, 0x01, 0x20, 0x7f, 0x80, 0xff};
    uint8_t *copy = malloc(b.len);
    for (size_t pos = 0; pos < header_end; pos++) {
        for (size_t v = 0; v < MD_ARRAY_LEN(values); v++) {
            memcpy(copy, b.data, b.len);
            copy[pos] = values[v];
            md_status st = md_gguf_open_memory(copy, b.len, &g, &err);
            n_bad_status += st != MD_OK && st != MD_ERR_PARSE;
            if (st == MD_OK) { /* what opened must be readable end to end */
                for (size_t i = 0; i < md_gguf_n_tensors(g); i++) {
                    const md_gguf_tensor *t = md_gguf_tensor_at(g, i);
                    if (t->usable && t->ne[0] <= 4096 && t->n_bytes > 0) {
                        float row[4096];
                        md_dequantize_row((md_tensor_type)t->type, t->data, row, (int64_t)t->ne[0]);
                    }
                }
                for (size_t i = 0; i < md_gguf_n_kv(g); i++) {
                    const char *s;
                    size_t n;
                    md_gguf_arr_str(g, md_gguf_key_at(g, i), 2, &s, &n);
                }
                md_gguf_close(g);
            }
            g = NULL;
        }
    }
    CHECK_EQ_INT(n_bad_status, 0);
    free(copy);
    md_buf_free(&b);
}

/* ---- --write modes ---------------------------------------------------------------------- */

static int write_file(const char *dir, const char *name, const void *bytes, size_t n) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(bytes, 1, n, f) != n || fclose(f) != 0) {
        perror(path);
        return 1;
    }
    return 0;
}

static int write_corrupt(const char *dir) {
    md_buf tsv;
    md_buf_init(&tsv);
    md_buf_append_str(&tsv, "# One bad GGUF per failure class, written by test_engine_gguf_corrupt --write.\n"
                            "# name\texpected status\tsubstring of the error message\n");
    int rc = 0;
    for (size_t i = 0; i < MD_ARRAY_LEN(k_cases); i++) {
        bb b = {.n = 0};
        k_cases[i].build(&b);
        char name[128];
        snprintf(name, sizeof name, "%s.gguf", k_cases[i].name);
        rc |= write_file(dir, name, b.data, b.n);
        md_buf_appendf(&tsv, "%s\t%s\t%s\n", k_cases[i].name, md_status_name(k_cases[i].status), k_cases[i].message);
    }
    rc |= write_file(dir, "EXPECTED.tsv", tsv.data, tsv.len);
    md_buf_free(&tsv);
    return rc;
}

static int write_seeds(const char *dir) {
    md_buf b;
    md_buf_init(&b);
    valid_file(&b);
    int rc = write_file(dir, "valid_all_types.gguf", b.data, b.len);
    md_buf_free(&b);
    bb base = {.n = 0};
    base_file(&base);
    rc |= write_file(dir, "valid_minimal.gguf", base.data, base.n);
    static const char *const picks[] = {"duplicate_key", "string_array_element_past_eof", "overlapping_tensors",
                                        "row_not_whole_blocks", "nested_array"};
    for (size_t i = 0; i < MD_ARRAY_LEN(picks); i++) {
        const corrupt_case *c = find_case(picks[i]);
        bb x = {.n = 0};
        c->build(&x);
        char name[128];
        snprintf(name, sizeof name, "bad_%s.gguf", picks[i]);
        rc |= write_file(dir, name, x.data, x.n);
    }
    return rc;
}

int main(int argc, char **argv) {
    if (argc == 3 && strcmp(argv[1], "--write") == 0) {
        return write_corrupt(argv[2]);
    }
    if (argc == 3 && strcmp(argv[1], "--write-seeds") == 0) {
        return write_seeds(argv[2]);
    }
    for (size_t i = 0; i < MD_ARRAY_LEN(k_cases); i++) {
        check_case_memory(&k_cases[i]);
    }
    check_committed_files();
    test_sweeps();
    return check_report("test_engine_gguf_corrupt");
}
