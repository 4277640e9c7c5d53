/* Supervisor upload bodies: table-driven record layouts, JSON/TSV formatting, number access. */
#include "proto/supervisor.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/err.h"
#include "util/timeutil.h"

/* Message 130, inverter interval (docs/protocol.md section 1), fields after the
 * message number: 0 time, 1 serial, 2 model, 3 unknown (empty on
 * microinverters; not interpreted), 4 lifetime kWh, 5 AC kW, 6 V, 7 A,
 * 8 DC kW, 9 DC V, 10 DC A, 11 heat-sink C, 12 Hz, 13 status. */
static const struct pvs_field_def fields130[] = {
    {PVS_TIME, "time", false},
    {PVS_SERIAL, "serial", false},
    {PVS_MODEL, "model", false},
    {PVS_ENERGY_LIFETIME_KWH, "energy_lifetime_kWh", true},
    {PVS_POWER_KW, "power_kW", true},
    {PVS_VOLTAGE_V, "voltage_V", true},
    {PVS_CURRENT_A, "current_A", true},
    {PVS_DC_POWER_KW, "dc_power_kW", true},
    {PVS_DC_VOLTAGE_V, "dc_voltage_V", true},
    {PVS_DC_CURRENT_A, "dc_current_A", true},
    {PVS_TEMPERATURE_C, "temperature_C", true},
    {PVS_FREQUENCY_HZ, "frequency_Hz", true},
    {PVS_STATUS, "status", true},
};
static const int8_t default130[] = {0, 1, 2, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13};

/* Message 140, power meter interval: 0 time, 1 serial (suffix p/c), 2 model,
 * 3 CT scale, 4 net lifetime kWh, 5 kW, 6 kvar, 7 kVA, 8 PF, 9 Hz, 10 status. */
static const struct pvs_field_def fields140[] = {
    {PVS_TIME, "time", false},
    {PVS_SERIAL, "serial", false},
    {PVS_MODEL, "model", false},
    {PVS_CT_SCALE, "ct_scale", true},
    {PVS_ENERGY_NET_LIFETIME_KWH, "energy_net_lifetime_kWh", true},
    {PVS_POWER_KW, "power_kW", true},
    {PVS_REACTIVE_KVAR, "reactive_kvar", true},
    {PVS_APPARENT_KVA, "apparent_kVA", true},
    {PVS_POWER_FACTOR, "power_factor", true},
    {PVS_FREQUENCY_HZ, "frequency_Hz", true},
    {PVS_STATUS, "status", true},
};
static const int8_t default140[] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

size_t pvs_layout_fields(int msg, const struct pvs_field_def **out)
{
    if (msg == 130) {
        *out = fields130;
        return COUNT(fields130);
    }
    if (msg == 140) {
        *out = fields140;
        return COUNT(fields140);
    }
    *out = NULL;
    return 0;
}

void pvs_layout_default(struct pvs_layout *l)
{
    memset(l->pos130, -1, sizeof l->pos130);
    memset(l->pos140, -1, sizeof l->pos140);
    for (size_t i = 0; i < COUNT(fields130); i++)
        l->pos130[fields130[i].key] = default130[i];
    for (size_t i = 0; i < COUNT(fields140); i++)
        l->pos140[fields140[i].key] = default140[i];
}

static int8_t *layout_row(struct pvs_layout *l, int msg)
{
    return msg == 130 ? l->pos130 : msg == 140 ? l->pos140 : NULL;
}

int pvs_layout_set(struct pvs_layout *l, int msg, const char *name, int pos)
{
    const struct pvs_field_def *defs;
    size_t n = pvs_layout_fields(msg, &defs);
    int8_t *row = layout_row(l, msg);
    if (!row)
        return PVTAP_ENOTFOUND;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(defs[i].name, name) == 0) {
            if (pos < 0 || pos >= PVS_MAX_FIELDS)
                return PVTAP_EINVAL;
            row[defs[i].key] = (int8_t)pos;
            return PVTAP_OK;
        }
    }
    return PVTAP_ENOTFOUND;
}

const struct pvs_span *pvs_field(const struct pvs_record *rec, const struct pvs_layout *l,
                                 enum pvs_key key)
{
    const int8_t *row = rec->msg == 130 ? l->pos130 : rec->msg == 140 ? l->pos140 : NULL;
    if (!row || (int)key < 0 || key >= PVS_KEY_COUNT_ || row[key] < 0)
        return NULL;
    size_t i = (size_t)row[key];
    if (i >= rec->n_fields || rec->field[i].len == 0)
        return NULL;
    return &rec->field[i];
}

int pvs_field_number(const struct pvs_record *rec, const struct pvs_layout *l, enum pvs_key key,
                     double *out)
{
    const struct pvs_span *f = pvs_field(rec, l, key);
    if (!f)
        return PVTAP_ENOTFOUND;
    char tmp[64];
    if (f->len >= sizeof tmp)
        return PVTAP_ECORRUPT;
    memcpy(tmp, f->p, f->len);
    tmp[f->len] = '\0';
    char *end;
    double v = strtod(tmp, &end);
    if (end != tmp + f->len || v != v) /* trailing junk, or NaN */
        return PVTAP_ECORRUPT;
    *out = v;
    return PVTAP_OK;
}

bool pvs_is_json_number(const char *s, size_t n)
{
    size_t i = 0;
    if (i < n && s[i] == '-')
        i++;
    if (i >= n)
        return false;
    if (s[i] == '0') {
        i++;
    } else if (s[i] >= '1' && s[i] <= '9') {
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
    } else {
        return false;
    }
    if (i < n && s[i] == '.') {
        i++;
        size_t d = i;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
        if (i == d)
            return false;
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-'))
            i++;
        size_t d = i;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
        if (i == d)
            return false;
    }
    return i == n;
}

static bool span_time(const struct pvs_span *f, int64_t *out)
{
    return f->len == 14 && time_parse_compact_utc(f->p, f->len, out) == PVTAP_OK;
}

/* The message number: 1..9 decimal digits, nothing else. */
static bool parse_msg(const char *p, size_t n, int *out)
{
    if (n == 0 || n > 9)
        return false;
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return false;
        v = v * 10 + (p[i] - '0');
    }
    *out = v;
    return true;
}

size_t pvs_decode_body(const char *body, size_t len, const struct pvs_layout *layout,
                       void (*on_record)(void *ctx, const struct pvs_record *rec), void *ctx,
                       struct pvs_counts *counts)
{
    struct pvs_counts local;
    if (!counts) {
        memset(&local, 0, sizeof local);
        counts = &local;
    }
    struct pvs_record rec;
    bool have_send = false;
    int64_t send_s = 0;
    size_t n_records = 0, line_no = 0, off = 0;
    while (off < len) {
        const char *line = body + off;
        const char *nl = memchr(line, '\n', len - off);
        size_t ll = nl ? (size_t)(nl - line) : len - off;
        off += ll + (nl ? 1 : 0);
        line_no++;
        if (ll && line[ll - 1] == '\r')
            ll--;
        if (ll == 0)
            continue;
        counts->lines++;
        /* Split on every TAB: "a\t\tb" is three fields. */
        const char *tab = memchr(line, '\t', ll);
        size_t first = tab ? (size_t)(tab - line) : ll;
        if (!parse_msg(line, first, &rec.msg)) {
            counts->bad_lines++;
            continue;
        }
        rec.n_fields = 0;
        rec.line_no = line_no;
        bool too_many = false;
        size_t pos = first;
        while (pos < ll) { /* line[pos] is a TAB */
            size_t start = pos + 1;
            /* Fields are a few bytes: a plain loop beats a memchr call each. */
            size_t end = start;
            while (end < ll && line[end] != '\t')
                end++;
            if (rec.n_fields == PVS_MAX_FIELDS) {
                too_many = true;
                break;
            }
            rec.field[rec.n_fields].p = line + start;
            rec.field[rec.n_fields].len = end - start;
            rec.n_fields++;
            pos = end;
        }
        if (too_many) {
            counts->bad_lines++;
            continue;
        }
        rec.has_time = false;
        rec.time_s = 0;
        const struct pvs_span *tf = NULL;
        if (rec.msg == 100) {
            tf = rec.n_fields > 3 ? &rec.field[3] : NULL;
        } else if (rec.msg == 102) {
            rec.has_time = have_send;
            rec.time_s = send_s;
        } else if (rec.msg == 130 || rec.msg == 140) {
            tf = pvs_field(&rec, layout, PVS_TIME);
            if (!tf)
                counts->bad_times++;
        } else if (rec.n_fields > 0) {
            tf = &rec.field[0];
        }
        if (tf) {
            rec.has_time = span_time(tf, &rec.time_s);
            if (!rec.has_time && (rec.msg == 130 || rec.msg == 140 || rec.msg == 100))
                counts->bad_times++;
        }
        if (rec.msg == 100 && rec.has_time) {
            have_send = true;
            send_s = rec.time_s;
        }
        counts->records++;
        n_records++;
        if (on_record)
            on_record(ctx, &rec);
    }
    return n_records;
}

/* ---- output ------------------------------------------------------------ */

void pvs_out_reset(struct pvs_out *o)
{
    o->len = 0;
    o->failed = false;
    if (o->buf)
        o->buf[0] = '\0';
}

void pvs_out_free(struct pvs_out *o)
{
    free(o->buf);
    memset(o, 0, sizeof *o);
}

static void out_add(struct pvs_out *o, const char *s, size_t n)
{
    if (o->failed)
        return;
    if (o->len + n + 1 > o->cap) {
        size_t cap = o->cap ? o->cap : 256;
        while (cap < o->len + n + 1)
            cap *= 2;
        char *nb = realloc(o->buf, cap);
        if (!nb) {
            o->failed = true;
            return;
        }
        o->buf = nb;
        o->cap = cap;
    }
    memcpy(o->buf + o->len, s, n);
    o->len += n;
    o->buf[o->len] = '\0';
}

static void out_str(struct pvs_out *o, const char *s)
{
    out_add(o, s, strlen(s));
}

/* A JSON string (RFC 8259 section 7): quote, backslash and controls escaped. */
static void out_json_string(struct pvs_out *o, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    out_add(o, "\"", 1);
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        out_add(o, s + run, i - run);
        run = i + 1;
        char esc[7] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15], 0};
        if (c == '"' || c == '\\') {
            esc[1] = (char)c;
            out_add(o, esc, 2);
        } else {
            out_add(o, esc, 6);
        }
    }
    out_add(o, s + run, n - run);
    out_add(o, "\"", 1);
}

static void out_int(struct pvs_out *o, long long v)
{
    char tmp[32];
    int w = snprintf(tmp, sizeof tmp, "%lld", v);
    if (w > 0)
        out_add(o, tmp, (size_t)w);
}

static void out_time(struct pvs_out *o, int64_t t)
{
    char iso[32];
    time_format_iso_utc(t, iso, sizeof iso);
    out_json_string(o, iso, strlen(iso));
}

void pvs_record_json(const struct pvs_record *rec, const struct pvs_layout *l, struct pvs_out *o)
{
    out_str(o, "{\"msg\":");
    out_int(o, rec->msg);
    if (rec->has_time) {
        out_str(o, ",\"time\":");
        out_time(o, rec->time_s);
    }
    const struct pvs_field_def *defs;
    size_t n = pvs_layout_fields(rec->msg, &defs);
    if (n) {
        for (size_t i = 0; i < n; i++) {
            if (defs[i].key == PVS_TIME)
                continue;
            const struct pvs_span *f = pvs_field(rec, l, defs[i].key);
            if (!f)
                continue; /* an empty field is absent, never 0 */
            out_str(o, ",\"");
            out_str(o, defs[i].name);
            out_str(o, "\":");
            if (defs[i].numeric && pvs_is_json_number(f->p, f->len))
                out_add(o, f->p, f->len);
            else
                out_json_string(o, f->p, f->len);
        }
    } else {
        out_str(o, ",\"fields\":[");
        for (size_t i = 0; i < rec->n_fields; i++) {
            if (i)
                out_add(o, ",", 1);
            out_json_string(o, rec->field[i].p, rec->field[i].len);
        }
        out_add(o, "]", 1);
    }
    out_add(o, "}", 1);
}

void pvs_record_tsv(const struct pvs_record *rec, struct pvs_out *o)
{
    out_int(o, rec->msg);
    out_add(o, "\t", 1);
    if (rec->has_time) {
        char iso[32];
        time_format_iso_utc(rec->time_s, iso, sizeof iso);
        out_str(o, iso);
    }
    for (size_t i = 0; i < rec->n_fields; i++) {
        out_add(o, "\t", 1);
        out_add(o, rec->field[i].p, rec->field[i].len);
    }
}
