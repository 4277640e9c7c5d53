/* The web sink's endpoints over a read-only store: routing, query parsing, JSON/CSV/Prometheus
 * builders (no socket here). */
#include "sinks/web_api.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/compare_format.h"
#include "cli/interval_format.h"
#include "cli/status_build.h"
#include "engine/engine.h"
#include "sinks/sink.h"
#include "sinks/web_assets.h"
#include "sinks/web_stream.h"
#include "store/store.h"
#include "store/store_devices.h"
#include "util/config.h"
#include "util/err.h"
#include "util/timeutil.h"

#include "pvtap_build.h"
#include "util/grow.h"

static const char CT_JSON[] = "application/json";
static const char CT_CSV[] = "text/csv; charset=utf-8";
static const char CT_TEXT[] = "text/plain; charset=utf-8";
static const char CT_METRICS[] = "text/plain; version=0.0.4; charset=utf-8";
/* Data may be revised at any commit: a browser revalidates every time. */
static const char CC_DATA[] = "no-cache";
static const char CC_NONE[] = "no-store";

enum { MAX_DEVICE_RANGE_S = 31 * 86400 };

/* ---- live snapshot ------------------------------------------------------ */

int web_live_init(struct web_live *l)
{
    memset(l, 0, sizeof *l);
    return pthread_mutex_init(&l->lock, NULL) == 0 ? 0 : PVTAP_ENOMEM;
}

void web_live_destroy(struct web_live *l)
{
    pthread_mutex_destroy(&l->lock);
}

static struct web_live_dev *live_dev(struct web_live *l, const struct reading *r)
{
    const char *series = r->series ? r->series : "";
    for (size_t i = 0; i < l->n_dev; i++)
        if (strcmp(l->dev[i].device, r->device) == 0 && strcmp(l->dev[i].series, series) == 0)
            return &l->dev[i];
    if (l->n_dev == WEB_LIVE_DEVICES)
        return NULL;
    struct web_live_dev *d = &l->dev[l->n_dev++];
    memset(d, 0, sizeof *d);
    snprintf(d->series, sizeof d->series, "%s", series);
    snprintf(d->device, sizeof d->device, "%s", r->device);
    d->kind = (int)r->kind;
    return d;
}

static void count_record(struct web_live *l, const struct reading *r)
{
    const char *source = r->source ? r->source : "";
    for (size_t i = 0; i < l->n_counts; i++)
        if (l->counts[i].msg == r->msg && strcmp(l->counts[i].source, source) == 0) {
            l->counts[i].records++;
            return;
        }
    if (l->n_counts == WEB_LIVE_COUNTS)
        return;
    struct web_live_count *c = &l->counts[l->n_counts++];
    snprintf(c->source, sizeof c->source, "%s", source);
    c->msg = r->msg;
    c->records = 1;
}

void web_live_add(struct web_live *l, const struct reading *r)
{
    pthread_mutex_lock(&l->lock);
    struct web_live_dev *d = live_dev(l, r);
    if (d) {
        /* A record brings several live values at one time: count it once. */
        if (d->last_record != r->time) {
            d->last_record = r->time;
            count_record(l, r);
        }
        if (r->q == Q_POWER_W && r->time >= d->power_time) {
            d->power_W = r->value;
            d->power_time = r->time;
            d->kind = (int)r->kind;
        }
    }
    pthread_mutex_unlock(&l->lock);
}

size_t web_live_power(struct web_live *l, struct web_power *out, size_t max)
{
    size_t n = 0;
    pthread_mutex_lock(&l->lock);
    for (size_t i = 0; i < l->n_dev; i++) {
        const struct web_live_dev *d = &l->dev[i];
        if (!d->power_time)
            continue;
        size_t j = 0;
        while (j < n && strcmp(out[j].series, d->series) != 0)
            j++;
        if (j == n) {
            if (n == max)
                continue;
            memset(&out[n], 0, sizeof out[n]);
            snprintf(out[n].series, sizeof out[n].series, "%s", d->series);
            n++;
        }
        if (d->power_time > out[j].time)
            out[j].time = d->power_time;
    }
    for (size_t j = 0; j < n; j++) {
        for (size_t i = 0; i < l->n_dev; i++) {
            const struct web_live_dev *d = &l->dev[i];
            if (!d->power_time || strcmp(d->series, out[j].series) != 0 ||
                d->power_time < out[j].time - WEB_LIVE_FRESH_S)
                continue;
            if (d->kind == DEVICE_INVERTER) {
                out[j].production_W += d->power_W;
                out[j].has_production = true;
            } else if (d->kind == DEVICE_NET_METER) {
                out[j].net_W += d->power_W;
                out[j].has_net = true;
            } else if (d->kind == DEVICE_CONSUMPTION_METER) {
                /* a gross meter: the house (a 'c' meter on a gross site) */
                out[j].consumption_W += d->power_W;
                out[j].has_consumption = true;
            }
        }
        if (out[j].has_consumption) {
            out[j].has_net = out[j].has_production;
            out[j].net_W = out[j].consumption_W - out[j].production_W;
        } else {
            out[j].consumption_W = out[j].production_W + out[j].net_W;
            out[j].has_consumption = out[j].has_production && out[j].has_net;
        }
    }
    pthread_mutex_unlock(&l->lock);
    return n;
}

/* ---- responses ------------------------------------------------------------ */

void web_response_free(struct web_response *resp)
{
    if (resp->owned)
        free((void *)resp->body);
    resp->body = NULL;
    resp->owned = false;
    web_stream_free(resp->stream);
    resp->stream = NULL;
}

static void set_static(struct web_response *r, unsigned status, const char *ct, const char *body)
{
    r->status = status;
    r->content_type = ct;
    r->cache_control = CC_NONE;
    r->body = body;
    r->len = strlen(body);
    r->owned = false;
}

static void set_error(struct web_response *r, unsigned status, const char *msg)
{
    /* msg names a parameter, never echoes a value: nothing to escape */
    int n = snprintf(NULL, 0, "{\"error\":\"%s\"}\n", msg);
    char *body = n > 0 ? malloc((size_t)n + 1) : NULL;
    if (!body) {
        set_static(r, 500, CT_TEXT, "out of memory\n");
        return;
    }
    snprintf(body, (size_t)n + 1, "{\"error\":\"%s\"}\n", msg);
    r->status = status;
    r->content_type = CT_JSON;
    r->cache_control = CC_NONE;
    r->body = body;
    r->len = (size_t)n;
    r->owned = true;
}

void web_bad_request(struct web_response *resp, const char *msg)
{
    memset(resp, 0, sizeof *resp);
    set_error(resp, 400, msg);
}

void web_busy(struct web_response *resp)
{
    memset(resp, 0, sizeof *resp);
    set_error(resp, 503, "busy: too many large answers at once, retry later");
    resp->retry_after_s = WEB_RETRY_AFTER_S;
}

/* A memstream's result as the response body. */
static void set_stream(struct web_response *r, char *body, size_t len, int rc, const char *ct)
{
    if (rc != 0) {
        free(body);
        set_error(r, rc == PVTAP_ENOMEM ? 503 : 500,
                  rc == PVTAP_ENOMEM ? "out of memory" : "the store cannot be read");
        return;
    }
    r->status = 200;
    r->content_type = ct;
    r->cache_control = CC_DATA;
    r->body = body;
    r->len = len;
    r->owned = true;
}

/* JSON lines (one object per line, as the CLI prints) -> one JSON array. */
static int jsonl_to_array(const char *in, size_t len, char **out, size_t *out_len)
{
    char *buf = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&buf, &n);
    if (!f)
        return PVTAP_ENOMEM;
    fputc('[', f);
    bool first = true;
    for (size_t i = 0; i < len;) {
        const char *nl = memchr(in + i, '\n', len - i);
        size_t l = nl ? (size_t)(nl - (in + i)) : len - i;
        if (l) {
            fputs(first ? "\n" : ",\n", f);
            fwrite(in + i, 1, l, f);
            first = false;
        }
        i += l + 1;
    }
    fputs("\n]\n", f);
    if (fclose(f) != 0 || !buf) {
        free(buf);
        return PVTAP_ENOMEM;
    }
    *out = buf;
    *out_len = n;
    return 0;
}

/* ---- query arguments ------------------------------------------------------ */

static const char *arg(const struct web_request *req, const char *key)
{
    const char *v = req->arg ? req->arg(req->arg_ctx, key) : NULL;
    return v && v[0] ? v : NULL;
}

/* from/to as on the command line; absent: unbounded. */
static int time_range(struct web_api *api, const struct web_request *req, int64_t *from,
                      int64_t *to, const char **bad)
{
    *from = INT64_MIN;
    *to = INT64_MAX;
    const char *f = arg(req, "from"), *t = arg(req, "to");
    int64_t now = api->now_s ? api->now_s() : time_now_s();
    if (f && time_parse_cli(f, api->tz, now, from) < 0) {
        *bad = "from: not a time (2017-06-07, 2017-06-07T16:20, ...Z or -1d)";
        return PVTAP_EINVAL;
    }
    if (t && time_parse_cli(t, api->tz, now, to) < 0) {
        *bad = "to: not a time (2017-06-07, 2017-06-07T16:20, ...Z or -1d)";
        return PVTAP_EINVAL;
    }
    return 0;
}

static bool digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

int web_period_arg(const char *s, size_t len, const struct tz *tz, int64_t now_s, char *out,
                   size_t out_size)
{
    if (out_size < 11 || (len != 4 && len != 7 && len != 10))
        return PVTAP_EINVAL;
    size_t n = strlen(s);
    char date[11];
    bool plain = (n == 4 && digits(s, 4)) ||
                 (n == 7 && digits(s, 4) && s[4] == '-' && digits(s + 5, 2)) ||
                 (n == 10 && digits(s, 4) && s[4] == '-' && digits(s + 5, 2) && s[7] == '-' &&
                  digits(s + 8, 2));
    if (plain) {
        int m = n >= 7 ? atoi(s + 5) : 1, d = n == 10 ? atoi(s + 8) : 1;
        if (m < 1 || m > 12 || d < 1 || d > 31)
            return PVTAP_EINVAL;
        snprintf(date, sizeof date, "%s", s);
    } else {
        int64_t t;
        if (time_parse_cli(s, tz, now_s, &t) < 0)
            return PVTAP_EINVAL;
        int ymd = tz_local_date(tz, t);
        snprintf(date, sizeof date, "%04d-%02d-%02d", ymd / 10000, ymd / 100 % 100, ymd % 100);
        n = 10;
    }
    /* A shorter argument ("2017" for days) bounds by string order: every
     * "2017-..." sorts after "2017" and before "2018". */
    if (n > len)
        n = len;
    memcpy(out, date, n);
    out[n] = '\0';
    return 0;
}

static bool series_arg(const struct web_request *req, const char *key, const char **out,
                       const char **bad)
{
    *out = arg(req, key);
    if (*out && !compare_series_name_ok(*out)) {
        *bad = "a series name is letters, digits and -_.@ only";
        return false;
    }
    return true;
}

enum fmt { FMT_JSON, FMT_CSV };
static bool format_arg(const struct web_request *req, enum fmt *f)
{
    const char *v = arg(req, "format");
    *f = FMT_JSON;
    if (!v || strcmp(v, "json") == 0)
        return true;
    if (strcmp(v, "csv") == 0) {
        *f = FMT_CSV;
        return true;
    }
    return false;
}

/* ---- /api/intervals --------------------------------------------------------- */

/* Streamed (web_stream.c) when longer than one piece; whole otherwise. */
static void api_intervals(struct web_api *api, const struct web_request *req,
                          struct web_response *resp)
{
    const char *bad = NULL, *series;
    int64_t from, to;
    enum fmt fmt;
    if (!format_arg(req, &fmt))
        return set_error(resp, 400, "format: json or csv");
    if (time_range(api, req, &from, &to, &bad) < 0 || !series_arg(req, "source", &series, &bad))
        return set_error(resp, 400, bad);
    const char *ct = fmt == FMT_CSV ? CT_CSV : CT_JSON;
    struct web_stream *s;
    int rc = web_stream_intervals(
        api->st, series, from, to, fmt == FMT_CSV ? WEB_STREAM_CSV : WEB_STREAM_JSON,
        api->stream_rows ? api->stream_rows : WEB_STREAM_ROWS, &api->streams_open, &s);
    if (rc != 0)
        return set_stream(resp, NULL, 0, rc, ct);
    char *body;
    size_t len;
    if (web_stream_take_whole(s, &body, &len)) {
        web_stream_free(s);
        return set_stream(resp, body, len, 0, ct);
    }
    if (api->streams_open > WEB_STREAMS_MAX) {
        web_stream_free(s);
        return web_busy(resp);
    }
    resp->status = 200;
    resp->content_type = ct;
    resp->cache_control = CC_DATA;
    resp->stream = s;
}

/* ---- /api/totals -------------------------------------------------------------- */

struct total_row {
    char period[11];
    char series[ENGINE_SERIES_MAX];
    struct store_total t;
    double import_wh, export_wh; /* derived from net when not metered */
    bool derived;
};

struct totals {
    struct total_row *v;
    size_t n, cap;
    const char *series;
    size_t first; /* the current series' first row */
};

static int add_total(void *ctx, const struct store_total *t)
{
    struct totals *ts = ctx;
    if (GROW(&ts->v, &ts->cap, ts->n, 64) < 0)
        return PVTAP_ENOMEM;
    struct total_row *r = &ts->v[ts->n++];
    memset(r, 0, sizeof *r);
    snprintf(r->period, sizeof r->period, "%s", t->period);
    snprintf(r->series, sizeof r->series, "%s", ts->series);
    r->t = *t;
    r->t.period = NULL;
    return 0;
}

/* Local days [from, to) as "YYYY-MM-DD" (or shorter) strings; NULL: open. */
struct day_range {
    const char *from, *to;
};

/* Import and export of rows [first, n): the meter's counters when the
 * totals have them, else the intervals' net split by its sign, which the
 * store keeps in the totals (schema v3). */
static void import_export(struct totals *ts, size_t first)
{
    for (size_t i = first; i < ts->n; i++) {
        struct total_row *r = &ts->v[i];
        if (r->t.has & IHAS_IMPORT) {
            r->import_wh = r->t.import_wh;
            r->export_wh = r->t.has & IHAS_EXPORT ? r->t.export_wh : 0;
        } else if (r->t.has & IHAS_NET) {
            r->import_wh = r->t.net_import_wh;
            r->export_wh = r->t.net_export_wh;
            r->derived = true;
        }
    }
}

struct series_list {
    char (*v)[ENGINE_SERIES_MAX];
    size_t n, cap;
};

static int add_series(void *ctx, const char *s)
{
    struct series_list *l = ctx;
    if (strlen(s) >= ENGINE_SERIES_MAX)
        return 0;
    if (GROW(&l->v, &l->cap, l->n, 8) < 0)
        return PVTAP_ENOMEM;
    snprintf(l->v[l->n++], ENGINE_SERIES_MAX, "%s", s);
    return 0;
}

static int cmp_total(const void *a, const void *b)
{
    const struct total_row *x = a, *y = b;
    int c = strcmp(x->period, y->period);
    return c ? c : strcmp(x->series, y->series);
}

/* A JSON string body: quotes, backslashes and control bytes escaped. */
static void json_str(FILE *f, const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
}

static void wh_json(FILE *f, bool has, double wh, bool csv)
{
    char v[32];
    if (has) {
        interval_format_wh(wh, v, sizeof v);
        fputs(v, f);
    } else if (!csv) {
        fputs("null", f);
    }
}

static void api_totals(struct web_api *api, const struct web_request *req,
                       struct web_response *resp)
{
    const char *bad = NULL, *series, *period = arg(req, "period");
    enum fmt fmt;
    if (!format_arg(req, &fmt))
        return set_error(resp, 400, "format: json or csv");
    if (!series_arg(req, "source", &series, &bad))
        return set_error(resp, 400, bad);
    enum store_period kind = STORE_DAY;
    if (period && strcmp(period, "month") == 0) {
        kind = STORE_MONTH;
    } else if (period && strcmp(period, "year") == 0) {
        kind = STORE_YEAR;
    } else if (period && strcmp(period, "day") != 0) {
        return set_error(resp, 400, "period: day, month or year");
    }
    int64_t now = api->now_s ? api->now_s() : time_now_s();
    char from[11], to[11];
    const char *f = arg(req, "from"), *t = arg(req, "to");
    /* from/to select local days [from, to), whatever the period: a range
     * inside one month gives that month's row with just those days. */
    if (f && web_period_arg(f, 10, api->tz, now, from, sizeof from) < 0)
        return set_error(resp, 400, "from: YYYY, YYYY-MM, YYYY-MM-DD or a time");
    if (t && web_period_arg(t, 10, api->tz, now, to, sizeof to) < 0)
        return set_error(resp, 400, "to: YYYY, YYYY-MM, YYYY-MM-DD or a time");
    struct day_range range = {f ? from : NULL, t ? to : NULL};
    struct series_list sl = {0};
    int rc = series ? add_series(&sl, series) : store_list_series(api->st, add_series, &sl);
    struct totals ts = {0};
    for (size_t i = 0; rc == 0 && i < sl.n; i++) {
        size_t first = ts.n;
        ts.series = sl.v[i];
        rc = f || t ? store_query_totals_of_days(api->st, sl.v[i], kind, range.from, range.to,
                                                 add_total, &ts)
                    : store_query_totals(api->st, sl.v[i], kind, NULL, NULL, add_total, &ts);
        if (rc == 0)
            import_export(&ts, first);
    }
    free(sl.v);
    if (rc != 0) {
        free(ts.v);
        return set_stream(resp, NULL, 0, rc, CT_JSON);
    }
    if (ts.n > 1)
        qsort(ts.v, ts.n, sizeof *ts.v, cmp_total);
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    if (!out) {
        free(ts.v);
        return set_error(resp, 503, "out of memory");
    }
    bool csv = fmt == FMT_CSV;
    if (csv)
        fputs("period,source,production_wh,net_wh,consumption_wh,import_wh,export_wh,intervals\n",
              out);
    else
        fputc('[', out);
    for (size_t i = 0; i < ts.n; i++) {
        const struct total_row *r = &ts.v[i];
        bool ie = (r->t.has & IHAS_IMPORT) || r->derived;
        if (csv) {
            fprintf(out, "%s,%s,", r->period, r->series);
        } else {
            fprintf(out, "%s\n{\"period\":\"%s\",\"source\":\"", i ? "," : "", r->period);
            json_str(out, r->series);
            fputs("\",\"production_wh\":", out);
        }
        wh_json(out, r->t.has & IHAS_PRODUCTION, r->t.production_wh, csv);
        fputs(csv ? "," : ",\"net_wh\":", out);
        wh_json(out, r->t.has & IHAS_NET, r->t.net_wh, csv);
        fputs(csv ? "," : ",\"consumption_wh\":", out);
        wh_json(out, r->t.has & IHAS_CONSUMPTION, r->t.consumption_wh, csv);
        fputs(csv ? "," : ",\"import_wh\":", out);
        wh_json(out, ie, r->import_wh, csv);
        fputs(csv ? "," : ",\"export_wh\":", out);
        wh_json(out, ie, r->export_wh, csv);
        fprintf(out, csv ? ",%lld\n" : ",\"intervals\":%lld}", (long long)r->t.intervals);
    }
    if (!csv)
        fputs(ts.n ? "\n]\n" : "]\n", out);
    free(ts.v);
    rc = fclose(out) == 0 && buf ? 0 : PVTAP_ENOMEM;
    set_stream(resp, buf, len, rc, csv ? CT_CSV : CT_JSON);
}

/* ---- /api/compare ---------------------------------------------------------------- */

static void api_compare(struct web_api *api, const struct web_request *req,
                        struct web_response *resp)
{
    const char *bad = NULL, *a, *b;
    int64_t from, to;
    enum fmt fmt;
    if (!format_arg(req, &fmt))
        return set_error(resp, 400, "format: json or csv");
    if (time_range(api, req, &from, &to, &bad) < 0 || !series_arg(req, "a", &a, &bad) ||
        !series_arg(req, "b", &b, &bad))
        return set_error(resp, 400, bad);
    if (from == INT64_MIN || to == INT64_MAX || to <= from || to - from > WEB_COMPARE_RANGE_S)
        return set_error(resp, 400, "from and to: a range of at most 31 days");
    if (!a)
        a = "sniff";
    if (!b)
        b = "poll";
    if (strcmp(a, b) == 0)
        return set_error(resp, 400, "a and b name the same series");
    char *buf = NULL, *sbuf = NULL;
    size_t len = 0, slen = 0;
    FILE *f = open_memstream(&buf, &len);
    /* csv: as the CLI's stdout (the summary goes elsewhere); json: every
     * jsonl line, the summary object last */
    FILE *sf = fmt == FMT_CSV ? open_memstream(&sbuf, &slen) : f;
    if (!f || !sf) {
        if (f)
            fclose(f);
        free(buf);
        return set_error(resp, 503, "out of memory");
    }
    int rc = compare_write(api->st, api->tz, a, b, from, to, fmt == FMT_CSV ? IFMT_CSV : IFMT_JSONL,
                           f, sf);
    if (sf != f) {
        fclose(sf);
        free(sbuf);
    }
    if (fclose(f) != 0 && rc == 0)
        rc = PVTAP_ENOMEM;
    if (fmt == FMT_CSV || rc != 0)
        return set_stream(resp, buf, len, rc, CT_CSV);
    char *arr;
    size_t alen;
    rc = jsonl_to_array(buf, len, &arr, &alen);
    free(buf);
    set_stream(resp, rc ? NULL : arr, rc ? 0 : alen, rc, CT_JSON);
}

/* ---- /api/status ------------------------------------------------------------------- */

/* Defence in depth: whatever the daemon wrote, a key named like a secret
 * (password, api_key, ...) is never served. */
static void drop_secrets(cJSON *o)
{
    cJSON *c = o ? o->child : NULL;
    while (c) {
        cJSON *next = c->next;
        if (c->string && cfg_key_is_secret(c->string))
            cJSON_Delete(cJSON_DetachItemViaPointer(o, c));
        else
            drop_secrets(c);
        c = next;
    }
}

/* The outbox sinks of the running daemon: those its status file lists. */
static size_t outbox_sinks(const cJSON *root, const char **names, size_t max)
{
    const cJSON *live = cJSON_GetObjectItemCaseSensitive(root, "live");
    const cJSON *s;
    size_t n = 0;
    cJSON_ArrayForEach(s, cJSON_GetObjectItemCaseSensitive(live, "sinks"))
    {
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(s, "name");
        if (!cJSON_IsString(name) || n == max)
            continue;
        const struct sink_ops *ops = sink_backend_find(name->valuestring);
        if (ops && ops->uses_outbox)
            names[n++] = ops->name; /* static: outlives the document */
    }
    return n;
}

static cJSON *status_doc(struct web_api *api)
{
    char err[512];
    cJSON *root = status_build(api->status_path, api->store_path, NULL, 0, err, sizeof err);
    if (!root)
        return NULL;
    /* The CLI names the outbox sinks from the configuration; here the
     * running daemon's status file does. */
    const char *names[16];
    size_t n = outbox_sinks(root, names, 16);
    cJSON *ob =
        cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(root, "store"), "outbox");
    for (size_t i = 0; ob && i < n; i++) {
        int64_t c[3] = {0, 0, 0};
        store_outbox_count(api->st, names[i], OUTBOX_PENDING, &c[0]);
        store_outbox_count(api->st, names[i], OUTBOX_DELIVERED, &c[1]);
        store_outbox_count(api->st, names[i], OUTBOX_UNDELIVERABLE, &c[2]);
        cJSON *so = cJSON_AddObjectToObject(ob, names[i]);
        cJSON_AddNumberToObject(so, "pending", (double)c[0]);
        cJSON_AddNumberToObject(so, "delivered", (double)c[1]);
        cJSON_AddNumberToObject(so, "undeliverable", (double)c[2]);
    }
    drop_secrets(root);
    return root;
}

/* pretty: as `pvtap status --format json` prints it; else compact. */
static void set_json_doc(struct web_response *resp, cJSON *doc, bool pretty)
{
    char *text = doc ? (pretty ? cJSON_Print(doc) : cJSON_PrintUnformatted(doc)) : NULL;
    cJSON_Delete(doc);
    if (!text)
        return set_error(resp, 503, "out of memory");
    size_t n = strlen(text);
    char *body = realloc(text, n + 2);
    if (!body) {
        free(text);
        return set_error(resp, 503, "out of memory");
    }
    body[n] = '\n';
    body[n + 1] = '\0';
    set_stream(resp, body, n + 1, 0, CT_JSON);
}

static void api_status(struct web_api *api, struct web_response *resp)
{
    set_json_doc(resp, status_doc(api), true);
}

/* ---- /api/live, /api/site, /api/devices ------------------------------------------------ */

static void add_iso(cJSON *o, const char *key, int64_t t)
{
    char iso[32];
    time_format_iso_utc(t, iso, sizeof iso);
    cJSON_AddStringToObject(o, key, iso);
}

static void api_live(struct web_api *api, struct web_response *resp)
{
    struct web_power p[16];
    size_t n = api->live ? web_live_power(api->live, p, 16) : 0;
    cJSON *root = cJSON_CreateObject();
    cJSON *arr = root ? cJSON_AddArrayToObject(root, "series") : NULL;
    for (size_t i = 0; arr && i < n; i++) {
        cJSON *o = cJSON_CreateObject();
        if (!o)
            break;
        cJSON_AddStringToObject(o, "series", p[i].series);
        add_iso(o, "time", p[i].time);
        if (p[i].has_production)
            cJSON_AddNumberToObject(o, "production_W", p[i].production_W);
        if (p[i].has_net)
            cJSON_AddNumberToObject(o, "net_W", p[i].net_W);
        if (p[i].has_consumption)
            cJSON_AddNumberToObject(o, "consumption_W", p[i].consumption_W);
        cJSON_AddItemToArray(arr, o);
    }
    set_json_doc(resp, root, false);
}

struct span_ctx {
    char first[11], last[11];
};

static int span_cb(void *ctx, const struct store_total *t)
{
    struct span_ctx *s = ctx;
    if (!s->first[0])
        snprintf(s->first, sizeof s->first, "%s", t->period);
    snprintf(s->last, sizeof s->last, "%s", t->period);
    return 0;
}

static void api_site(struct web_api *api, struct web_response *resp)
{
    struct series_list sl = {0};
    int rc = store_list_series(api->st, add_series, &sl);
    cJSON *root = cJSON_CreateObject();
    if (!root || rc) {
        free(sl.v);
        cJSON_Delete(root);
        return set_stream(resp, NULL, 0, rc ? rc : PVTAP_ENOMEM, CT_JSON);
    }
    cJSON_AddStringToObject(root, "site", api->site_name ? api->site_name : "");
    cJSON_AddStringToObject(root, "timezone", tz_name(api->tz));
    cJSON_AddStringToObject(root, "version", PVTAP_VERSION);
    cJSON *arr = cJSON_AddArrayToObject(root, "series");
    char latest[11] = "";
    for (size_t i = 0; i < sl.n; i++) {
        struct span_ctx s = {{0}, {0}};
        store_query_totals(api->st, sl.v[i], STORE_DAY, NULL, NULL, span_cb, &s);
        cJSON *o = cJSON_CreateObject();
        if (!o)
            break;
        cJSON_AddStringToObject(o, "series", sl.v[i]);
        if (s.first[0]) {
            cJSON_AddStringToObject(o, "first_day", s.first);
            cJSON_AddStringToObject(o, "last_day", s.last);
            if (strcmp(s.last, latest) > 0)
                snprintf(latest, sizeof latest, "%s", s.last);
        }
        cJSON_AddItemToArray(arr, o);
    }
    free(sl.v);
    if (latest[0])
        cJSON_AddStringToObject(root, "latest_day", latest);
    else
        cJSON_AddNullToObject(root, "latest_day");
    set_json_doc(resp, root, false);
}

struct dev_ctx {
    cJSON *arr;
    bool detail;
};

static int dev_cb(void *ctx, const struct device_energy *e)
{
    struct dev_ctx *d = ctx;
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return PVTAP_ENOMEM;
    cJSON_AddStringToObject(o, "device", e->device);
    cJSON_AddStringToObject(o, "kind", e->kind);
    cJSON_AddNumberToObject(o, "energy_wh", e->energy_wh);
    cJSON_AddNumberToObject(o, "intervals_with_data", (double)e->n);
    if (d->detail) {
        cJSON *arr = cJSON_AddArrayToObject(o, "intervals");
        for (size_t i = 0; arr && i < e->n; i++) {
            cJSON *r = cJSON_CreateObject();
            if (!r)
                break;
            char flags[64];
            add_iso(r, "interval_end", e->iv[i].interval_end);
            cJSON_AddNumberToObject(r, "energy_wh", e->iv[i].energy_wh);
            engine_flags_format(e->iv[i].flags, flags, sizeof flags);
            cJSON_AddStringToObject(r, "flags", flags);
            cJSON_AddItemToArray(arr, r);
        }
    }
    cJSON_AddItemToArray(d->arr, o);
    return 0;
}

static void api_devices(struct web_api *api, const struct web_request *req,
                        struct web_response *resp)
{
    const char *bad = NULL, *series;
    int64_t from, to;
    if (time_range(api, req, &from, &to, &bad) < 0 || !series_arg(req, "source", &series, &bad))
        return set_error(resp, 400, bad);
    if (from == INT64_MIN || to == INT64_MAX || to <= from || to - from > MAX_DEVICE_RANGE_S)
        return set_error(resp, 400, "from and to: a range of at most 31 days");
    if (!api->devs)
        return set_error(resp, 503, "the store cannot be read");
    const char *d = arg(req, "detail");
    struct dev_ctx dc = {NULL, d && strcmp(d, "0") != 0};
    cJSON *root = cJSON_CreateObject();
    if (!root)
        return set_error(resp, 503, "out of memory");
    cJSON_AddStringToObject(root, "source", series ? series : "sniff");
    add_iso(root, "from", interval_end(from));
    add_iso(root, "to", interval_end(to));
    dc.arr = cJSON_AddArrayToObject(root, "devices");
    int rc = dc.arr
                 ? store_device_energy(api->devs, series ? series : "sniff", from, to, dev_cb, &dc)
                 : PVTAP_ENOMEM;
    if (rc) {
        cJSON_Delete(root);
        return set_stream(resp, NULL, 0, rc, CT_JSON);
    }
    set_json_doc(resp, root, false);
}

/* ---- /metrics ------------------------------------------------------------------------- */

static void label(FILE *f, const char *s)
{
    /* the exposition format escapes \, " and newline in label values */
    for (; *s; s++) {
        if (*s == '\\' || *s == '"')
            fprintf(f, "\\%c", *s);
        else if (*s == '\n')
            fputs("\\n", f);
        else
            fputc(*s, f);
    }
}

static void help(FILE *f, const char *name, const char *type, const char *text)
{
    fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, text, name, type);
}

struct energy_sum {
    double wh[5];
    double net_import_wh, net_export_wh;
    unsigned has;
};

static int sum_years(void *ctx, const struct store_total *t)
{
    struct energy_sum *s = ctx;
    const double v[5] = {t->production_wh, t->net_wh, t->consumption_wh, t->import_wh,
                         t->export_wh};
    for (int i = 0; i < 5; i++)
        s->wh[i] += v[i];
    s->net_import_wh += t->net_import_wh;
    s->net_export_wh += t->net_export_wh;
    s->has |= t->has;
    return 0;
}

static double num(const cJSON *o, const char *key, bool *ok)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    *ok = cJSON_IsNumber(v);
    return *ok ? v->valuedouble : 0;
}

static void metrics_sources(FILE *f, const cJSON *live)
{
    const cJSON *srcs = cJSON_GetObjectItemCaseSensitive(live, "sources"), *s;
    help(f, "pvtap_source_up", "gauge", "1 when the source is open and working");
    cJSON_ArrayForEach(s, srcs)
    {
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(s, "name");
        const cJSON *state = cJSON_GetObjectItemCaseSensitive(s, "state");
        if (!cJSON_IsString(name))
            continue;
        fputs("pvtap_source_up{source=\"", f);
        label(f, name->valuestring);
        fprintf(f, "\"} %d\n",
                cJSON_IsString(state) && strcmp(state->valuestring, "up") == 0 ? 1 : 0);
    }
    help(f, "pvtap_last_record_timestamp_seconds", "gauge",
         "UTC time of the newest record of the source");
    cJSON_ArrayForEach(s, srcs)
    {
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(s, "name");
        const cJSON *last = cJSON_GetObjectItemCaseSensitive(s, "last_record");
        int64_t t;
        if (!cJSON_IsString(name) || !cJSON_IsString(last) ||
            time_parse_iso_utc(last->valuestring, &t) < 0)
            continue;
        fputs("pvtap_last_record_timestamp_seconds{source=\"", f);
        label(f, name->valuestring);
        fprintf(f, "\"} %lld\n", (long long)t);
    }
    /* Capture counters: present when the daemon's status reports them for a
     * sniff source (sum over sources). */
    static const char *const cap[3][3] = {
        {"pvtap_capture_packets_total", "capture_packets", "packets captured on the mirror port"},
        {"pvtap_capture_kernel_drops_total", "kernel_drops", "packets the kernel dropped"},
        {"pvtap_tcp_holes_total", "tcp_holes", "TCP streams with missing bytes"},
    };
    for (int i = 0; i < 3; i++) {
        help(f, cap[i][0], "counter", cap[i][2]);
        double sum = 0;
        bool any = false, ok;
        cJSON_ArrayForEach(s, srcs)
        {
            double v = num(s, cap[i][1], &ok);
            if (ok) {
                sum += v;
                any = true;
            }
        }
        if (any)
            fprintf(f, "%s %.0f\n", cap[i][0], sum);
    }
}

static void api_metrics(struct web_api *api, struct web_response *resp)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return set_error(resp, 503, "out of memory");
    struct series_list sl = {0};
    int rc = store_list_series(api->st, add_series, &sl);
    help(f, "pvtap_energy_joules_total", "counter",
         "energy of every stored interval of the series (import/export from meter counters, "
         "else from each interval's net)");
    static const char *const qn[4] = {"production", "consumption", "import", "export"};
    for (size_t i = 0; rc == 0 && i < sl.n; i++) {
        struct energy_sum s = {{0}, 0, 0, 0};
        rc = store_query_totals(api->st, sl.v[i], STORE_YEAR, NULL, NULL, sum_years, &s);
        if (rc)
            break;
        double v[4] = {s.wh[0], s.wh[2], s.wh[3], s.wh[4]};
        bool has[4] = {s.has & IHAS_PRODUCTION, s.has & IHAS_CONSUMPTION, s.has & IHAS_IMPORT,
                       s.has & IHAS_EXPORT};
        if (!(s.has & IHAS_IMPORT) && (s.has & IHAS_NET)) {
            v[2] = s.net_import_wh;
            v[3] = s.net_export_wh;
            has[2] = has[3] = true;
        }
        for (int q = 0; q < 4; q++) {
            if (!has[q])
                continue;
            fputs("pvtap_energy_joules_total{series=\"", f);
            label(f, sl.v[i]);
            fprintf(f, "\",quantity=\"%s\"} %.0f\n", qn[q], engine_round_wh(v[q]) * 3600.0);
        }
    }
    free(sl.v);
    help(f, "pvtap_power_watts", "gauge", "power now, from the live readings");
    struct web_power p[16];
    size_t np = api->live ? web_live_power(api->live, p, 16) : 0;
    for (size_t i = 0; i < np; i++) {
        const bool has[3] = {p[i].has_production, p[i].has_consumption, p[i].has_net};
        const double v[3] = {p[i].production_W, p[i].consumption_W, p[i].net_W};
        static const char *const pn[3] = {"production", "consumption", "net"};
        for (int q = 0; q < 3; q++) {
            if (!has[q])
                continue;
            fputs("pvtap_power_watts{series=\"", f);
            label(f, p[i].series);
            fprintf(f, "\",quantity=\"%s\"} %.1f\n", pn[q], v[q]);
        }
    }
    help(f, "pvtap_records_total", "counter",
         "records (one device at one time) seen live since the daemon started");
    if (api->live) {
        pthread_mutex_lock(&api->live->lock);
        for (size_t i = 0; i < api->live->n_counts; i++) {
            fputs("pvtap_records_total{source=\"", f);
            label(f, api->live->counts[i].source);
            fprintf(f, "\",msg=\"%d\"} %llu\n", api->live->counts[i].msg,
                    (unsigned long long)api->live->counts[i].records);
        }
        pthread_mutex_unlock(&api->live->lock);
    }
    cJSON *doc = status_doc(api);
    const cJSON *live = cJSON_GetObjectItemCaseSensitive(doc, "live");
    metrics_sources(f, live);
    help(f, "pvtap_outbox_pending", "gauge", "intervals a sink still has to deliver");
    const char *names[16];
    size_t n = doc ? outbox_sinks(doc, names, 16) : 0;
    for (size_t i = 0; i < n; i++) {
        int64_t c = 0;
        if (store_outbox_count(api->st, names[i], OUTBOX_PENDING, &c) == 0)
            fprintf(f, "pvtap_outbox_pending{sink=\"%s\"} %lld\n", names[i], (long long)c);
    }
    help(f, "pvtap_alerts_active", "gauge", "alerts the daemon reports now");
    fprintf(f, "pvtap_alerts_active %d\n",
            cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(live, "alerts")));
    cJSON_Delete(doc);
    if (fclose(f) != 0 && rc == 0)
        rc = PVTAP_ENOMEM;
    set_stream(resp, buf, len, rc, CT_METRICS);
    if (rc == 0)
        resp->cache_control = CC_NONE;
}

/* ---- routing ------------------------------------------------------------------------ */

static void page(const struct web_request *req, struct web_response *resp)
{
    const char *p = strcmp(req->path, "/") == 0 ? "/index.html" : req->path;
    for (size_t i = 0; i < web_assets_count; i++)
        if (strcmp(web_assets[i].path, p) == 0) {
            resp->status = 200;
            resp->content_type = web_assets[i].content_type;
            resp->cache_control = CC_DATA;
            resp->body = (const char *)web_assets[i].data;
            resp->len = web_assets[i].len;
            resp->owned = false;
            return;
        }
    set_static(resp, 404, CT_TEXT, "not found\n");
}

void web_handle(struct web_api *api, const struct web_request *req, struct web_response *resp)
{
    memset(resp, 0, sizeof *resp);
    if (strcmp(req->method, "GET") != 0 && strcmp(req->method, "HEAD") != 0) {
        set_static(resp, 405, CT_TEXT, "read-only: GET and HEAD only\n");
        resp->allow = "GET, HEAD";
        return;
    }
    const char *p = req->path;
    if (strncmp(p, "/api/", 5) == 0 && !api->st)
        return set_error(resp, 503, "the store cannot be read");
    if (strcmp(p, "/api/intervals") == 0)
        api_intervals(api, req, resp);
    else if (strcmp(p, "/api/totals") == 0)
        api_totals(api, req, resp);
    else if (strcmp(p, "/api/compare") == 0)
        api_compare(api, req, resp);
    else if (strcmp(p, "/api/status") == 0)
        api_status(api, resp);
    else if (strcmp(p, "/api/live") == 0)
        api_live(api, resp);
    else if (strcmp(p, "/api/site") == 0)
        api_site(api, resp);
    else if (strcmp(p, "/api/devices") == 0)
        api_devices(api, req, resp);
    else if (strcmp(p, "/metrics") == 0)
        api->st ? api_metrics(api, resp) : set_static(resp, 503, CT_TEXT, "store unavailable\n");
    else if (strncmp(p, "/api/", 5) == 0)
        set_error(resp, 404, "no such endpoint");
    else
        page(req, resp);
}
