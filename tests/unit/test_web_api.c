/* Unit tests of the web endpoints without a socket: routing, 405, content types, query parsing,
 * JSON/CSV schemas, metrics, per-inverter energy, live values, secrets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/interval_format.h"
#include "engine/engine.h"
#include "sinks/web_api.h"
#include "sinks/web_stream.h"
#include "store/store.h"
#include "store/store_devices.h"
#include "util/err.h"
#include "util/timeutil.h"

/* 2017-06-07T00:00:00Z */
#define DAY0 1496793600LL

struct fixture {
    char dir[256];
    char path[300];
    char status[300];
    struct tz *la;
    struct store *st;
    struct store_devices *devs;
    struct web_live live;
    struct web_api api;
};

static int64_t fake_now(void)
{
    return DAY0 + 86400;
}

static struct interval_row mkrow(const char *series, int64_t ie, double prod, double net)
{
    struct interval_row r = {.interval_end = ie, .series = series};
    r.production_wh = prod;
    r.net_wh = net;
    r.consumption_wh = prod + net;
    r.has = IHAS_PRODUCTION | IHAS_NET | IHAS_CONSUMPTION;
    return r;
}

static void put_record(struct store *st, const char *series, const char *dev, int64_t t, double kwh)
{
    struct reading r = {.source = "sniff",
                        .series = series,
                        .kind = DEVICE_INVERTER,
                        .time = t,
                        .clock = CLOCK_RECORD,
                        .msg = 130,
                        .q = Q_ENERGY_LIFETIME_KWH,
                        .value = kwh};
    snprintf(r.device, sizeof r.device, "%s", dev);
    assert_int_equal(store_put_reading(st, &r), 0);
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    snprintf(f->dir, sizeof f->dir, "/tmp/pvtap-test-web-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    snprintf(f->path, sizeof f->path, "%s/pvtap.db", f->dir);
    snprintf(f->status, sizeof f->status, "%s/status.json", f->dir);
    if (tz_load("America/Los_Angeles", &f->la))
        return -1;
    /* Write a store: two series, 12 intervals from local 2017-06-07 00:05,
     * and the day before; one inverter's records with a split and a gap. */
    struct store *w;
    if (store_open(f->path, f->la, 0, &w))
        return -1;
    store_begin(w);
    int64_t local0 = DAY0 + 7 * 3600; /* local midnight, PDT */
    for (int i = 1; i <= 12; i++) {
        struct interval_row a = mkrow("sniff", local0 + i * 300, 100.0 + i, i % 2 ? 10.0 : -30.0);
        struct interval_row b = mkrow("poll", local0 + i * 300, 101.0 + i, i % 2 ? 10.5 : -30.0);
        store_upsert_interval(w, &a, NULL, 0, 1);
        store_upsert_interval(w, &b, NULL, 0, 1);
    }
    struct interval_row y = mkrow("sniff", local0 - 3600, 50.0, 5.0);
    store_upsert_interval(w, &y, NULL, 0, 1);
    /* inverter A: base at local0, then +0.1 kWh per interval, then a
     * 3-interval silence (split), then 20 intervals of silence (gap) */
    double kwh = 1.0;
    put_record(w, "sniff", "INV-A", local0, kwh);
    for (int i = 1; i <= 4; i++)
        put_record(w, "sniff", "INV-A", local0 + i * 300, kwh += 0.1);
    put_record(w, "sniff", "INV-A", local0 + 7 * 300, kwh += 0.3);
    put_record(w, "sniff", "INV-A", local0 + 27 * 300, kwh += 2.0);
    /* inverter B: one record per interval, 0.05 kWh each, then a reset */
    for (int i = 0; i <= 4; i++)
        put_record(w, "sniff", "INV-B", local0 + i * 300, 5.0 + 0.05 * i);
    put_record(w, "sniff", "INV-B", local0 + 5 * 300, 0.01);
    if (store_commit(w))
        return -1;
    store_close(w);
    if (store_open(f->path, f->la, STORE_RDONLY, &f->st) || store_devices_open(f->path, &f->devs))
        return -1;
    if (web_live_init(&f->live))
        return -1;
    f->api = (struct web_api){.st = f->st,
                              .devs = f->devs,
                              .tz = f->la,
                              .now_s = fake_now,
                              .status_path = f->status,
                              .store_path = f->path,
                              .site_name = "test",
                              .live = &f->live};
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    store_devices_close(f->devs);
    store_close(f->st);
    web_live_destroy(&f->live);
    char p[400];
    static const char *const suffix[] = {"", "-wal", "-shm"};
    for (size_t i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "%s%s", f->path, suffix[i]);
        unlink(p);
    }
    unlink(f->status);
    rmdir(f->dir);
    tz_free(f->la);
    free(f);
    return 0;
}

/* A request's "k=v&k=v" arguments, split in place: each value is its own
 * string, as libmicrohttpd gives them. */
struct args {
    char buf[512];
    char *key[16], *val[16];
    size_t n;
};

static const char *lookup(void *ctx, const char *key)
{
    struct args *a = ctx;
    for (size_t i = 0; i < a->n; i++)
        if (strcmp(a->key[i], key) == 0)
            return a->val[i];
    return NULL;
}

static void get(struct fixture *f, const char *method, const char *path, const char *query,
                struct web_response *resp)
{
    static struct args a;
    snprintf(a.buf, sizeof a.buf, "%s", query ? query : "");
    a.n = 0;
    for (char *p = a.buf; *p && a.n < 16;) {
        char *amp = strchr(p, '&'), *eq = strchr(p, '=');
        if (amp)
            *amp = '\0';
        if (eq && (!amp || eq < amp)) {
            *eq = '\0';
            a.key[a.n] = p;
            a.val[a.n++] = eq + 1;
        }
        if (!amp)
            break;
        p = amp + 1;
    }
    struct web_request req = {method, path, lookup, &a};
    web_handle(&f->api, &req, resp);
}

static char *body(const struct web_response *r)
{
    char *s = malloc(r->len + 1);
    assert_non_null(s);
    memcpy(s, r->body, r->len);
    s[r->len] = '\0';
    return s;
}

static cJSON *get_json(struct fixture *f, const char *path, const char *query, unsigned status)
{
    struct web_response r;
    get(f, "GET", path, query, &r);
    assert_int_equal(r.status, status);
    assert_string_equal(r.content_type, "application/json");
    char *s = body(&r);
    cJSON *j = cJSON_Parse(s);
    if (!j)
        fail_msg("not JSON: %s", s);
    free(s);
    web_response_free(&r);
    return j;
}

/* The whole body, also of a streamed answer (read in small bites). */
static char *drain(struct web_response *r)
{
    if (!r->stream)
        return body(r);
    size_t cap = 1 << 16, n = 0;
    char *s = malloc(cap);
    assert_non_null(s);
    for (;;) {
        if (cap - n < 8) {
            cap *= 2;
            s = realloc(s, cap);
            assert_non_null(s);
        }
        ssize_t got = web_stream_read(r->stream, s + n, 7);
        assert_true(got >= 0);
        if (got == 0)
            break;
        n += (size_t)got;
    }
    s[n] = '\0';
    return s;
}

/* A long answer is streamed a few rows a piece, with the very bytes of the
 * whole answer; a short one is whole; past WEB_STREAMS_MAX streams, 503. */
static void test_intervals_streamed(void **state)
{
    struct fixture *f = *state;
    static const char *const queries[] = {"", "format=csv", "source=sniff",
                                          "source=poll&format=csv",
                                          "from=2017-06-07T00:20&to=2017-06-07T00:40"};
    for (size_t i = 0; i < sizeof queries / sizeof queries[0]; i++) {
        struct web_response whole, part;
        f->api.stream_rows = 100000;
        get(f, "GET", "/api/intervals", queries[i], &whole);
        assert_int_equal(whole.status, 200);
        assert_null(whole.stream);
        f->api.stream_rows = 3;
        get(f, "GET", "/api/intervals", queries[i], &part);
        assert_int_equal(part.status, 200);
        char *a = body(&whole), *b = drain(&part);
        if (strcmp(a, b) != 0)
            fail_msg("%s: streamed\n%s\nwhole\n%s", queries[i], b, a);
        assert_true(strlen(a) > 10);
        if (a[0] == '[') /* one object a line, as before streaming */
            assert_true(strncmp(a, "[\n{", 3) == 0 && !strstr(a, "\n,") &&
                        strcmp(a + strlen(a) - 4, "}\n]\n") == 0);
        free(a);
        free(b);
        web_response_free(&whole);
        web_response_free(&part);
        assert_int_equal(f->api.streams_open, 0);
    }
    /* every interval: streamed; WEB_STREAMS_MAX of them at once, then busy */
    struct web_response open[WEB_STREAMS_MAX + 1];
    for (int i = 0; i <= WEB_STREAMS_MAX; i++)
        get(f, "GET", "/api/intervals", "", &open[i]);
    for (int i = 0; i < WEB_STREAMS_MAX; i++) {
        assert_int_equal(open[i].status, 200);
        assert_non_null(open[i].stream);
    }
    assert_int_equal(open[WEB_STREAMS_MAX].status, 503);
    assert_int_equal(open[WEB_STREAMS_MAX].retry_after_s, WEB_RETRY_AFTER_S);
    /* a short answer is never refused */
    struct web_response small;
    get(f, "GET", "/api/intervals", "from=2017-06-07T00:20&to=2017-06-07T00:25", &small);
    assert_int_equal(small.status, 200);
    web_response_free(&small);
    for (int i = 0; i <= WEB_STREAMS_MAX; i++)
        web_response_free(&open[i]);
    assert_int_equal(f->api.streams_open, 0);
    get(f, "GET", "/api/intervals", "", &small);
    assert_int_equal(small.status, 200);
    web_response_free(&small);
}

static void test_methods(void **state)
{
    struct fixture *f = *state;
    static const char *const bad[] = {"POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE"};
    static const char *const paths[] = {"/", "/api/intervals", "/metrics", "/nowhere"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        for (size_t p = 0; p < 4; p++) {
            struct web_response r;
            get(f, bad[i], paths[p], NULL, &r);
            assert_int_equal(r.status, 405);
            assert_non_null(r.allow);
            assert_string_equal(r.allow, "GET, HEAD");
            web_response_free(&r);
        }
    struct web_response r;
    get(f, "HEAD", "/", NULL, &r);
    assert_int_equal(r.status, 200);
    web_response_free(&r);
}

static void test_content_types(void **state)
{
    struct fixture *f = *state;
    static const struct {
        const char *path, *query;
        unsigned status;
        const char *ct;
    } cases[] = {
        {"/", NULL, 200, "text/html; charset=utf-8"},
        {"/index.html", NULL, 200, "text/html; charset=utf-8"},
        {"/app.js", NULL, 200, "text/javascript; charset=utf-8"},
        {"/style.css", NULL, 200, "text/css; charset=utf-8"},
        {"/api/intervals", "from=2017-06-07&to=2017-06-08", 200, "application/json"},
        {"/api/intervals", "format=csv", 200, "text/csv; charset=utf-8"},
        {"/api/totals", "period=month", 200, "application/json"},
        {"/api/totals", "period=year&format=csv", 200, "text/csv; charset=utf-8"},
        {"/api/compare", "from=2017-06-07&to=2017-06-08", 200, "application/json"},
        {"/api/compare", "from=2017-06-07&to=2017-06-08&format=csv", 200,
         "text/csv; charset=utf-8"},
        {"/api/status", NULL, 200, "application/json"},
        {"/api/site", NULL, 200, "application/json"},
        {"/api/live", NULL, 200, "application/json"},
        {"/api/devices", "from=2017-06-07&to=2017-06-08", 200, "application/json"},
        {"/metrics", NULL, 200, "text/plain; version=0.0.4; charset=utf-8"},
        {"/nowhere", NULL, 404, "text/plain; charset=utf-8"},
        {"/api/nowhere", NULL, 404, "application/json"},
        {"/../etc/passwd", NULL, 404, "text/plain; charset=utf-8"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct web_response r;
        get(f, "GET", cases[i].path, cases[i].query, &r);
        if (r.status != cases[i].status || strcmp(r.content_type, cases[i].ct) != 0)
            fail_msg("%s?%s: %u %s", cases[i].path, cases[i].query ? cases[i].query : "", r.status,
                     r.content_type);
        assert_non_null(r.cache_control);
        assert_true(r.len > 0);
        web_response_free(&r);
    }
}

static void test_bad_queries(void **state)
{
    struct fixture *f = *state;
    static const struct {
        const char *path, *query;
    } cases[] = {
        {"/api/intervals", "from=yesterday"},
        {"/api/intervals", "to=2017-13-01"},
        {"/api/intervals", "source=a%22b"},
        {"/api/intervals", "source=x\"y"},
        {"/api/intervals", "format=xml"},
        {"/api/totals", "period=week"},
        {"/api/totals", "from=17"},
        {"/api/totals", "to=2017-6"},
        {"/api/compare", "a=sniff&b=sniff"},
        {"/api/compare", "a=bad name"},
        {"/api/compare", "from=2017-06-07"},
        {"/api/compare", "from=2017-06-07&to=2017-07-09"},
        {"/api/devices", NULL},
        {"/api/devices", "from=2017-01-01&to=2017-06-01"},
        {"/api/devices", "from=2017-06-08&to=2017-06-07"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct web_response r;
        get(f, "GET", cases[i].path, cases[i].query, &r);
        if (r.status != 400)
            fail_msg("%s?%s: %u, wanted 400", cases[i].path, cases[i].query, r.status);
        char *s = body(&r);
        cJSON *j = cJSON_Parse(s);
        assert_non_null(j);
        assert_true(cJSON_IsString(cJSON_GetObjectItem(j, "error")));
        cJSON_Delete(j);
        free(s);
        web_response_free(&r);
    }
}

static void test_period_arg(void **state)
{
    struct fixture *f = *state;
    static const struct {
        const char *in;
        size_t len;
        const char *out; /* NULL: rejected */
    } cases[] = {
        {"2017", 10, "2017"},
        {"2017-06", 10, "2017-06"},
        {"2017-06-07", 10, "2017-06-07"},
        {"2017-06-07", 7, "2017-06"},
        {"2017-06-07", 4, "2017"},
        {"2017-06-07T16:20", 10, "2017-06-07"},
        {"2017-06-08T03:00:00Z", 10, "2017-06-07"}, /* 20:00 local the day before */
        {"-1d", 10, "2017-06-06"}, /* fake now: 2017-06-08T00:00Z = 06-07 17:00 local */
        {"2017-13", 7, NULL},
        {"2017-06-32", 10, NULL},
        {"201", 4, NULL},
        {"2017/06/07", 10, NULL},
        {"", 10, NULL},
        {"2017-06-07", 5, NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char out[16];
        int rc = web_period_arg(cases[i].in, cases[i].len, f->la, fake_now(), out, sizeof out);
        if (!cases[i].out) {
            if (rc == 0)
                fail_msg("'%s' accepted as '%s'", cases[i].in, out);
            continue;
        }
        if (rc != 0 || strcmp(out, cases[i].out) != 0)
            fail_msg("'%s' (%zu): rc %d '%s', wanted '%s'", cases[i].in, cases[i].len, rc,
                     rc ? "" : out, cases[i].out);
    }
}

/* The JSON rows are the CLI's jsonl rows, in an array. */
struct expect {
    FILE *f;
};

static int expect_row(void *ctx, const struct store_interval *iv)
{
    struct expect *e = ctx;
    interval_format_row(e->f, IFMT_JSONL, &iv->row);
    return 0;
}

static void test_intervals_schema(void **state)
{
    struct fixture *f = *state;
    struct web_response r;
    get(f, "GET", "/api/intervals", "from=2017-06-07T00:20&to=2017-06-07T00:40&source=sniff", &r);
    assert_int_equal(r.status, 200);
    char *s = body(&r);
    web_response_free(&r);
    cJSON *j = cJSON_Parse(s);
    assert_non_null(j);
    /* [00:20, 00:40) local: 00:20, 00:25, 00:30, 00:35 */
    assert_int_equal(cJSON_GetArraySize(j), 4);
    char *exp = NULL;
    size_t elen = 0;
    struct expect e = {open_memstream(&exp, &elen)};
    assert_non_null(e.f);
    int64_t local0 = DAY0 + 7 * 3600;
    store_query_intervals(f->st, "sniff", local0 + 4 * 300, local0 + 8 * 300, expect_row, &e);
    fclose(e.f);
    /* every jsonl line of the CLI appears verbatim, one element each, in order */
    const char *line = exp, *at = s;
    int i = 0;
    for (const char *nl; (nl = strchr(line, '\n')) != NULL; line = nl + 1, i++) {
        char one[512];
        snprintf(one, sizeof one, "%.*s", (int)(nl - line), line);
        const char *hit = strstr(at, one);
        if (!hit)
            fail_msg("row %d not in the body: %s", i, one);
        at = hit + strlen(one);
    }
    assert_int_equal(i, 4);
    assert_int_equal(cJSON_GetArraySize(j), i);
    cJSON *first = cJSON_GetArrayItem(j, 0);
    static const char *const keys[] = {"interval_end", "source",         "production_wh",
                                       "net_wh",       "consumption_wh", "flags"};
    for (int k = 0; k < 6; k++)
        assert_non_null(cJSON_GetObjectItemCaseSensitive(first, keys[k]));
    assert_string_equal(cJSON_GetObjectItem(first, "interval_end")->valuestring,
                        "2017-06-07T07:20:00Z");
    cJSON_Delete(j);
    free(exp);
    free(s);

    get(f, "GET", "/api/intervals", "from=2017-06-07&to=2017-06-07T00:10&format=csv", &r);
    s = body(&r);
    web_response_free(&r);
    assert_string_equal(s, "interval_end,source,production_wh,net_wh,consumption_wh,flags\n"
                           "2017-06-07T07:05:00Z,poll,102.0,10.5,112.5,\n"
                           "2017-06-07T07:05:00Z,sniff,101.0,10.0,111.0,\n");
    free(s);
}

static void test_totals(void **state)
{
    struct fixture *f = *state;
    cJSON *j = get_json(f, "/api/totals", "period=day&source=sniff", 200);
    assert_int_equal(cJSON_GetArraySize(j), 2);
    cJSON *d0 = cJSON_GetArrayItem(j, 0), *d1 = cJSON_GetArrayItem(j, 1);
    assert_string_equal(cJSON_GetObjectItem(d0, "period")->valuestring, "2017-06-06");
    assert_string_equal(cJSON_GetObjectItem(d1, "period")->valuestring, "2017-06-07");
    assert_string_equal(cJSON_GetObjectItem(d1, "source")->valuestring, "sniff");
    /* production 101..112 = 1278; net 6 * 10 - 6 * 30 = -120 */
    assert_float_equal(cJSON_GetObjectItem(d1, "production_wh")->valuedouble, 1278.0, 1e-9);
    assert_float_equal(cJSON_GetObjectItem(d1, "net_wh")->valuedouble, -120.0, 1e-9);
    assert_float_equal(cJSON_GetObjectItem(d1, "consumption_wh")->valuedouble, 1158.0, 1e-9);
    /* derived from each interval's net: import 60, export 180 */
    assert_float_equal(cJSON_GetObjectItem(d1, "import_wh")->valuedouble, 60.0, 1e-9);
    assert_float_equal(cJSON_GetObjectItem(d1, "export_wh")->valuedouble, 180.0, 1e-9);
    assert_float_equal(cJSON_GetObjectItem(d0, "import_wh")->valuedouble, 5.0, 1e-9);
    cJSON_Delete(j);

    /* all series: sorted by period, then source; from/to as prefixes */
    j = get_json(f, "/api/totals", "period=day&from=2017-06-07&to=2017-06-08", 200);
    assert_int_equal(cJSON_GetArraySize(j), 2);
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(j, 0), "source")->valuestring,
                        "poll");
    cJSON_Delete(j);
    j = get_json(f, "/api/totals", "period=month&from=2017&to=2018&source=sniff", 200);
    assert_int_equal(cJSON_GetArraySize(j), 1);
    cJSON *m = cJSON_GetArrayItem(j, 0);
    assert_string_equal(cJSON_GetObjectItem(m, "period")->valuestring, "2017-06");
    assert_float_equal(cJSON_GetObjectItem(m, "production_wh")->valuedouble, 1328.0, 1e-9);
    assert_float_equal(cJSON_GetObjectItem(m, "import_wh")->valuedouble, 65.0, 1e-9);
    cJSON_Delete(j);
    j = get_json(f, "/api/totals", "period=year&from=2018", 200);
    assert_int_equal(cJSON_GetArraySize(j), 0);
    cJSON_Delete(j);

    /* from/to inside one month: that month's row with just those days
     * (2017-06-07 only: production 1278, import 60 derived from its nets) */
    j = get_json(f, "/api/totals", "period=month&from=2017-06-07&to=2017-06-08&source=sniff", 200);
    assert_int_equal(cJSON_GetArraySize(j), 1);
    m = cJSON_GetArrayItem(j, 0);
    assert_string_equal(cJSON_GetObjectItem(m, "period")->valuestring, "2017-06");
    assert_float_equal(cJSON_GetObjectItem(m, "production_wh")->valuedouble, 1278.0, 1e-9);
    assert_float_equal(cJSON_GetObjectItem(m, "import_wh")->valuedouble, 60.0, 1e-9);
    assert_int_equal(cJSON_GetObjectItem(m, "intervals")->valueint, 12);
    cJSON_Delete(j);
    /* the same for a year, and a range that ends before the data: no row */
    j = get_json(f, "/api/totals", "period=year&from=2017-06-06&to=2017-06-07&source=sniff", 200);
    assert_int_equal(cJSON_GetArraySize(j), 1);
    m = cJSON_GetArrayItem(j, 0);
    assert_string_equal(cJSON_GetObjectItem(m, "period")->valuestring, "2017");
    assert_float_equal(cJSON_GetObjectItem(m, "production_wh")->valuedouble, 50.0, 1e-9);
    assert_float_equal(cJSON_GetObjectItem(m, "import_wh")->valuedouble, 5.0, 1e-9);
    cJSON_Delete(j);
    j = get_json(f, "/api/totals", "period=month&from=2017-06-01&to=2017-06-06", 200);
    assert_int_equal(cJSON_GetArraySize(j), 0);
    cJSON_Delete(j);
}

static void test_compare(void **state)
{
    struct fixture *f = *state;
    cJSON *j = get_json(f, "/api/compare", "from=2017-06-07&to=2017-06-08", 200);
    assert_int_equal(cJSON_GetArraySize(j), 13);
    cJSON *row = cJSON_GetArrayItem(j, 0);
    assert_float_equal(cJSON_GetObjectItem(row, "production_diff_wh")->valuedouble, 1.0, 1e-9);
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(row, "in_a")));
    cJSON *sum = cJSON_GetObjectItem(cJSON_GetArrayItem(j, 12), "summary");
    assert_non_null(sum);
    assert_string_equal(cJSON_GetObjectItem(sum, "a")->valuestring, "sniff");
    assert_string_equal(cJSON_GetObjectItem(sum, "b")->valuestring, "poll");
    assert_int_equal(cJSON_GetObjectItem(sum, "intervals_both")->valueint, 12);
    cJSON_Delete(j);
    /* a and b may be swapped */
    j = get_json(f, "/api/compare", "from=2017-06-07&to=2017-06-08&a=poll&b=sniff", 200);
    row = cJSON_GetArrayItem(j, 0);
    assert_float_equal(cJSON_GetObjectItem(row, "production_diff_wh")->valuedouble, -1.0, 1e-9);
    cJSON_Delete(j);
}

static void test_devices(void **state)
{
    struct fixture *f = *state;
    cJSON *j = get_json(f, "/api/devices", "from=2017-06-07&to=2017-06-08&detail=1", 200);
    cJSON *devs = cJSON_GetObjectItem(j, "devices");
    assert_int_equal(cJSON_GetArraySize(devs), 2);
    cJSON *a = cJSON_GetArrayItem(devs, 0), *b = cJSON_GetArrayItem(devs, 1);
    assert_string_equal(cJSON_GetObjectItem(a, "device")->valuestring, "INV-A");
    /* 4 x 100 Wh, then 300 Wh over 3 intervals; the 2 kWh after a 20-interval
     * silence is a gap, not attributed */
    assert_float_equal(cJSON_GetObjectItem(a, "energy_wh")->valuedouble, 700.0, 1e-9);
    cJSON *iv = cJSON_GetObjectItem(a, "intervals");
    assert_int_equal(cJSON_GetArraySize(iv), 8);
    cJSON *split = cJSON_GetArrayItem(iv, 4);
    assert_float_equal(cJSON_GetObjectItem(split, "energy_wh")->valuedouble, 100.0, 1e-9);
    assert_string_equal(cJSON_GetObjectItem(split, "flags")->valuestring, "interpolated");
    cJSON *gap = cJSON_GetArrayItem(iv, 7);
    assert_string_equal(cJSON_GetObjectItem(gap, "flags")->valuestring, "gap");
    assert_float_equal(cJSON_GetObjectItem(b, "energy_wh")->valuedouble, 200.0, 1e-9);
    iv = cJSON_GetObjectItem(b, "intervals");
    assert_string_equal(
        cJSON_GetObjectItem(cJSON_GetArrayItem(iv, cJSON_GetArraySize(iv) - 1), "flags")
            ->valuestring,
        "counter_reset");
    cJSON_Delete(j);
    /* a range that starts later takes its base from before the range */
    j = get_json(f, "/api/devices", "from=2017-06-07T00:10&to=2017-06-07T00:20", 200);
    a = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "devices"), 0);
    assert_float_equal(cJSON_GetObjectItem(a, "energy_wh")->valuedouble, 200.0, 1e-9);
    assert_null(cJSON_GetObjectItem(a, "intervals"));
    cJSON_Delete(j);
}

static void feed(struct web_live *l, const char *dev, enum device_kind kind, int64_t t,
                 enum quantity q, double v)
{
    struct reading r = {.source = "sniff",
                        .series = "sniff",
                        .kind = kind,
                        .time = t,
                        .clock = CLOCK_RECORD,
                        .msg = kind == DEVICE_INVERTER ? 130 : 140,
                        .q = q,
                        .value = v};
    snprintf(r.device, sizeof r.device, "%s", dev);
    web_live_add(l, &r);
}

static void test_live_and_metrics(void **state)
{
    struct fixture *f = *state;
    int64_t t = DAY0 + 20 * 3600;
    feed(&f->live, "INV-A", DEVICE_INVERTER, t - 2000, Q_POWER_W, 999.0); /* stale later */
    feed(&f->live, "INV-A", DEVICE_INVERTER, t, Q_POWER_W, 300.0);
    feed(&f->live, "INV-A", DEVICE_INVERTER, t, Q_VOLTAGE_V, 240.0);
    feed(&f->live, "INV-B", DEVICE_INVERTER, t, Q_POWER_W, 200.0);
    feed(&f->live, "INV-C", DEVICE_INVERTER, t - 1000, Q_POWER_W, 50.0); /* older than 900 s */
    feed(&f->live, "PVS5c", DEVICE_NET_METER, t, Q_POWER_W, -350.0);
    cJSON *j = get_json(f, "/api/live", NULL, 200);
    cJSON *s = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "series"), 0);
    assert_float_equal(cJSON_GetObjectItem(s, "production_W")->valuedouble, 500.0, 1e-9);
    assert_float_equal(cJSON_GetObjectItem(s, "net_W")->valuedouble, -350.0, 1e-9);
    assert_float_equal(cJSON_GetObjectItem(s, "consumption_W")->valuedouble, 150.0, 1e-9);
    cJSON_Delete(j);

    /* a status file with a source, an alert and a secret that must not leak */
    FILE *sf = fopen(f->status, "w");
    assert_non_null(sf);
    fprintf(sf,
            "{\"pid\":%d,\"sources\":[{\"name\":\"mirror\",\"type\":\"sniff\",\"state\":\"up\","
            "\"last_record\":\"2017-06-07T20:00:00Z\",\"capture_packets\":42,"
            "\"password\":\"hunter2\"}],\"sinks\":[{\"name\":\"http\",\"state\":\"running\"}],"
            "\"alerts\":[{\"id\":\"x\",\"text\":\"meter silent\"}]}\n",
            (int)getpid());
    fclose(sf);
    struct web_response r;
    get(f, "GET", "/metrics", NULL, &r);
    char *m = body(&r);
    web_response_free(&r);
    static const char *const want[] = {
        /* production 50 + 1278 Wh = 1328 Wh */
        "pvtap_energy_joules_total{series=\"sniff\",quantity=\"production\"} 4780800\n",
        /* import 5 + 60 Wh */
        "pvtap_energy_joules_total{series=\"sniff\",quantity=\"import\"} 234000\n",
        "pvtap_energy_joules_total{series=\"sniff\",quantity=\"export\"} 648000\n",
        "pvtap_power_watts{series=\"sniff\",quantity=\"production\"} 500.0\n",
        "pvtap_power_watts{series=\"sniff\",quantity=\"net\"} -350.0\n",
        /* INV-A: two record times, B one, C one; the meter one */
        "pvtap_records_total{source=\"sniff\",msg=\"130\"} 4\n",
        "pvtap_records_total{source=\"sniff\",msg=\"140\"} 1\n",
        "pvtap_source_up{source=\"mirror\"} 1\n",
        "pvtap_last_record_timestamp_seconds{source=\"mirror\"} 1496865600\n",
        "pvtap_capture_packets_total 42\n",
        "# TYPE pvtap_capture_kernel_drops_total counter\n",
        "# TYPE pvtap_tcp_holes_total counter\n",
        "# TYPE pvtap_outbox_pending gauge\n",
        "pvtap_alerts_active 1\n",
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        if (!strstr(m, want[i]))
            fail_msg("/metrics lacks %s\n%s", want[i], m);
    free(m);

    get(f, "GET", "/api/status", NULL, &r);
    char *st = body(&r);
    web_response_free(&r);
    assert_null(strstr(st, "hunter2"));
    assert_null(strstr(st, "password"));
    cJSON *doc = cJSON_Parse(st);
    assert_non_null(doc);
    assert_string_equal(
        cJSON_GetObjectItem(cJSON_GetObjectItem(doc, "daemon"), "state")->valuestring, "running");
    assert_non_null(cJSON_GetObjectItem(cJSON_GetObjectItem(doc, "store"), "series"));
    cJSON_Delete(doc);
    free(st);
}

/* A gross site: the daemon hands the 'c' meter on as a consumption meter;
 * the page shows the house's power as consumption, net = house - production,
 * and /api/status says how the meters are read. */
static void test_gross_site(void **state)
{
    struct fixture *f = *state;
    int64_t t = DAY0 + 20 * 3600;
    feed(&f->live, "INV-A", DEVICE_INVERTER, t, Q_POWER_W, 300.0);
    feed(&f->live, "PVS6c", DEVICE_CONSUMPTION_METER, t, Q_POWER_W, 500.0);
    cJSON *j = get_json(f, "/api/live", NULL, 200);
    cJSON *s = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "series"), 0);
    assert_float_equal(cJSON_GetObjectItem(s, "production_W")->valuedouble, 300.0, 1e-9);
    assert_float_equal(cJSON_GetObjectItem(s, "consumption_W")->valuedouble, 500.0, 1e-9);
    assert_float_equal(cJSON_GetObjectItem(s, "net_W")->valuedouble, 200.0, 1e-9);
    cJSON_Delete(j);
    struct web_response r;
    get(f, "GET", "/metrics", NULL, &r);
    char *m = body(&r);
    web_response_free(&r);
    assert_non_null(
        strstr(m, "pvtap_power_watts{series=\"sniff\",quantity=\"consumption\"} 500.0\n"));
    assert_non_null(strstr(m, "pvtap_power_watts{series=\"sniff\",quantity=\"net\"} 200.0\n"));
    free(m);

    FILE *sf = fopen(f->status, "w");
    assert_non_null(sf);
    fprintf(sf,
            "{\"pid\":%d,\"site\":{\"consumption_meter\":\"gross\","
            "\"consumption_meter_from\":\"supervisor (pvs-api) on 2026-12-08\","
            "\"production\":\"auto\",\"meters_not_installed\":[{\"device\":\"sniff/PVS6p\","
            "\"text\":\"production CTs not installed\"}]}}\n",
            (int)getpid());
    fclose(sf);
    j = get_json(f, "/api/status", NULL, 200);
    cJSON *site = cJSON_GetObjectItem(j, "site");
    assert_non_null(site);
    assert_string_equal(cJSON_GetObjectItem(site, "consumption_meter")->valuestring, "gross");
    assert_string_equal(cJSON_GetObjectItem(site, "consumption_meter_from")->valuestring,
                        "supervisor (pvs-api) on 2026-12-08");
    cJSON *ni = cJSON_GetArrayItem(cJSON_GetObjectItem(site, "meters_not_installed"), 0);
    assert_string_equal(cJSON_GetObjectItem(ni, "text")->valuestring,
                        "production CTs not installed");
    cJSON_Delete(j);
}

static void test_site(void **state)
{
    struct fixture *f = *state;
    cJSON *j = get_json(f, "/api/site", NULL, 200);
    assert_string_equal(cJSON_GetObjectItem(j, "timezone")->valuestring, "America/Los_Angeles");
    assert_string_equal(cJSON_GetObjectItem(j, "latest_day")->valuestring, "2017-06-07");
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(j, "series")), 2);
    cJSON_Delete(j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_methods, setup, teardown),
        cmocka_unit_test_setup_teardown(test_content_types, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_queries, setup, teardown),
        cmocka_unit_test_setup_teardown(test_period_arg, setup, teardown),
        cmocka_unit_test_setup_teardown(test_intervals_schema, setup, teardown),
        cmocka_unit_test_setup_teardown(test_intervals_streamed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_totals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_compare, setup, teardown),
        cmocka_unit_test_setup_teardown(test_devices, setup, teardown),
        cmocka_unit_test_setup_teardown(test_live_and_metrics, setup, teardown),
        cmocka_unit_test_setup_teardown(test_site, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gross_site, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
