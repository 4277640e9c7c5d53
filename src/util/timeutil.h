/* Time: UTC parsing and formatting, the 5-minute grid, site-local time zones. */
#ifndef PVTAP_UTIL_TIMEUTIL_H
#define PVTAP_UTIL_TIMEUTIL_H

#include <stddef.h>
#include <stdint.h>

enum { INTERVAL_S = 300 };

/* Wall clock, UTC seconds; monotonic milliseconds. */
int64_t time_now_s(void);
int64_t time_mono_ms(void);

/* "YYYYmmddHHMMSS" (the supervisor's UTC stamps), exactly len bytes. */
int time_parse_compact_utc(const char *s, size_t len, int64_t *out);
/* "2017-06-07T16:20:00Z" into out (>= 21 bytes). */
void time_format_iso_utc(int64_t t, char *out, size_t out_size);
/* Accepts "2017-06-07T16:20:00Z" and "2017-06-07T16:20Z". */
int time_parse_iso_utc(const char *s, int64_t *out);

/* The end of the 5-minute interval containing t: a boundary is the end of
 * its own interval, so interval_end(16:20:00) = 16:20:00 and
 * interval_end(16:20:01) = 16:25:00. */
int64_t interval_end(int64_t t);
static inline int time_on_boundary(int64_t t)
{
    return t % INTERVAL_S == 0;
}

/* A site time zone, read from the system's TZif files (TZDIR or
 * /usr/share/zoneinfo) into a private table, so any number of zones can be
 * used at once whatever the process's TZ. Thread-safe once loaded. */
struct tz;
int tz_load(const char *name, struct tz **out); /* PVTAP_ENOTFOUND for an unknown zone */
/* tz_load details: "UTC" and "Etc/UTC" need no file. A name starting with
 * '/' or holding ".." must name a TZif file (else PVTAP_EINVAL); a zone
 * file that is not TZif gives PVTAP_ECORRUPT. *out: caller frees (tz_free). */
/* A zone from a POSIX TZ string ("PST8PDT,M3.2.0,M11.1.0", "<+0330>-3:30",
 * Jn / n / Mm.w.d dates with /time): PVTAP_EINVAL when malformed. Caller frees. */
int tz_parse_posix(const char *spec, struct tz **out);
/* A zone from TZif bytes in memory (what tz_load reads; fuzzers point here):
 * PVTAP_ECORRUPT when they are not a valid TZif. name is copied; caller frees. */
int tz_parse_tzif(const void *buf, size_t len, const char *name, struct tz **out);
void tz_free(struct tz *tz);
/* Borrowed: lives as long as tz. NULL tz reads "UTC". */
const char *tz_name(const struct tz *tz);
/* In the functions below a NULL tz means UTC. */

enum { TZ_ABBR_MAX = 8 }; /* a zone abbreviation's bytes, NUL included */

struct local_time {
    int year, month, day; /* month 1..12, day 1..31 */
    int hour, minute, second;
    int wday;         /* 0 = Sunday */
    int utc_offset_s; /* local = UTC + offset */
    int is_dst;
    char abbr[TZ_ABBR_MAX]; /* the zone's abbreviation then ("PDT"); "UTC" for UTC */
};
void tz_to_local(const struct tz *tz, int64_t utc_s, struct local_time *out);
/* For people: "2017-06-07 09:05 PDT" (site-local wall time and the zone's
 * abbreviation then; tables only, CSV and JSON stay UTC ISO 8601). */
void time_format_local(const struct tz *tz, int64_t utc_s, char *out, size_t out_size);
/* Local wall time -> UTC. A time in the fall-back repeated hour gives the
 * earlier instant; one in the spring-forward gap is moved forward by the gap. */
int64_t tz_from_local(const struct tz *tz, int year, int month, int day, int hour, int minute,
                      int second);
/* Local date of an instant, as YYYYMMDD, and of an interval: the interval
 * ending at local 00:00 belongs to the new day (its interval_end's date). */
int tz_local_date(const struct tz *tz, int64_t utc_s);

/* Command-line times: "2017-06-07" (local midnight), "2017-06-07T16:20"
 * or "2017-06-07T16:20:00" (local), "...Z" (UTC), "-1d" / "-6h" / "-30m"
 * (relative to now_s). tz may be NULL for UTC. */
int time_parse_cli(const char *s, const struct tz *tz, int64_t now_s, int64_t *out);

#endif
