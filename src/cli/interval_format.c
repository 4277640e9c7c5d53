/* Interval rows as the README's CSV, JSON lines, or an 80-column table. */
#include "cli/interval_format.h"

#include <string.h>

#include "util/err.h"
#include "util/timeutil.h"

int interval_format_parse(const char *s, enum interval_format *out)
{
    static const char *const names[] = {
        [IFMT_CSV] = "csv", [IFMT_JSONL] = "jsonl", [IFMT_TABLE] = "table"};
    for (int i = 0; i < 3; i++)
        if (strcmp(s, names[i]) == 0) {
            *out = (enum interval_format)i;
            return 0;
        }
    return PVTAP_EINVAL;
}

void interval_format_wh(double wh, char *buf, size_t size)
{
    snprintf(buf, size, "%.1f", engine_round_wh(wh));
}

/* Table flags are short so a row fits 80 columns. */
static void short_flags(unsigned flags, char *out, size_t size)
{
    static const char *const names[] = {"interp", "gap", "reset"};
    size_t len = 0;
    out[0] = '\0';
    for (int i = 0; i < 3; i++) {
        if (!(flags & (1u << i)))
            continue;
        int w = snprintf(out + len, size - len, "%s%s", len ? "," : "", names[i]);
        if (w < 0 || (size_t)w >= size - len)
            return;
        len += (size_t)w;
    }
}

/* A JSON string body: quotes, backslashes and control bytes escaped. */
static void json_escaped(FILE *out, const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(out, "\\%c", c);
        else if (c < 0x20)
            fprintf(out, "\\u%04x", c);
        else
            fputc(c, out);
    }
}

void interval_format_header(FILE *out, enum interval_format f)
{
    if (f == IFMT_CSV)
        fputs("interval_end,source,production_wh,net_wh,consumption_wh,flags\n", out);
    else if (f == IFMT_TABLE)
        fprintf(out, "%-20s  %-7s %10s %10s %10s  %s\n", "interval_end", "source", "prod_Wh",
                "net_Wh", "cons_Wh", "flags");
}

void interval_format_row(FILE *out, enum interval_format f, const struct interval_row *r)
{
    interval_format_row_tz(out, f, r, NULL);
}

void interval_format_row_tz(FILE *out, enum interval_format f, const struct interval_row *r,
                            const struct tz *tz)
{
    char t[32], v[3][32], flags[64];
    /* a person reads the table: site-local time; machines read UTC */
    if (f == IFMT_TABLE)
        time_format_local(tz, r->interval_end, t, sizeof t);
    else
        time_format_iso_utc(r->interval_end, t, sizeof t);
    const unsigned bits[3] = {IHAS_PRODUCTION, IHAS_NET, IHAS_CONSUMPTION};
    const double wh[3] = {r->production_wh, r->net_wh, r->consumption_wh};
    for (int i = 0; i < 3; i++) {
        if (r->has & bits[i])
            interval_format_wh(wh[i], v[i], sizeof v[i]);
        else
            snprintf(v[i], sizeof v[i], "%s", f == IFMT_JSONL ? "null" : "");
    }
    switch (f) {
    case IFMT_CSV:
        engine_flags_format(r->flags, flags, sizeof flags);
        fprintf(out, "%s,%s,%s,%s,%s,%s\n", t, r->series, v[0], v[1], v[2], flags);
        break;
    case IFMT_JSONL:
        engine_flags_format(r->flags, flags, sizeof flags);
        fprintf(out, "{\"interval_end\":\"%s\",\"source\":\"", t);
        json_escaped(out, r->series);
        fprintf(out,
                "\",\"production_wh\":%s,\"net_wh\":%s,\"consumption_wh\":%s,\"flags\":\"%s\"}\n",
                v[0], v[1], v[2], flags);
        break;
    case IFMT_TABLE:
        short_flags(r->flags, flags, sizeof flags);
        fprintf(out, "%-20s  %-7.7s %10s %10s %10s  %s\n", t, r->series, v[0], v[1], v[2], flags);
        break;
    }
}
