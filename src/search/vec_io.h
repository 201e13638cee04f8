/* The vector index file format (private to src/search; tests use it to forge
 * corrupt files).
 *
 * Little-endian. A 192-byte header, then six sections, each starting on a 64-byte
 * boundary (so a mapping gives aligned arrays) with zero padding between them:
 *
 *   off  size  field
 *     0     8  magic "MDVINDEX"
 *     8     4  version (MDV_FILE_VERSION)
 *    12     4  header_bytes (192)
 *    16    36  kind, dim, metric, storage, m, ef_construction, ef_search,
 *              max_level, entry (u32 each; entry = 0xffffffff when empty)
 *    52     4  reserved (0)
 *    56    48  seed, rng state, n_nodes, n_deleted, n_upper (u32 words),
 *              record_bytes (u64 each)
 *   104    48  offsets of: records, ids, levels, deleted, upper_off, upper (u64 each)
 *   152     8  file_bytes (u64): the exact file length
 *   160     4  checksum: CRC-32C of bytes [192, file_bytes) followed by the header
 *              with this field zeroed
 *   164    28  reserved (0)
 *
 * Sections: records (n_nodes * record_bytes, vec_index.h), ids (u64), levels (u8),
 * deleted (u8), upper_off (u64), upper (n_upper u32).
 */
#ifndef MEDIFY_SEARCH_VEC_IO_H
#define MEDIFY_SEARCH_VEC_IO_H

#include <stddef.h>
#include <stdint.h>

#define MDV_FILE_MAGIC        "MDVINDEX"
#define MDV_FILE_VERSION      1u
#define MDV_FILE_HEADER_BYTES 192u
#define MDV_FILE_ALIGN        64u
#define MDV_FILE_OFF_N_NODES  72u
#define MDV_FILE_OFF_CHECKSUM 160u

/* CRC-32C (Castagnoli), chainable: crc = mdv_crc32c(crc, more, n), starting from 0.
 * SSE4.2's crc32 instruction when CPUID has it, a table otherwise. */
uint32_t mdv_crc32c(uint32_t crc, const void *bytes, size_t n_bytes);

#endif
