/* Time: UTC stamps, the 5-minute grid, and a private TZif (RFC 8536) reader for site-local time. */
#include "util/timeutil.h"

#include "util/err.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ---------------------------------------------------------------------------
 * Clocks
 */

int64_t time_now_s(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_REALTIME, &ts) != 0)
        return 0;
    return (int64_t)ts.tv_sec;
}

int64_t time_mono_ms(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
        return 0;
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---------------------------------------------------------------------------
 * The proleptic Gregorian calendar on int64 day numbers (0 = 1970-01-01),
 * after Howard Hinnant's days_from_civil / civil_from_days: exact for any
 * year we can represent, no libc, no TZ.
 */

enum { SECS_PER_DAY = 86400 };

/* Keeps every intermediate (years as int, seconds as int64) far from
 * overflow: about +-317 million years. */
#define TIME_LIMIT_S INT64_C(10000000000000000)

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    if ((a % b != 0) && ((a < 0) != (b < 0)))
        q--;
    return q;
}

static int64_t floor_mod(int64_t a, int64_t b)
{
    int64_t r = a % b; /* never a - floor_div(a, b) * b: that overflows near INT64_MIN */
    if (r != 0 && ((r < 0) != (b < 0)))
        r += b;
    return r;
}

static bool is_leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int64_t y, int m)
{
    static const int mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m == 2 && is_leap(y))
        return 29;
    return mdays[m - 1];
}

static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = floor_div(y, 400);
    int64_t yoe = y - era * 400;                                   /* [0, 399] */
    int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1; /* [0, 365] */
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;           /* [0, 146096] */
    return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
    z += 719468;
    int64_t era = floor_div(z, 146097);
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

/* Seconds since the epoch of a civil time taken as UTC. Month may be out of
 * 1..12 (it is carried into the year); the other fields are added linearly. */
static int64_t secs_from_civil(int64_t y, int64_t m, int64_t d, int64_t hh, int64_t mm, int64_t ss)
{
    y += floor_div(m - 1, 12);
    m = floor_mod(m - 1, 12) + 1;
    int64_t days = days_from_civil(y, (int)m, 1) + d - 1;
    return days * SECS_PER_DAY + hh * 3600 + mm * 60 + ss;
}

static int64_t clamp_time(int64_t t)
{
    if (t > TIME_LIMIT_S)
        return TIME_LIMIT_S;
    if (t < -TIME_LIMIT_S)
        return -TIME_LIMIT_S;
    return t;
}

/* ---------------------------------------------------------------------------
 * UTC stamps
 */

/* Exactly n ASCII digits at s, as a number; -1 when any is not a digit. */
static int digits(const char *s, size_t n)
{
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

static bool fields_valid(int y, int mo, int d, int h, int mi, int s)
{
    if (y < 0 || mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo))
        return false;
    return h >= 0 && h <= 23 && mi >= 0 && mi <= 59 && s >= 0 && s <= 59;
}

int time_parse_compact_utc(const char *s, size_t len, int64_t *out)
{
    if (!s || !out || len != 14)
        return PVTAP_EINVAL;
    int y = digits(s, 4), mo = digits(s + 4, 2), d = digits(s + 6, 2);
    int h = digits(s + 8, 2), mi = digits(s + 10, 2), sec = digits(s + 12, 2);
    if (!fields_valid(y, mo, d, h, mi, sec))
        return PVTAP_EINVAL;
    *out = secs_from_civil(y, mo, d, h, mi, sec);
    return 0;
}

void time_format_iso_utc(int64_t t, char *out, size_t out_size)
{
    if (!out || out_size == 0)
        return;
    int64_t days = floor_div(t, SECS_PER_DAY);
    int64_t rem = floor_mod(t, SECS_PER_DAY);
    int64_t y;
    int m, d;
    civil_from_days(days, &y, &m, &d);
    snprintf(out, out_size, "%04lld-%02d-%02dT%02d:%02d:%02dZ", (long long)y, m, d,
             (int)(rem / 3600), (int)(rem / 60 % 60), (int)(rem % 60));
}

/* The date-time forms shared by ISO stamps and the command line:
 * "YYYY-MM-DD", then optionally "THH:MM" and optionally ":SS", then an
 * optional 'Z'. Fields are range-checked; what was present is reported. */
struct stamp {
    int year, month, day, hour, minute, second;
    bool has_time, has_z;
};

static int parse_stamp(const char *s, struct stamp *st)
{
    size_t n = strlen(s);
    memset(st, 0, sizeof *st);
    if (n > 0 && s[n - 1] == 'Z') {
        st->has_z = true;
        n--;
    }
    if (n != 10 && n != 16 && n != 19)
        return PVTAP_EINVAL;
    if (s[4] != '-' || s[7] != '-')
        return PVTAP_EINVAL;
    st->year = digits(s, 4);
    st->month = digits(s + 5, 2);
    st->day = digits(s + 8, 2);
    if (n >= 16) {
        if (s[10] != 'T' || s[13] != ':')
            return PVTAP_EINVAL;
        st->has_time = true;
        st->hour = digits(s + 11, 2);
        st->minute = digits(s + 14, 2);
        if (n == 19) {
            if (s[16] != ':')
                return PVTAP_EINVAL;
            st->second = digits(s + 17, 2);
        }
    }
    if (!fields_valid(st->year, st->month, st->day, st->hour, st->minute, st->second))
        return PVTAP_EINVAL;
    return 0;
}

int time_parse_iso_utc(const char *s, int64_t *out)
{
    struct stamp st;
    if (!s || !out)
        return PVTAP_EINVAL;
    if (parse_stamp(s, &st) != 0 || !st.has_time || !st.has_z)
        return PVTAP_EINVAL;
    *out = secs_from_civil(st.year, st.month, st.day, st.hour, st.minute, st.second);
    return 0;
}

int64_t interval_end(int64_t t)
{
    int64_t r = floor_mod(t, INTERVAL_S);
    if (r == 0)
        return t;
    /* The last boundary representable: saturate rather than overflow. */
    if (t > INT64_MAX - INTERVAL_S)
        return INT64_MAX - INT64_MAX % INTERVAL_S;
    return t + (INTERVAL_S - r);
}

/* ---------------------------------------------------------------------------
 * Time zones
 */

struct tz_type {
    int32_t utoff; /* local = UTC + utoff */
    bool isdst;
    char abbr[TZ_ABBR_MAX]; /* "PDT", "CET", "+0530"; "" when the zone gives none */
};

/* A POSIX TZ rule date: Jn (1..365, Feb 29 never counted), n (0..365,
 * counting Feb 29), or Mm.w.d (day d of week w of month m, w = 5 last). */
enum rule_kind { RULE_JULIAN1, RULE_JULIAN0, RULE_MWD };
struct rule_date {
    enum rule_kind kind;
    int day, week, month; /* day: Jn/n day, or weekday for Mm.w.d */
    int32_t time_s;       /* local time of day of the change, -167h..167h */
};

/* The POSIX TZ string of a TZif footer (or of tz_parse_posix). */
struct posix_tz {
    struct tz_type std, dst;
    bool has_dst;
    struct rule_date start, end; /* start: std -> dst, end: dst -> std */
};

struct tz {
    char *name;
    int64_t *trans;     /* ascending transition instants, ntrans of them */
    uint8_t *trans_idx; /* type after each transition */
    struct tz_type *types;
    size_t ntrans, ntypes;
    bool has_footer; /* a non-empty POSIX string rules after the last transition */
    struct posix_tz footer;
};

/* Hard limits for what we accept from a file: zoneinfo files are a few KiB. */
enum { TZIF_MAX_FILE = 1 << 20, TZIF_MAX_NAME = 1024 };

/* --- POSIX TZ strings (POSIX.1-2017 8.3, RFC 8536 3.3.1 extensions) --- */

struct pcur {
    const char *p;
};

static bool pc_digit(const struct pcur *c)
{
    return *c->p >= '0' && *c->p <= '9';
}

/* Up to max_digits digits into a bounded number; false when none. */
static bool pc_num(struct pcur *c, int max_digits, int lo, int hi, int *out)
{
    int v = 0, n = 0;
    while (pc_digit(c) && n < max_digits) {
        v = v * 10 + (*c->p - '0');
        c->p++;
        n++;
    }
    if (n == 0 || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

/* A zone abbreviation: three or more letters, or <...> of letters, digits,
 * '+' and '-', copied (cut to fit) into out without the brackets. */
static bool pc_name(struct pcur *c, char out[TZ_ABBR_MAX])
{
    size_t n = 0;
    const char *start;
    if (*c->p == '<') {
        start = ++c->p;
        while ((*c->p >= 'A' && *c->p <= 'Z') || (*c->p >= 'a' && *c->p <= 'z') || pc_digit(c) ||
               *c->p == '+' || *c->p == '-') {
            c->p++;
            n++;
        }
        if (*c->p != '>')
            return false;
        c->p++;
    } else {
        start = c->p;
        while ((*c->p >= 'A' && *c->p <= 'Z') || (*c->p >= 'a' && *c->p <= 'z')) {
            c->p++;
            n++;
        }
    }
    snprintf(out, TZ_ABBR_MAX, "%.*s", (int)(n < TZ_ABBR_MAX ? n : TZ_ABBR_MAX - 1), start);
    return n >= 3;
}

/* [+-]hh[:mm[:ss]] with hh in 0..max_h, as signed seconds. */
static bool pc_hms(struct pcur *c, int max_h, int32_t *out)
{
    int sign = 1, h, m = 0, s = 0;
    if (*c->p == '+' || *c->p == '-') {
        sign = *c->p == '-' ? -1 : 1;
        c->p++;
    }
    if (!pc_num(c, 3, 0, max_h, &h))
        return false;
    if (*c->p == ':') {
        c->p++;
        if (!pc_num(c, 2, 0, 59, &m))
            return false;
        if (*c->p == ':') {
            c->p++;
            if (!pc_num(c, 2, 0, 59, &s))
                return false;
        }
    }
    *out = sign * (h * 3600 + m * 60 + s);
    return true;
}

/* A POSIX offset is west-positive ("PST8" is UTC-8): negate it. */
static bool pc_offset(struct pcur *c, int32_t *utoff)
{
    int32_t v;
    if (!pc_hms(c, 24, &v))
        return false;
    *utoff = -v;
    return true;
}

static bool pc_rule(struct pcur *c, struct rule_date *r)
{
    if (*c->p == 'J') {
        c->p++;
        r->kind = RULE_JULIAN1;
        if (!pc_num(c, 3, 1, 365, &r->day))
            return false;
    } else if (*c->p == 'M') {
        c->p++;
        r->kind = RULE_MWD;
        if (!pc_num(c, 2, 1, 12, &r->month) || *c->p++ != '.')
            return false;
        if (!pc_num(c, 1, 1, 5, &r->week) || *c->p++ != '.')
            return false;
        if (!pc_num(c, 1, 0, 6, &r->day))
            return false;
    } else if (pc_digit(c)) {
        r->kind = RULE_JULIAN0;
        if (!pc_num(c, 3, 0, 365, &r->day))
            return false;
    } else {
        return false;
    }
    r->time_s = 2 * 3600; /* POSIX default: 02:00 local */
    if (*c->p == '/') {
        c->p++;
        /* RFC 8536 3.3.1: hours may be signed and range over -167..167. */
        if (!pc_hms(c, 167, &r->time_s))
            return false;
    }
    return true;
}

static int posix_parse(const char *s, struct posix_tz *pt)
{
    struct pcur c = {s};
    memset(pt, 0, sizeof *pt);
    if (!pc_name(&c, pt->std.abbr) || !pc_offset(&c, &pt->std.utoff))
        return PVTAP_ECORRUPT;
    pt->dst = pt->std;
    if (*c.p == '\0')
        return 0;
    if (!pc_name(&c, pt->dst.abbr))
        return PVTAP_ECORRUPT;
    pt->has_dst = true;
    pt->dst.isdst = true;
    pt->dst.utoff = pt->std.utoff + 3600; /* default: one hour ahead of standard time */
    if (*c.p != ',' && *c.p != '\0' && !pc_offset(&c, &pt->dst.utoff))
        return PVTAP_ECORRUPT;
    if (*c.p == '\0') {
        /* No rule: the US rules, as tzcode's TZDEFRULESTRING and glibc do. */
        pt->start = (struct rule_date){RULE_MWD, 0, 2, 3, 7200};
        pt->end = (struct rule_date){RULE_MWD, 0, 1, 11, 7200};
        return 0;
    }
    if (*c.p++ != ',' || !pc_rule(&c, &pt->start) || *c.p++ != ',' || !pc_rule(&c, &pt->end))
        return PVTAP_ECORRUPT;
    return *c.p == '\0' ? 0 : PVTAP_ECORRUPT;
}

/* Local seconds since the epoch at which a rule date's change happens in year y
 * (in the local time then in effect). */
static int64_t rule_local_s(const struct rule_date *r, int64_t y)
{
    int64_t day; /* days since the epoch */
    int64_t jan1 = days_from_civil(y, 1, 1);
    switch (r->kind) {
    case RULE_JULIAN1:
        day = jan1 + r->day - 1 + (is_leap(y) && r->day >= 60);
        break;
    case RULE_JULIAN0:
        day = jan1 + r->day;
        break;
    case RULE_MWD:
    default: {
        int64_t first = days_from_civil(y, r->month, 1);
        int wday_first = (int)floor_mod(first + 4, 7); /* 1970-01-01 was a Thursday */
        int mday = 1 + (r->day - wday_first + 7) % 7 + 7 * (r->week - 1);
        while (mday > days_in_month(y, r->month))
            mday -= 7;
        day = first + mday - 1;
        break;
    }
    }
    return day * SECS_PER_DAY + r->time_s;
}

/* One change of a POSIX rule: at UTC instant `at`, `to` takes effect. */
struct change {
    int64_t at;
    const struct tz_type *to;
};

/* The changes of years y-1..y+1 around t, ascending. On a tie the start of
 * DST sorts after the end of DST, so a rule that keeps DST all year (e.g.
 * "EST5EDT,0/0,J365/25") stays in DST at the joint. */
static size_t posix_changes(const struct posix_tz *pt, int64_t t, struct change out[6])
{
    int64_t y0;
    int m, d;
    civil_from_days(floor_div(t, SECS_PER_DAY), &y0, &m, &d);
    size_t n = 0;
    for (int64_t y = y0 - 1; y <= y0 + 1; y++) {
        out[n++] = (struct change){rule_local_s(&pt->end, y) - pt->dst.utoff, &pt->std};
        out[n++] = (struct change){rule_local_s(&pt->start, y) - pt->std.utoff, &pt->dst};
    }
    /* Insertion sort: six items; stable, so the tie order above holds. */
    for (size_t i = 1; i < n; i++) {
        struct change v = out[i];
        size_t j = i;
        while (j > 0 && out[j - 1].at > v.at) {
            out[j] = out[j - 1];
            j--;
        }
        out[j] = v;
    }
    return n;
}

static const struct tz_type *posix_lookup(const struct posix_tz *pt, int64_t t)
{
    if (!pt->has_dst)
        return &pt->std;
    struct change ch[6];
    size_t n = posix_changes(pt, t, ch);
    /* Years y-1 and y+1 bracket t, so the last change at or before t exists;
     * should a rule be degenerate, the oldest change stands in. */
    const struct tz_type *cur = ch[0].to;
    for (size_t i = 0; i < n && ch[i].at <= t; i++)
        cur = ch[i].to;
    return cur;
}

/* The first rule change strictly after t; false when the rule has no DST. */
static bool posix_next(const struct posix_tz *pt, int64_t t, int64_t *at, const struct tz_type **to)
{
    if (!pt->has_dst)
        return false;
    struct change ch[6];
    size_t n = posix_changes(pt, t, ch);
    for (size_t i = 0; i < n; i++) {
        if (ch[i].at > t) {
            *at = ch[i].at;
            *to = ch[i].to;
            return true;
        }
    }
    return false;
}

/* --- lookups over the transition table and the footer --- */

static const struct tz_type utc_type = {0, false, "UTC"};

/* Index of the last transition <= t, or -1 when t is before the first. */
static ptrdiff_t trans_before(const struct tz *tz, int64_t t)
{
    size_t lo = 0, hi = tz->ntrans; /* answer in [lo, hi): first trans > t */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (tz->trans[mid] <= t)
            lo = mid + 1;
        else
            hi = mid;
    }
    return (ptrdiff_t)lo - 1;
}

static const struct tz_type *tz_lookup(const struct tz *tz, int64_t t)
{
    if (!tz)
        return &utc_type;
    if (tz->has_footer && (tz->ntrans == 0 || t >= tz->trans[tz->ntrans - 1]))
        return posix_lookup(&tz->footer, t);
    ptrdiff_t i = trans_before(tz, t);
    /* RFC 8536: before the first transition, time type 0 applies. */
    if (i < 0)
        return &tz->types[0];
    return &tz->types[tz->trans_idx[i]];
}

/* The first change strictly after t (a table transition or a footer rule). */
static bool tz_next(const struct tz *tz, int64_t t, int64_t *at, const struct tz_type **to)
{
    if (!tz)
        return false;
    ptrdiff_t i = trans_before(tz, t);
    if ((size_t)(i + 1) < tz->ntrans) {
        *at = tz->trans[i + 1];
        *to = &tz->types[tz->trans_idx[i + 1]];
        return true;
    }
    if (!tz->has_footer)
        return false;
    return posix_next(&tz->footer, t, at, to);
}

/* --- TZif (RFC 8536) --- */

/* A bounds-checked cursor over the file's bytes: a read past the end
 * returns 0 and sets the sticky `short_read`, which the parser checks. */
struct bcur {
    const uint8_t *p;
    size_t len, off;
    bool short_read;
};

static bool bc_have(const struct bcur *c, uint64_t n)
{
    return n <= c->len - c->off;
}

static bool bc_take(struct bcur *c, uint64_t n, const uint8_t **at)
{
    if (!bc_have(c, n)) {
        c->short_read = true;
        return false;
    }
    *at = c->p + c->off;
    c->off += (size_t)n;
    return true;
}

static uint8_t bc_u8(struct bcur *c)
{
    const uint8_t *p;
    return bc_take(c, 1, &p) ? p[0] : 0;
}

static uint32_t bc_be32(struct bcur *c)
{
    const uint8_t *p;
    if (!bc_take(c, 4, &p))
        return 0;
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int64_t bc_be64(struct bcur *c)
{
    uint64_t hi = bc_be32(c);
    uint64_t lo = bc_be32(c);
    return (int64_t)(hi << 32 | lo);
}

static void bc_skip(struct bcur *c, uint64_t n)
{
    const uint8_t *p;
    (void)bc_take(c, n, &p);
}

/*
 * RFC 8536 section 3.1, the header (44 octets):
 *   magic "TZif", version (NUL, '2', '3' or '4'), 15 unused,
 *   isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt (32-bit big-endian).
 * Section 3.2, the data block that follows, with TIME_SIZE 4 (v1) or 8 (v2+):
 *   timecnt transition times (TIME_SIZE), timecnt type indices (1),
 *   typecnt ttinfo {utoff (4), isdst (1), desigidx (1)}, charcnt designations,
 *   leapcnt {occurrence (TIME_SIZE), correction (4)}, isstdcnt (1), isutcnt (1).
 * Version 2+ repeats header and block with 64-bit times, then the footer
 * "\n<POSIX TZ string>\n" (section 3.3). We use the 64-bit data when there is
 * one; leap-second records are skipped (the "right/" zones' clocks count
 * them, ours do not).
 */
struct tzif_hdr {
    int version; /* 1..4 */
    uint32_t isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt;
};

static int tzif_header(struct bcur *c, struct tzif_hdr *h)
{
    const uint8_t *magic;
    if (!bc_have(c, 44) || !bc_take(c, 4, &magic) || memcmp(magic, "TZif", 4) != 0)
        return PVTAP_ENOTMINE;
    uint8_t v = bc_u8(c);
    if (v == 0)
        h->version = 1;
    else if (v >= '2' && v <= '4')
        h->version = v - '0';
    else
        return PVTAP_ECORRUPT;
    bc_skip(c, 15);
    h->isutcnt = bc_be32(c);
    h->isstdcnt = bc_be32(c);
    h->leapcnt = bc_be32(c);
    h->timecnt = bc_be32(c);
    h->typecnt = bc_be32(c);
    h->charcnt = bc_be32(c);
    /* Section 3.1's constraints; typecnt <= 256 as indices are one octet. */
    if (h->typecnt == 0 || h->typecnt > 256 || h->charcnt == 0)
        return PVTAP_ECORRUPT;
    if ((h->isutcnt != 0 && h->isutcnt != h->typecnt) ||
        (h->isstdcnt != 0 && h->isstdcnt != h->typecnt))
        return PVTAP_ECORRUPT;
    return 0;
}

static uint64_t tzif_block_size(const struct tzif_hdr *h, unsigned time_size)
{
    return (uint64_t)h->timecnt * time_size + h->timecnt + (uint64_t)h->typecnt * 6 + h->charcnt +
           (uint64_t)h->leapcnt * (time_size + 4) + h->isstdcnt + h->isutcnt;
}

static int tzif_block(struct bcur *c, const struct tzif_hdr *h, unsigned time_size, struct tz *tz)
{
    if (!bc_have(c, tzif_block_size(h, time_size)))
        return PVTAP_ECORRUPT;
    if (h->timecnt > 0) {
        tz->trans = malloc(h->timecnt * sizeof *tz->trans);
        tz->trans_idx = malloc(h->timecnt);
        if (!tz->trans || !tz->trans_idx)
            return PVTAP_ENOMEM;
    }
    tz->types = malloc(h->typecnt * sizeof *tz->types);
    if (!tz->types)
        return PVTAP_ENOMEM;
    tz->ntrans = h->timecnt;
    tz->ntypes = h->typecnt;
    for (size_t i = 0; i < h->timecnt; i++) {
        tz->trans[i] = time_size == 8 ? bc_be64(c) : (int64_t)(int32_t)bc_be32(c);
        if (i > 0 && tz->trans[i] <= tz->trans[i - 1])
            return PVTAP_ECORRUPT; /* must be strictly ascending */
    }
    for (size_t i = 0; i < h->timecnt; i++) {
        tz->trans_idx[i] = bc_u8(c);
        if (tz->trans_idx[i] >= h->typecnt)
            return PVTAP_ECORRUPT;
    }
    uint8_t desig[256]; /* typecnt <= 256 (checked with the header) */
    for (size_t i = 0; i < h->typecnt; i++) {
        int32_t utoff = (int32_t)bc_be32(c);
        uint8_t isdst = bc_u8(c);
        uint8_t desigidx = bc_u8(c);
        /* -2^31 is forbidden (its negation overflows); real offsets are
         * within a day and a bit, and we keep them so. */
        if (utoff <= -26 * 3600 || utoff >= 26 * 3600 || isdst > 1 || desigidx >= h->charcnt)
            return PVTAP_ECORRUPT;
        tz->types[i] = (struct tz_type){utoff, isdst == 1, ""};
        desig[i] = desigidx;
    }
    /* Designations: NUL-terminated strings; an index may point into one. */
    const uint8_t *chars;
    if (!bc_take(c, h->charcnt, &chars))
        return PVTAP_ECORRUPT;
    for (size_t i = 0; i < h->typecnt; i++) {
        size_t k = 0;
        for (size_t j = desig[i]; j < h->charcnt && chars[j] && k + 1 < TZ_ABBR_MAX; j++)
            tz->types[i].abbr[k++] = (char)chars[j];
        tz->types[i].abbr[k] = '\0';
    }
    /* Leap seconds and the std/ut indicators: skipped. */
    bc_skip(c, (uint64_t)h->leapcnt * (time_size + 4) + h->isstdcnt + h->isutcnt);
    return c->short_read ? PVTAP_ECORRUPT : 0;
}

/* The footer: "\n" TZ-string "\n" at the very end. A file without one is
 * accepted (as tzcode does); an empty string means no rule is given. */
static int tzif_footer(struct bcur *c, struct tz *tz)
{
    size_t left = c->len - c->off;
    if (left == 0)
        return 0;
    const uint8_t *p = c->p + c->off;
    if (left < 2 || p[0] != '\n')
        return PVTAP_ECORRUPT;
    const uint8_t *nl = memchr(p + 1, '\n', left - 1);
    if (!nl || (size_t)(nl - p) != left - 1)
        return PVTAP_ECORRUPT;
    size_t n = left - 2;
    if (n == 0)
        return 0;
    if (n > 255)
        return PVTAP_ECORRUPT;
    char s[256];
    memcpy(s, p + 1, n);
    s[n] = '\0';
    if (memchr(s, '\0', n))
        return PVTAP_ECORRUPT;
    int rc = posix_parse(s, &tz->footer);
    if (rc != 0)
        return rc;
    tz->has_footer = true;
    return 0;
}

static int tzif_parse(const uint8_t *buf, size_t len, struct tz *tz)
{
    struct bcur c = {buf, len, 0, false};
    struct tzif_hdr h;
    int rc = tzif_header(&c, &h);
    if (rc != 0)
        return rc;
    if (h.version == 1)
        return tzif_block(&c, &h, 4, tz);
    /* Skip the 32-bit block; the 64-bit header and block follow. */
    bc_skip(&c, tzif_block_size(&h, 4));
    if (c.short_read)
        return PVTAP_ECORRUPT;
    rc = tzif_header(&c, &h);
    if (rc != 0)
        return rc == PVTAP_ENOTMINE ? PVTAP_ECORRUPT : rc;
    if (h.version == 1)
        return PVTAP_ECORRUPT;
    rc = tzif_block(&c, &h, 8, tz);
    if (rc != 0)
        return rc;
    return tzif_footer(&c, tz);
}

/* --- loading --- */

static struct tz *tz_alloc(const char *name)
{
    struct tz *tz = calloc(1, sizeof *tz);
    if (!tz)
        return NULL;
    size_t n = strlen(name);
    tz->name = malloc(n + 1);
    if (!tz->name) {
        free(tz);
        return NULL;
    }
    memcpy(tz->name, name, n + 1);
    return tz;
}

void tz_free(struct tz *tz)
{
    if (!tz)
        return;
    free(tz->name);
    free(tz->trans);
    free(tz->trans_idx);
    free(tz->types);
    free(tz);
}

const char *tz_name(const struct tz *tz)
{
    return tz ? tz->name : "UTC";
}

/* UTC needs no file: a container or a minimal image may have no zoneinfo. */
static int tz_utc(const char *name, struct tz **out)
{
    struct tz *tz = tz_alloc(name);
    if (!tz)
        return PVTAP_ENOMEM;
    tz->types = malloc(sizeof *tz->types);
    if (!tz->types) {
        tz_free(tz);
        return PVTAP_ENOMEM;
    }
    tz->types[0] = utc_type;
    tz->ntypes = 1;
    *out = tz;
    return 0;
}

/* The whole file, up to TZIF_MAX_FILE. Caller frees *buf. */
static int read_file(const char *path, uint8_t **buf, size_t *len)
{
    /* O_NONBLOCK: a FIFO given as a zone name must not hang us. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0)
        return (errno == ENOENT || errno == ENOTDIR || errno == ENAMETOOLONG || errno == ELOOP)
                   ? PVTAP_ENOTFOUND
                   : PVTAP_EIO;
    struct stat st;
    if (fstat(fd, &st) != 0) {
        close(fd);
        return PVTAP_EIO;
    }
    if (S_ISDIR(st.st_mode)) { /* "America" is a directory, not a zone */
        close(fd);
        return PVTAP_ENOTFOUND;
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return PVTAP_ECORRUPT;
    }
    uint8_t *b = malloc(TZIF_MAX_FILE);
    if (!b) {
        close(fd);
        return PVTAP_ENOMEM;
    }
    size_t n = 0;
    for (;;) {
        ssize_t r = read(fd, b + n, TZIF_MAX_FILE - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            free(b);
            close(fd);
            return PVTAP_EIO;
        }
        if (r == 0)
            break;
        n += (size_t)r;
        if (n == TZIF_MAX_FILE) { /* larger than any real zone: not one */
            free(b);
            close(fd);
            return PVTAP_ECORRUPT;
        }
    }
    close(fd);
    *buf = b;
    *len = n;
    return 0;
}

int tz_load(const char *name, struct tz **out)
{
    if (!out)
        return PVTAP_EINVAL;
    *out = NULL;
    if (!name || !*name || strlen(name) > TZIF_MAX_NAME)
        return PVTAP_EINVAL;
    for (const char *p = name; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            return PVTAP_EINVAL;
    if (strcmp(name, "UTC") == 0 || strcmp(name, "Etc/UTC") == 0)
        return tz_utc(name, out);

    /* A name that reaches outside the zone directory is accepted only when
     * what it names is a TZif file: no other file's bytes are reported on. */
    bool outside = name[0] == '/' || strstr(name, "..") != NULL;
    char path[TZIF_MAX_NAME + 4096 + 2];
    if (name[0] == '/') {
        snprintf(path, sizeof path, "%s", name);
    } else {
        const char *dir = getenv("TZDIR");
        if (!dir || !*dir)
            dir = "/usr/share/zoneinfo";
        if (strlen(dir) > 4096)
            return PVTAP_EINVAL;
        snprintf(path, sizeof path, "%s/%s", dir, name);
    }

    uint8_t *buf = NULL;
    size_t len = 0;
    int rc = read_file(path, &buf, &len);
    if (rc != 0)
        return rc == PVTAP_ECORRUPT && outside ? PVTAP_EINVAL : rc;
    struct tz *tz = tz_alloc(name);
    if (!tz) {
        free(buf);
        return PVTAP_ENOMEM;
    }
    rc = tzif_parse(buf, len, tz);
    free(buf);
    if (rc != 0) {
        tz_free(tz);
        if (rc == PVTAP_ENOTMINE)
            return outside ? PVTAP_EINVAL : PVTAP_ECORRUPT;
        return rc;
    }
    *out = tz;
    return 0;
}

int tz_parse_tzif(const void *buf, size_t len, const char *name, struct tz **out)
{
    if (!out)
        return PVTAP_EINVAL;
    *out = NULL;
    if (!buf || !name)
        return PVTAP_EINVAL;
    if (len > TZIF_MAX_FILE)
        return PVTAP_ECORRUPT;
    struct tz *tz = tz_alloc(name);
    if (!tz)
        return PVTAP_ENOMEM;
    int rc = tzif_parse(buf, len, tz);
    if (rc != 0) {
        tz_free(tz);
        return rc == PVTAP_ENOTMINE ? PVTAP_ECORRUPT : rc;
    }
    *out = tz;
    return 0;
}

int tz_parse_posix(const char *spec, struct tz **out)
{
    if (!out)
        return PVTAP_EINVAL;
    *out = NULL;
    if (!spec || !*spec || strlen(spec) > 255)
        return PVTAP_EINVAL;
    struct posix_tz pt;
    if (posix_parse(spec, &pt) != 0)
        return PVTAP_EINVAL;
    struct tz *tz = tz_alloc(spec);
    if (!tz)
        return PVTAP_ENOMEM;
    tz->types = malloc(sizeof *tz->types);
    if (!tz->types) {
        tz_free(tz);
        return PVTAP_ENOMEM;
    }
    tz->types[0] = pt.std;
    tz->ntypes = 1;
    tz->footer = pt;
    tz->has_footer = true;
    *out = tz;
    return 0;
}

/* --- conversions --- */

void time_format_local(const struct tz *tz, int64_t utc_s, char *out, size_t out_size)
{
    struct local_time lt;
    tz_to_local(tz, utc_s, &lt);
    snprintf(out, out_size, "%04d-%02d-%02d %02d:%02d %s", lt.year, lt.month, lt.day, lt.hour,
             lt.minute, lt.abbr);
}

void tz_to_local(const struct tz *tz, int64_t utc_s, struct local_time *out)
{
    int64_t t = clamp_time(utc_s);
    const struct tz_type *ty = tz_lookup(tz, t);
    int64_t local = t + ty->utoff;
    int64_t days = floor_div(local, SECS_PER_DAY);
    int64_t rem = floor_mod(local, SECS_PER_DAY);
    int64_t y;
    civil_from_days(days, &y, &out->month, &out->day);
    out->year = (int)y;
    out->hour = (int)(rem / 3600);
    out->minute = (int)(rem / 60 % 60);
    out->second = (int)(rem % 60);
    out->wday = (int)floor_mod(days + 4, 7);
    out->utc_offset_s = ty->utoff;
    out->is_dst = ty->isdst;
    snprintf(out->abbr, sizeof out->abbr, "%s", ty->abbr);
}

/* Offsets are below 26 h (checked at load): every instant whose local time
 * can be `local` lies within this much of it. */
enum { FROM_LOCAL_WINDOW_S = 27 * 3600, FROM_LOCAL_MAX_CHANGES = 64 };

int64_t tz_from_local(const struct tz *tz, int year, int month, int day, int hour, int minute,
                      int second)
{
    int64_t local = clamp_time(secs_from_civil(year, month, day, hour, minute, second));
    /* Walk the stretches of constant offset that cover [local - W, local + W]:
     * an instant t of stretch [a, b) shows `local` when t = local - offset
     * falls inside it. The first such stretch gives the earliest instant,
     * so the repeated hour resolves to its first pass. */
    int64_t a = local - FROM_LOCAL_WINDOW_S, end = local + FROM_LOCAL_WINDOW_S;
    const struct tz_type *ty = tz_lookup(tz, a);
    int64_t gap_answer = 0;
    bool in_gap = false;
    for (int i = 0; i < FROM_LOCAL_MAX_CHANGES && a <= end; i++) {
        int64_t b;
        const struct tz_type *next;
        bool more = tz_next(tz, a, &b, &next);
        int64_t t = local - ty->utoff;
        if (t >= a && (!more || t < b))
            return t;
        if (!more)
            break;
        /* Clocks jumped forward over `local` at b: keep the offset from
         * before the jump, which lands as far past b as local was past the
         * last wall time before it. */
        if (!in_gap && next->utoff > ty->utoff && local >= b + ty->utoff &&
            local < b + next->utoff) {
            gap_answer = t;
            in_gap = true;
        }
        a = b;
        ty = next;
    }
    if (in_gap)
        return gap_answer;
    return local - tz_lookup(tz, local)->utoff; /* not reached with sane data */
}

int tz_local_date(const struct tz *tz, int64_t utc_s)
{
    struct local_time lt;
    tz_to_local(tz, utc_s, &lt);
    /* YYYYMMDD fits an int up to year 214747; saturate beyond. */
    int64_t date = (int64_t)lt.year * 10000 + lt.month * 100 + lt.day;
    if (date > INT_MAX)
        return INT_MAX;
    if (date < INT_MIN)
        return INT_MIN;
    return (int)date;
}

/* ---------------------------------------------------------------------------
 * Command-line times
 */

static int parse_relative(const char *s, int64_t now_s, int64_t *out)
{
    /* "-N" then one unit letter; N fits comfortably: at most 12 digits. */
    const char *p = s + 1;
    int64_t n = 0;
    size_t nd = 0;
    while (*p >= '0' && *p <= '9') {
        if (++nd > 12)
            return PVTAP_EINVAL;
        n = n * 10 + (*p - '0');
        p++;
    }
    if (nd == 0 || p[0] == '\0' || p[1] != '\0')
        return PVTAP_EINVAL;
    int64_t unit;
    switch (p[0]) {
    case 'd':
        unit = SECS_PER_DAY;
        break;
    case 'h':
        unit = 3600;
        break;
    case 'm':
        unit = 60;
        break;
    case 's':
        unit = 1;
        break;
    default:
        return PVTAP_EINVAL;
    }
    int64_t back = n * unit; /* <= 10^12 * 86400 < 2^63 */
    if (now_s < INT64_MIN + back)
        return PVTAP_EINVAL;
    *out = now_s - back;
    return 0;
}

int time_parse_cli(const char *s, const struct tz *tz, int64_t now_s, int64_t *out)
{
    if (!s || !out)
        return PVTAP_EINVAL;
    if (s[0] == '-')
        return parse_relative(s, now_s, out);
    struct stamp st;
    if (parse_stamp(s, &st) != 0)
        return PVTAP_EINVAL;
    if (st.has_z) {
        if (!st.has_time) /* "2017-06-07Z" is none of the documented forms */
            return PVTAP_EINVAL;
        *out = secs_from_civil(st.year, st.month, st.day, st.hour, st.minute, st.second);
        return 0;
    }
    *out = tz_from_local(tz, st.year, st.month, st.day, st.hour, st.minute, st.second);
    return 0;
}
