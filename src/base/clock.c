/* clock.c: monotonic time for measuring, wall time for timestamps.
 *
 * md_clock_monotonic_ns reads CLOCK_MONOTONIC (POSIX.1-2008), which never jumps when
 * the wall clock is set, so differences of it are durations. md_clock_wall_iso8601
 * formats CLOCK_REALTIME in UTC as RFC 3339 with milliseconds, the form log lines and
 * API responses carry ("2026-11-28T17:57:32.123Z").
 */
#include "medify/base.h"

#include <time.h>

uint64_t md_clock_monotonic_ns(void) {
    struct timespec ts;
    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0) {
        return 0;
    }
    return (uint64_t)ts.tv_sec * UINT64_C(1000000000) + (uint64_t)ts.tv_nsec;
}

void md_clock_wall_iso8601(char out[32]) {
    struct timespec ts;
    struct tm tm;
    if (clock_gettime(CLOCK_REALTIME, &ts) != 0 || !gmtime_r(&ts.tv_sec, &tm)) {
        snprintf(out, 32, "%s", "1970-01-01T00:00:00.000Z");
        return;
    }
    size_t n = strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
    if (n == 0 || n > 32 - sizeof(".000Z")) {
        snprintf(out, 32, "%s", "1970-01-01T00:00:00.000Z");
        return;
    }
    unsigned ms = (unsigned)(ts.tv_nsec / 1000000) % 1000u;
    snprintf(out + n, 32 - n, ".%03uZ", ms);
}
