/* `pvtap upload`: send (or show, --dry-run) what the PVOutput queue holds; --check validates key
 * and system. */
#include <getopt.h>
#include <math.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "pvtap_build.h"
#include "sinks/pvo_plan.h"
#include "sinks/pvo_sink.h"
#include "sinks/sink.h"
#include "store/store.h"
#include "util/config.h"
#include "util/err.h"
#include "util/log.h"
#include "util/timeutil.h"
#include "util/url_redact.h"

#if PVTAP_HAVE_CURL
#include <curl/curl.h>
#endif

static void usage(FILE *out)
{
    fputs("usage: pvtap upload [-c FILE] [--db PATH] [--dry-run] [--check]\n"
          "\n"
          "Send to PVOutput what the store's PVOutput queue holds (the same batches the\n"
          "daemon sends), and stop once everything that can be delivered is.\n"
          "\n"
          "  -c, --config FILE   the configuration (default /etc/pvtap/pvtap.conf)\n"
          "      --db PATH       the store (overrides store.path)\n"
          "  -n, --dry-run       print the requests it would make (the API key redacted)\n"
          "                      and change nothing\n"
          "      --check         check the key and system id (getsystem.jsp), that the\n"
          "                      system's status interval is 5 minutes, and that\n"
          "                      site.timezone is plausible for the system's longitude\n"
          "  -h, --help          this text\n"
          "\n"
          "Exit status: 0 everything delivered (or the check passed), 1 something stayed\n"
          "undelivered or the check failed (said why), 2 usage or config error.\n",
          out);
}

static int64_t clock_now(void)
{
    return time_now_s();
}

/* ---- --dry-run ------------------------------------------------------------ */

static int dry_run(const struct pvoutput_config *c, struct store *st, const struct tz *tz)
{
    struct pvo_plan plan = {
        .store = st,
        .tz = tz,
        .series = c->series,
        .cumulative = c->cumulative,
        .backload_days = c->donation ? PVO_BACKLOAD_DAYS_DONATION : PVO_BACKLOAD_DAYS,
    };
    struct pvo_batch *b = malloc(sizeof *b);
    char *body = malloc(16384);
    if (!b || !body) {
        free(b);
        free(body);
        fprintf(stderr, "pvtap upload: out of memory\n");
        return EXIT_RUNTIME;
    }
    char url[600], shown[URL_SHOWN_SIZE];
    pvo_request_url(c->url, "addbatchstatus.jsp", url, sizeof url);
    url_redact(url, shown, sizeof shown);
    int64_t now = clock_now() + pvo_clock_offset_s();
    struct pvo_plan_stats stats = {0};
    size_t requests = 0, statuses = 0;
    /* Everything runs in one transaction that is rolled back: the planner
     * marks as it goes, exactly as the sink would, and nothing is kept. */
    int rc = store_begin(st);
    while (rc == 0) {
        rc = pvo_plan_next(&plan, now, c->donation ? PVO_BATCH_MAX_DONATION : PVO_BATCH_MAX, b,
                           &stats);
        if (rc < 0 || b->n == 0)
            break;
        size_t len = pvo_batch_body(b, c->cumulative, body, 16384);
        if (len == 0) {
            rc = PVTAP_ELIMIT;
            break;
        }
        printf("POST %s\nX-Pvoutput-Apikey: <redacted>\nX-Pvoutput-SystemId: %lld\n"
               "X-Rate-Limit: 1\nContent-Type: application/x-www-form-urlencoded\n\n%s\n\n",
               shown, c->system_id, body);
        requests++;
        statuses += b->n;
        struct pvo_reply_item items[PVO_BATCH_MAX_DONATION];
        for (size_t i = 0; i < b->n; i++)
            items[i] = (struct pvo_reply_item){b->st[i].date, b->st[i].minute, 1};
        rc = pvo_plan_apply(&plan, b, items, b->n, now, &stats, NULL);
    }
    /* then the completed days' totals (addoutput.jsp), as the sink sends them */
    size_t outputs = 0;
    if (rc == 0)
        rc = pvo_plan_dry_outputs(&plan, now, c->url, c->system_id, stdout, &outputs);
    requests += outputs;
    store_rollback(st);
    free(b);
    free(body);
    if (rc < 0) {
        fprintf(stderr, "pvtap upload: %s\n", pvtap_strerror(rc));
        return EXIT_RUNTIME;
    }
    fprintf(stderr,
            "pvtap upload: dry run: %zu requests, %zu statuses; %lld older than the backload "
            "window, %lld already on PVOutput, %lld rejected before\n",
            requests, statuses, (long long)stats.too_old, (long long)stats.unchanged,
            (long long)stats.still_rejected);
    return EXIT_OK;
}

#if PVTAP_HAVE_CURL
/* ---- sending: the sink's own loop, until idle ---------------------------- */

static int send_all(struct sink *sink, struct store *st, const char *db_path, const struct tz *tz)
{
    struct sink_runtime rt = {.store = st, .store_path = db_path, .tz = tz, .now_s = clock_now};
    int rc = pvo_sink_start(sink, &rt);
    if (rc < 0) {
        fprintf(stderr, "pvtap upload: cannot start: %s\n", pvtap_strerror(rc));
        return EXIT_RUNTIME;
    }
    char why[256] = "";
    int idle = 0;
    pvo_sink_step(sink);
    while ((idle = pvo_sink_idle(sink, why, sizeof why)) == 0) {
        struct pollfd fds[16];
        int64_t due = INT64_MAX;
        size_t n = pvo_sink_pollfds(sink, fds, 16, &due);
        int64_t wait = due == INT64_MAX ? 1000 : due - time_mono_ms();
        if (wait < 0)
            wait = 0;
        if (wait > 1000)
            wait = 1000;
        poll(fds, n, (int)wait);
        pvo_sink_step(sink);
    }
    struct pvo_sink_counts k;
    pvo_sink_counts(sink, &k);
    pvo_sink_stop(sink);
    printf("%lld requests, %lld statuses delivered, %lld undeliverable\n", (long long)k.requests,
           (long long)k.delivered, (long long)k.undeliverable);
    if (idle < 0) {
        fprintf(stderr, "pvtap upload: undelivered: %s\n", why);
        return EXIT_RUNTIME;
    }
    return EXIT_OK;
}

/* ---- --check --------------------------------------------------------------- */

struct buf {
    char data[8192];
    size_t len;
};

static size_t on_data(char *p, size_t size, size_t nmemb, void *ctx)
{
    struct buf *b = ctx;
    size_t n = size * nmemb, room = sizeof b->data - 1 - b->len;
    size_t take = n < room ? n : room;
    memcpy(b->data + b->len, p, take);
    b->len += take;
    b->data[b->len] = '\0';
    return n;
}

/* Field i (0-based) of the first ';'-section of a getsystem reply. */
static void field(const char *reply, int i, char *out, size_t size)
{
    const char *p = reply;
    for (int k = 0; k < i && p; k++) {
        p = strpbrk(p, ",;");
        if (p && *p == ';')
            p = NULL;
        else if (p)
            p++;
    }
    size_t n = p ? strcspn(p, ",;\r\n") : 0;
    if (n >= size)
        n = size - 1;
    memcpy(out, p ? p : "", n);
    out[n] = '\0';
}

static int check(const struct pvoutput_config *c, const struct tz *tz)
{
    char url[600], shown[URL_SHOWN_SIZE];
    pvo_request_url(c->url, "getsystem.jsp", url, sizeof url);
    url_redact(url, shown, sizeof shown);
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return EXIT_RUNTIME;
    CURL *e = curl_easy_init();
    struct curl_slist *h = NULL;
    char line[200];
    snprintf(line, sizeof line, "X-Pvoutput-Apikey: %s", c->api_key);
    struct curl_slist *t = curl_slist_append(NULL, line);
    memset(line, 0, sizeof line);
    h = t;
    snprintf(line, sizeof line, "X-Pvoutput-SystemId: %lld", c->system_id);
    if (h && !(t = curl_slist_append(h, line)))
        h = NULL;
    if (h && !(t = curl_slist_append(h, "X-Rate-Limit: 1")))
        h = NULL;
    struct buf *b = calloc(1, sizeof *b);
    if (!e || !h || !b) {
        fprintf(stderr, "pvtap upload: out of memory\n");
        curl_slist_free_all(t);
        curl_easy_cleanup(e);
        free(b);
        curl_global_cleanup();
        return EXIT_RUNTIME;
    }
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, b);
    curl_easy_setopt(e, CURLOPT_TIMEOUT, (long)c->timeout_s);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_USERAGENT, "pvtap");
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    if (c->ca_file[0])
        curl_easy_setopt(e, CURLOPT_CAINFO, c->ca_file);
    CURLcode res = curl_easy_perform(e);
    long code = 0;
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &code);
    for (struct curl_slist *l = h; l; l = l->next)
        memset(l->data, 0, strlen(l->data)); /* the key */
    curl_slist_free_all(h);
    curl_easy_cleanup(e);
    curl_global_cleanup();
    int failed = 0;
    if (res != CURLE_OK) {
        printf("PVOutput reachable: FAIL (%s: %s)\n", shown, curl_easy_strerror(res));
        free(b);
        return EXIT_RUNTIME;
    }
    printf("PVOutput reachable: ok (%s)\n", shown);
    if (code != 200) {
        char why[160];
        pvo_reply_reason(b->data, b->len, why, sizeof why);
        printf("key and system id %lld: FAIL (HTTP %ld: %s)\n", c->system_id, code, why);
        free(b);
        return EXIT_RUNTIME;
    }
    char name[128], interval[16], lat[32], lon[32];
    field(b->data, 0, name, sizeof name);
    field(b->data, 15, interval, sizeof interval);
    field(b->data, 13, lat, sizeof lat);
    field(b->data, 14, lon, sizeof lon);
    printf("key and system id %lld: ok (system \"%s\")\n", c->system_id, name);
    if (strcmp(interval, "5") == 0) {
        printf("status interval: ok (5 minutes)\n");
    } else {
        printf("status interval: FAIL (%s minutes on PVOutput; pvtap sends one status every 5: "
               "set 5 in the system's settings)\n",
               interval[0] ? interval : "unknown");
        failed = 1;
    }
    /* PVOutput does not say the system's zone: the longitude says roughly
     * which offset its sun keeps, which catches a zone left at UTC */
    char *end = NULL;
    double lon_deg = strtod(lon, &end);
    struct local_time lt;
    tz_to_local(tz, clock_now(), &lt);
    double std_h = (lt.utc_offset_s - (lt.is_dst ? 3600 : 0)) / 3600.0;
    if (end == lon || !isfinite(lon_deg)) {
        printf("time zone: cannot tell (no longitude on PVOutput)\n");
    } else if (fabs(lon_deg / 15.0 - std_h) <= 2.5) {
        printf("time zone: ok (%s, UTC%+.1f h, fits longitude %s)\n", tz_name(tz), std_h, lon);
    } else {
        printf("time zone: FAIL (site.timezone %s is UTC%+.1f h, but the system's longitude %s "
               "keeps about UTC%+.1f h)\n",
               tz_name(tz), std_h, lon, lon_deg / 15.0);
        failed = 1;
    }
    (void)lat;
    free(b);
    return failed ? EXIT_RUNTIME : EXIT_OK;
}
#endif

int cmd_upload_main(int argc, char **argv)
{
    enum { OPT_DB = 256, OPT_CHECK };
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'}, {"db", required_argument, NULL, OPT_DB},
        {"dry-run", no_argument, NULL, 'n'},      {"check", no_argument, NULL, OPT_CHECK},
        {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0},
    };
    const char *path = NULL, *db = NULL;
    bool dry = false, do_check = false;
    int c;
    while ((c = getopt_long(argc, argv, "c:nh", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            path = optarg;
            break;
        case OPT_DB:
            db = optarg;
            break;
        case 'n':
            dry = true;
            break;
        case OPT_CHECK:
            do_check = true;
            break;
        case 'h':
            usage(stdout);
            return EXIT_OK;
        default:
            return cli_usage_error("upload", "unknown option");
        }
    }
    if (optind < argc)
        return cli_usage_error("upload", "unexpected argument '%s'", argv[optind]);
    if (dry && do_check)
        return cli_usage_error("upload", "--dry-run and --check do not go together");
    path = cli_config_path(path);
    if (!path)
        return cli_usage_error("upload", "no configuration: %s does not exist; give one with -c",
                               PVTAP_DEFAULT_CONFIG);
    struct pvtap_config cfg;
    int rc = pvtap_config_load(path, &cfg);
    if (rc < 0) {
        pvtap_config_free(&cfg);
        return rc == PVTAP_ENOMEM ? EXIT_RUNTIME : EXIT_USAGE;
    }
    log_set_level((enum log_level)cfg.log_level);
    struct sink *sink = NULL;
    for (size_t i = 0; i < cfg.n_sinks; i++)
        if (strcmp(cfg.sinks[i].ops->name, "pvoutput") == 0)
            sink = &cfg.sinks[i];
    if (!sink) {
        pvtap_config_free(&cfg);
        return cli_usage_error("upload", "%s has no pvoutput group", path);
    }
    const struct pvoutput_config *pc = pvoutput_config_of(sink);
    struct tz *tz = NULL;
    rc = tz_load(cfg.env.site.timezone, &tz);
    if (rc < 0) {
        fprintf(stderr, "pvtap upload: time zone %s: %s\n", cfg.env.site.timezone,
                pvtap_strerror(rc));
        pvtap_config_free(&cfg);
        return EXIT_USAGE;
    }
    int status = EXIT_RUNTIME;
    if (do_check) {
#if PVTAP_HAVE_CURL
        status = check(pc, tz);
#endif
    } else {
        const char *db_path = db ? db : cfg.store_path;
        struct store *st = NULL;
        rc = store_open(db_path, tz, 0, &st);
        if (rc < 0) {
            fprintf(stderr, "pvtap upload: store %s: %s\n", db_path, pvtap_strerror(rc));
        } else if (dry) {
            status = dry_run(pc, st, tz);
        } else {
#if PVTAP_HAVE_CURL
            status = send_all(sink, st, db_path, tz);
#endif
        }
        store_close(st);
    }
    tz_free(tz);
    pvtap_config_free(&cfg);
    return status;
}
