/* io.c: bounded whole-stream reads.
 *
 * Input size is hostile: a request body, an uploaded file or a pipe may be endless.
 * md_read_stream reads in chunks and never asks for more than max_bytes + 1 bytes in
 * total; seeing that extra byte is how it knows the input is too large, so it stops
 * without reading (or allocating for) the rest. The result is NUL-terminated so text
 * parsers can use it directly, and n_out gives the true length (the data may hold
 * NUL bytes).
 *
 * On any failure *out is NULL and nothing is leaked.
 */
#include "medify/base.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#define IO_CHUNK_BYTES (64u * 1024u)

md_status md_read_stream(FILE *f, size_t max_bytes, char **out, size_t *n_out, md_error *err) {
    if (out) {
        *out = NULL;
    }
    if (n_out) {
        *n_out = 0;
    }
    if (!f || !out) {
        return md_error_set(err, MD_ERR_INVALID_ARG, "md_read_stream: no stream or no output");
    }
    md_buf b;
    md_buf_init(&b);
    for (;;) {
        /* Ask for at most (max_bytes - b.len) + 1 bytes: one past the limit is enough
         * to know the input is too large. */
        size_t remaining = max_bytes - b.len;
        size_t want = remaining < IO_CHUNK_BYTES ? remaining + 1 : IO_CHUNK_BYTES;
        if (!md_buf_reserve(&b, want)) {
            md_buf_free(&b);
            return md_error_set(err, MD_ERR_NOMEM, "out of memory reading input");
        }
        size_t got = fread(b.data + b.len, 1, want, f);
        b.len += got;
        b.data[b.len] = '\0';
        if (b.len > max_bytes) {
            md_buf_free(&b);
            return md_error_set(err, MD_ERR_TOO_LARGE, "input is larger than %zu bytes", max_bytes);
        }
        if (got < want) {
            if (ferror(f)) {
                int e = errno;
                md_buf_free(&b);
                return md_error_set(err, MD_ERR_IO, "read error: %s", e ? strerror(e) : "unknown");
            }
            break; /* end of file */
        }
    }
    size_t n = b.len;
    char *data = md_buf_steal(&b);
    if (!data) {
        return md_error_set(err, MD_ERR_NOMEM, "out of memory reading input");
    }
    *out = data;
    if (n_out) {
        *n_out = n;
    }
    return MD_OK;
}

md_status md_read_file(const char *path, size_t max_bytes, char **out, size_t *n_out,
                       md_error *err) {
    if (out) {
        *out = NULL;
    }
    if (n_out) {
        *n_out = 0;
    }
    if (!path || !out) {
        return md_error_set(err, MD_ERR_INVALID_ARG, "md_read_file: no path or no output");
    }
    FILE *f = fopen(path, "rb");
    if (!f) {
        int e = errno;
        md_status st = e == ENOENT ? MD_ERR_NOT_FOUND : e == EACCES ? MD_ERR_FORBIDDEN : MD_ERR_IO;
        return md_error_set(err, st, "%s: %s", path, strerror(e));
    }
    struct stat sb;
    if (fstat(fileno(f), &sb) == 0) {
        if (S_ISDIR(sb.st_mode)) {
            fclose(f);
            return md_error_set(err, MD_ERR_IO, "%s: is a directory", path);
        }
        /* A regular file's size is known up front: refuse it without reading. */
        if (S_ISREG(sb.st_mode) && (uintmax_t)sb.st_size > (uintmax_t)max_bytes) {
            fclose(f);
            return md_error_set(err, MD_ERR_TOO_LARGE, "%s: larger than %zu bytes", path,
                                max_bytes);
        }
    }
    md_error inner;
    md_error_clear(&inner);
    md_status st = md_read_stream(f, max_bytes, out, n_out, &inner);
    fclose(f);
    if (st != MD_OK) {
        return md_error_set(err, st, "%s: %s", path, inner.message);
    }
    return MD_OK;
}
