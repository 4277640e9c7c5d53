/* pvsim_capture: writes a simulated SunPower site's supervisor uploads as a capture, with ground truth and poll readings. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "capture_writer.h"
#include "site_model.h"
#include "site_supervisor.h"
#include "truth.h"

static void usage(FILE *fp)
{
    fputs("usage: pvsim_capture [options] -o OUT.pcap\n"
          "Simulates one SunPower site (supervisor, inverters, consumption meter `...c`,\n"
          "production meter `...p`, sun, clouds, household) and writes the supervisor's HTTP\n"
          "uploads as a capture, plus the ground truth computed by the simulator's own code.\n"
          "\n"
          "site and day:\n"
          "  --seed N              seed of everything random (default 1)\n"
          "  --date YYYY-MM-DD     first day, from 00:00 UTC (default 2017-06-07)\n"
          "  --days N              number of days (default 1)\n"
          "  --hours H             only the first H hours of the first day (small captures)\n"
          "  --start-hour H        start H hours after 00:00 UTC (with --hours)\n"
          "  --inverters N         microinverters, ~300 W each (default 12)\n"
          "  --string-inverter     one 5 kW string inverter instead\n"
          "  --latitude DEG --longitude DEG   site position (default 37.39, -122.03)\n"
          "supervisor behaviour:\n"
          "  --outage HH:MM-HH:MM  no uploads then (from the first day's 00:00 UTC; HH may\n"
          "                        pass 24, up to 744: an outage of days); the backlog is drained\n"
          "                        later in large bodies, shuffled, some sent twice\n"
          "  --backlog-chunk N     intervals per backlog body (default 48)\n"
          "  --missing P           probability a device's record is never sent\n"
          "  --meter-reset HH:MM   the c meter's counters restart at 0 then (first day, UTC)\n"
          "  --lost-reply P        probability the collector never answers (the body is re-sent)\n"
          "  --crlf                body lines end with CRLF\n"
          "metering topology:\n"
          "  --ct net|gross|none   the consumption meter's CTs: on the grid (default), around\n"
          "                        the house's loads, or never fitted (the meter reads 0)\n"
          "  --production-cts F    the production meter reads F (0.5..1.5) x the inverters\n"
          "                        (default 0.98); 0: no production CTs (it reads 0)\n"
          "  --truth-production auto|meter|inverters\n"
          "                        the site.production the truth assumes (default inverters)\n"
          "transport:\n"
          "  --segment N           TCP payload bytes per segment (default 1460; 1440 with --ipv6)\n"
          "  --reorder P           probability two adjacent segments swap\n"
          "  --dup P               probability a segment is retransmitted whole\n"
          "  --overlap P           probability a retransmission straddles two segments\n"
          "  --keepalive N         requests per TCP connection (default 1)\n"
          "  --chunked             Transfer-Encoding: chunked bodies\n"
          "  --chunk-size N        bytes per chunk (default 1024)\n"
          "  --vlan ID             802.1Q tag on every frame\n"
          "  --qinq                an outer 802.1ad S-tag too (S-VLAN --svlan, default 200)\n"
          "  --svlan ID            outer S-VLAN id (implies --qinq)\n"
          "  --ipv6                the supervisor talks IPv6\n"
          "  --background SHARE    share (0..0.999) of the capture's bytes that is other traffic:\n"
          "                        other HTTP, TLS-like, DNS, ARP, bulk TCP\n"
          "  --background-http-mb MAX  one background HTTP GET in 8 is a download of 2..MAX MB\n"
          "                        on port 80 (default 0: none)\n"
          "  --pcapng              write pcapng instead of pcap\n"
          "outputs:\n"
          "  -o, --output FILE     the capture (\"-\" = stdout)\n"
          "  --truth-records FILE  the records `pvtap sniff --format jsonl` must print\n"
          "  --truth-intervals FILE  the intervals (CSV) of series sniff (and poll with --poll)\n"
          "  --poll FILE           readings a poller would take (`pvtap poll --format json` + time)\n"
          "  --poll-interval S     seconds between polls (default 10)\n"
          "  --max-power-kW KW     site.max_power_kW for the truth (default 100)\n"
          "  --max-poll-gap S      max_poll_gap_s for the truth (default 60)\n"
          "  -q, --quiet           no summary on stderr\n"
          "  -h, --help            this text\n",
          fp);
}

static int parse_double(const char *s, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !(v >= lo && v <= hi))
        return -1;
    *out = v;
    return 0;
}

static int parse_int(const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

static int parse_hhmm(const char *s, int64_t *secs)
{
    int h, m;
    char tail;
    /* hours past 24 count on from the first day: an outage of days */
    if (sscanf(s, "%d:%d%c", &h, &m, &tail) != 2 || h < 0 || h > 24 * 31 || m < 0 || m > 59)
        return -1;
    *secs = (int64_t)h * 3600 + m * 60;
    return 0;
}

static int parse_date(const char *s, int64_t *out)
{
    int y, mo, d;
    char tail;
    if (sscanf(s, "%d-%d-%d%c", &y, &mo, &d, &tail) != 3 || y < 1971 || mo < 1 || mo > 12 || d < 1 || d > 31)
        return -1;
    struct tm tm = {0};
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    *out = (int64_t)timegm(&tm);
    return 0;
}

/* The shortest decimal that reads back as the same float32 (a WattNode float). */
static void format_f32(char *out, size_t size, double v)
{
    float f = (float)v;
    for (int prec = 6; prec <= 9; prec++) {
        snprintf(out, size, "%.*g", prec, (double)f);
        if ((float)strtod(out, NULL) == f)
            return;
    }
}

struct poll_log {
    int64_t *t;
    double *v;
    size_t n, cap;
};

static int poll_log_add(struct poll_log *p, int64_t t, const char *text)
{
    if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 4096;
        int64_t *nt = realloc(p->t, cap * sizeof(*nt));
        if (!nt)
            return -1;
        p->t = nt;
        double *nv = realloc(p->v, cap * sizeof(*nv));
        if (!nv)
            return -1;
        p->v = nv;
        p->cap = cap;
    }
    p->t[p->n] = t;
    p->v[p->n++] = strtod(text, NULL); /* the truth reads what the file says */
    return 0;
}

struct boundary_ctx {
    struct truth_series *s;
    const char *device;
    enum truth_quantity q;
    bool monotonic;
};

static int add_boundary(void *ctx, int64_t b_s, double v)
{
    struct boundary_ctx *c = ctx;
    return truth_series_add(c->s, c->device, c->q, c->monotonic, b_s, v);
}

/* Polls every interval_s over [start, end): the WattNode (the consumption
 * meter, reading what its CTs see: the grid, the house, or 0 without CTs)
 * and, on a string-inverter site, the SunSpec inverter. */
static int write_poll(struct site_model *m, const char *path, int64_t start_s, int64_t end_s, long interval_s,
                      struct truth_series *series, int64_t max_gap_s)
{
    FILE *fp = fopen(path, "w");
    if (!fp) {
        fprintf(stderr, "pvsim_capture: %s: %s\n", path, strerror(errno));
        return -1;
    }
    const struct site_config *cfg = site_model_config(m);
    struct poll_log net = {0}, prod = {0};
    int rc = 0;
    /* the poller's clock is not aligned with the 5-minute grid */
    int64_t t = start_s + 3 + (int64_t)(site_unit(cfg->seed, 7, 107) * (double)(interval_s - 1));
    for (; t < end_s && rc == 0; t += interval_s) {
        struct site_snapshot s;
        site_model_at(m, t, &s);
        char iso[32], pw[32], net_kWh[32], imp[32], exp_[32], volt[32], hz[32];
        truth_format_iso(iso, sizeof(iso), t);
        format_f32(pw, sizeof(pw), s.cmeter_W);
        format_f32(net_kWh, sizeof(net_kWh), s.cmeter_lifetime_kWh);
        format_f32(imp, sizeof(imp), s.cmeter_import_kWh);
        format_f32(exp_, sizeof(exp_), s.cmeter_export_kWh);
        format_f32(volt, sizeof(volt), s.voltage_V);
        format_f32(hz, sizeof(hz), s.frequency_Hz);
        /* a WattNode around the house's loads is polled with role "consumption" */
        bool gross = cfg->consumption_ct == SITE_CT_GROSS;
        fprintf(fp,
                "{\"device\":\"wattnode\",\"address\":1,%s\"time\":\"%s\",\"serial\":\"%u\","
                "\"power_W\":%s,"
                "\"energy_net_lifetime_kWh\":%s,\"energy_import_lifetime_kWh\":%s,"
                "\"energy_export_lifetime_kWh\":%s,\"voltage_V\":%s,\"frequency_Hz\":%s}\n",
                gross ? "\"role\":\"consumption\"," : "", iso, site_model_wattnode_serial(m), pw,
                net_kWh, imp, exp_, volt, hz);
        /* a WattNode without CTs reads 0 and 0: it enters nothing */
        if (!truth_meter_not_installed(strtod(net_kWh, NULL), strtod(pw, NULL)) &&
            poll_log_add(&net, t, net_kWh) < 0)
            rc = -1;
        if (cfg->string_inverter && rc == 0) {
            struct site_inverter inv;
            site_model_inverter(m, 0, &inv);
            /* SunSpec WH is an integer Wh accumulator */
            char e[32], p[32], v[32];
            snprintf(e, sizeof(e), "%.3f", round(inv.energy_lifetime_kWh * 1000.0) / 1000.0);
            snprintf(p, sizeof(p), "%.0f", round(inv.power_W));
            sim_format_decimal(v, sizeof(v), inv.voltage_V, 1);
            fprintf(fp,
                    "{\"device\":\"sunspec\",\"address\":126,\"time\":\"%s\",\"serial\":\"%s\",\"power_W\":%s,"
                    "\"energy_lifetime_kWh\":%s,\"voltage_V\":%s}\n",
                    iso, inv.serial, p, e, v);
            if (poll_log_add(&prod, t, e) < 0)
                rc = -1;
        }
    }
    enum truth_cmeter kind = truth_series_topology(series)->cmeter;
    if (rc == 0 && kind != TRUTH_CMETER_NONE) {
        bool as_net = kind == TRUTH_CMETER_NET;
        struct boundary_ctx c1 = {series, "wattnode@1", as_net ? TRUTH_NET : TRUTH_CONSUMPTION,
                                  !as_net};
        rc = truth_poll_boundaries(net.t, net.v, net.n, max_gap_s, add_boundary, &c1);
    }
    if (rc == 0 && prod.n) {
        struct boundary_ctx c2 = {series, "sunspec@126", TRUTH_PRODUCTION, true};
        rc = truth_poll_boundaries(prod.t, prod.v, prod.n, max_gap_s, add_boundary, &c2);
    }
    free(net.t);
    free(net.v);
    free(prod.t);
    free(prod.v);
    if (fclose(fp) != 0 || rc < 0) {
        fprintf(stderr, "pvsim_capture: %s: write failed\n", path);
        return -1;
    }
    return 0;
}

enum {
    OPT_SEED = 256, OPT_DATE, OPT_DAYS, OPT_HOURS, OPT_START_HOUR, OPT_INVERTERS, OPT_STRING, OPT_LAT, OPT_LON,
    OPT_OUTAGE, OPT_BACKLOG_CHUNK, OPT_MISSING, OPT_METER_RESET, OPT_LOST, OPT_CRLF, OPT_SEGMENT, OPT_REORDER,
    OPT_DUP, OPT_OVERLAP, OPT_KEEPALIVE, OPT_CHUNKED, OPT_CHUNK_SIZE, OPT_VLAN, OPT_QINQ, OPT_SVLAN, OPT_IPV6,
    OPT_BACKGROUND, OPT_PCAPNG, OPT_TRUTH_REC, OPT_TRUTH_INT, OPT_POLL, OPT_POLL_INT, OPT_MAX_POWER, OPT_MAX_GAP,
    OPT_CT, OPT_PRODUCTION_CTS, OPT_TRUTH_PRODUCTION, OPT_BG_HTTP_MB,
};

/* The index of s in the NULL-terminated names, or -1. */
static int parse_choice(const char *s, const char *const *names, int *out)
{
    for (int i = 0; names[i]; i++)
        if (strcmp(s, names[i]) == 0) {
            *out = i;
            return 0;
        }
    return -1;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"seed", required_argument, NULL, OPT_SEED},
        {"date", required_argument, NULL, OPT_DATE},
        {"days", required_argument, NULL, OPT_DAYS},
        {"hours", required_argument, NULL, OPT_HOURS},
        {"start-hour", required_argument, NULL, OPT_START_HOUR},
        {"inverters", required_argument, NULL, OPT_INVERTERS},
        {"string-inverter", no_argument, NULL, OPT_STRING},
        {"latitude", required_argument, NULL, OPT_LAT},
        {"longitude", required_argument, NULL, OPT_LON},
        {"outage", required_argument, NULL, OPT_OUTAGE},
        {"backlog-chunk", required_argument, NULL, OPT_BACKLOG_CHUNK},
        {"missing", required_argument, NULL, OPT_MISSING},
        {"meter-reset", required_argument, NULL, OPT_METER_RESET},
        {"lost-reply", required_argument, NULL, OPT_LOST},
        {"crlf", no_argument, NULL, OPT_CRLF},
        {"ct", required_argument, NULL, OPT_CT},
        {"production-cts", required_argument, NULL, OPT_PRODUCTION_CTS},
        {"truth-production", required_argument, NULL, OPT_TRUTH_PRODUCTION},
        {"segment", required_argument, NULL, OPT_SEGMENT},
        {"reorder", required_argument, NULL, OPT_REORDER},
        {"dup", required_argument, NULL, OPT_DUP},
        {"overlap", required_argument, NULL, OPT_OVERLAP},
        {"keepalive", required_argument, NULL, OPT_KEEPALIVE},
        {"chunked", no_argument, NULL, OPT_CHUNKED},
        {"chunk-size", required_argument, NULL, OPT_CHUNK_SIZE},
        {"vlan", required_argument, NULL, OPT_VLAN},
        {"qinq", no_argument, NULL, OPT_QINQ},
        {"svlan", required_argument, NULL, OPT_SVLAN},
        {"ipv6", no_argument, NULL, OPT_IPV6},
        {"background", required_argument, NULL, OPT_BACKGROUND},
        {"background-http-mb", required_argument, NULL, OPT_BG_HTTP_MB},
        {"pcapng", no_argument, NULL, OPT_PCAPNG},
        {"output", required_argument, NULL, 'o'},
        {"truth-records", required_argument, NULL, OPT_TRUTH_REC},
        {"truth-intervals", required_argument, NULL, OPT_TRUTH_INT},
        {"poll", required_argument, NULL, OPT_POLL},
        {"poll-interval", required_argument, NULL, OPT_POLL_INT},
        {"max-power-kW", required_argument, NULL, OPT_MAX_POWER},
        {"max-poll-gap", required_argument, NULL, OPT_MAX_GAP},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct site_config sc;
    struct supervisor_options so;
    struct capture_options co;
    site_config_defaults(&sc);
    supervisor_options_defaults(&so);
    capture_options_defaults(&co);
    const char *out = NULL, *truth_rec = NULL, *truth_int = NULL, *poll = NULL;
    long poll_interval = 10, max_gap = 60, days = 1;
    double hours = 0, start_hour = 0, max_power = 100.0;
    int64_t outage_a = -1, outage_b = -1, reset_at = -1;
    bool quiet = false, qinq = false;
    /* the truth takes the consumption meter as what its CTs are */
    static const char *const ct_names[] = {"net", "gross", "none", NULL};              /* enum site_ct */
    static const char *const prod_names[] = {"inverters", "meter", "auto", NULL};      /* enum truth_production */
    struct truth_topology topo = {TRUTH_CMETER_NET, TRUTH_PROD_INVERTERS};
    int choice = 0;
    int c;
    long l;
    while ((c = getopt_long(argc, argv, "o:qh", longopts, NULL)) != -1) {
        int bad = 0;
        switch (c) {
        case OPT_SEED:
            bad = parse_int(optarg, 0, 0x7fffffffL, &l);
            sc.seed = (uint64_t)l;
            break;
        case OPT_DATE:
            bad = parse_date(optarg, &sc.start_s);
            break;
        case OPT_DAYS:
            bad = parse_int(optarg, 1, 3660, &days);
            break;
        case OPT_HOURS:
            bad = parse_double(optarg, 0.1, 24, &hours);
            break;
        case OPT_START_HOUR:
            bad = parse_double(optarg, 0, 23.9, &start_hour);
            break;
        case OPT_INVERTERS:
            bad = parse_int(optarg, 1, SITE_MAX_INVERTERS, &l);
            sc.inverters = (int)l;
            break;
        case OPT_STRING:
            sc.string_inverter = true;
            break;
        case OPT_LAT:
            bad = parse_double(optarg, -66, 66, &sc.latitude_deg);
            break;
        case OPT_LON:
            bad = parse_double(optarg, -180, 180, &sc.longitude_deg);
            break;
        case OPT_OUTAGE: {
            char a[16], b[16];
            const char *dash = strchr(optarg, '-');
            if (!dash || (size_t)(dash - optarg) >= sizeof(a) || strlen(dash + 1) >= sizeof(b)) {
                bad = -1;
                break;
            }
            memcpy(a, optarg, (size_t)(dash - optarg));
            a[dash - optarg] = '\0';
            snprintf(b, sizeof(b), "%s", dash + 1);
            bad = parse_hhmm(a, &outage_a) || parse_hhmm(b, &outage_b) || outage_b <= outage_a;
            break;
        }
        case OPT_BACKLOG_CHUNK:
            bad = parse_int(optarg, 1, 10000, &l);
            so.backlog_chunk = (int)l;
            break;
        case OPT_MISSING:
            bad = parse_double(optarg, 0, 1, &so.missing);
            break;
        case OPT_METER_RESET:
            bad = parse_hhmm(optarg, &reset_at);
            break;
        case OPT_LOST:
            bad = parse_double(optarg, 0, 0.5, &so.lost_reply);
            break;
        case OPT_CRLF:
            so.crlf = true;
            break;
        case OPT_CT:
            bad = parse_choice(optarg, ct_names, &choice);
            sc.consumption_ct = (enum site_ct)choice; /* the names are in both enums' order */
            topo.cmeter = (enum truth_cmeter)choice;
            break;
        case OPT_PRODUCTION_CTS:
            /* 0 (not fitted) or a plausible CT error around 1 */
            bad = parse_double(optarg, 0, 1.5, &sc.production_ct_factor) ||
                  (sc.production_ct_factor > 0 && sc.production_ct_factor < 0.5);
            break;
        case OPT_TRUTH_PRODUCTION:
            bad = parse_choice(optarg, prod_names, &choice);
            topo.production = (enum truth_production)choice;
            break;
        case OPT_SEGMENT:
            bad = parse_int(optarg, 16, 1460, &l);
            co.segment_bytes = (int)l;
            break;
        case OPT_REORDER:
            bad = parse_double(optarg, 0, 1, &co.reorder);
            break;
        case OPT_DUP:
            bad = parse_double(optarg, 0, 1, &co.dup);
            break;
        case OPT_OVERLAP:
            bad = parse_double(optarg, 0, 1, &co.overlap);
            break;
        case OPT_KEEPALIVE:
            bad = parse_int(optarg, 1, 1000, &l);
            co.keepalive = (int)l;
            break;
        case OPT_CHUNKED:
            co.chunked = true;
            break;
        case OPT_CHUNK_SIZE:
            bad = parse_int(optarg, 1, 1 << 20, &l);
            co.chunk_bytes = (int)l;
            break;
        case OPT_VLAN:
            bad = parse_int(optarg, 1, 4094, &l);
            co.vlan = (int)l;
            break;
        case OPT_QINQ:
            qinq = true;
            break;
        case OPT_SVLAN:
            bad = parse_int(optarg, 1, 4094, &l);
            co.svlan = (int)l;
            qinq = true;
            break;
        case OPT_IPV6:
            co.ipv6 = true;
            break;
        case OPT_BACKGROUND:
            bad = parse_double(optarg, 0, 0.999, &co.background);
            break;
        case OPT_BG_HTTP_MB:
            bad = parse_int(optarg, 2, 1000, &l);
            co.background_http_mb = (int)l;
            break;
        case OPT_PCAPNG:
            co.pcapng = true;
            break;
        case 'o':
            out = optarg;
            break;
        case OPT_TRUTH_REC:
            truth_rec = optarg;
            break;
        case OPT_TRUTH_INT:
            truth_int = optarg;
            break;
        case OPT_POLL:
            poll = optarg;
            break;
        case OPT_POLL_INT:
            bad = parse_int(optarg, 1, 3600, &poll_interval);
            break;
        case OPT_MAX_POWER:
            bad = parse_double(optarg, 0.1, 1e6, &max_power);
            break;
        case OPT_MAX_GAP:
            bad = parse_int(optarg, 1, 86400, &max_gap);
            break;
        case 'q':
            quiet = true;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
        if (bad) {
            const char *name = "?";
            for (const struct option *o = longopts; o->name; o++)
                if (o->val == c)
                    name = o->name;
            fprintf(stderr, "pvsim_capture: bad value for --%s: %s\n", name, optarg);
            return 2;
        }
    }
    if (optind != argc || !out) {
        fprintf(stderr, "pvsim_capture: %s\n", out ? "unexpected argument" : "-o OUT.pcap is required");
        usage(stderr);
        return 2;
    }
    if (qinq && co.svlan == 0)
        co.svlan = 200;
    if (qinq && co.vlan == 0)
        co.vlan = 100;
    int64_t day0 = sc.start_s;
    sc.start_s = day0 + (int64_t)llround(start_hour * 3600.0) / 300 * 300;
    int64_t len_s = hours > 0 ? (int64_t)llround(hours * 3600.0) / 300 * 300 : days * 86400;
    if (len_s < 300)
        len_s = 300;
    sc.days = 1;
    int64_t end_s = sc.start_s + len_s;
    if (outage_a >= 0) {
        so.outage_start_s = day0 + outage_a;
        so.outage_end_s = day0 + outage_b;
    }
    if (reset_at >= 0)
        sc.meter_reset_s = day0 + reset_at;
    co.seed = sc.seed;
    /* the supervisor plans len_s / 300 slots from start_s */
    sc.days = (int)((len_s + 86399) / 86400);

    int rc = 1;
    struct site_model *m = site_model_new(&sc);
    struct site_supervisor *sup = NULL;
    struct capture_writer *w = NULL;
    struct truth_series *sniff = truth_series_new("sniff", max_power);
    struct truth_series *polls = truth_series_new("poll", max_power);
    FILE *frec = NULL;
    if (!m || !sniff || !polls) {
        fprintf(stderr, "pvsim_capture: out of memory\n");
        goto done;
    }
    truth_series_set_topology(sniff, &topo);
    truth_series_set_topology(polls, &topo);
    sup = site_supervisor_new(m, &so);
    if (!sup) {
        fprintf(stderr, "pvsim_capture: out of memory\n");
        goto done;
    }
    site_supervisor_limit(sup, len_s / 300);
    w = capture_open(out, &co);
    if (!w) {
        fprintf(stderr, "pvsim_capture: %s: %s\n", out, strerror(errno));
        goto done;
    }
    if (truth_rec && !(frec = fopen(truth_rec, "w"))) {
        fprintf(stderr, "pvsim_capture: %s: %s\n", truth_rec, strerror(errno));
        goto done;
    }
    const struct sim_request *r;
    int got;
    while ((got = site_supervisor_next(sup, &r)) > 0) {
        size_t blen;
        char *body = sim_request_body(r, so.crlf, &blen);
        if (!body) {
            fprintf(stderr, "pvsim_capture: out of memory\n");
            goto done;
        }
        int wr = capture_request(w, r->send_us, sim_request_path(r), body, blen, r->lost_reply);
        free(body);
        if (wr < 0) {
            fprintf(stderr, "pvsim_capture: %s: %s\n", out, strerror(-wr));
            goto done;
        }
        if (frec && truth_write_records(frec, r) < 0) {
            fprintf(stderr, "pvsim_capture: %s: write failed\n", truth_rec);
            goto done;
        }
        if (truth_add_request(sniff, r) < 0) {
            fprintf(stderr, "pvsim_capture: out of memory\n");
            goto done;
        }
    }
    if (got < 0) {
        fprintf(stderr, "pvsim_capture: out of memory\n");
        goto done;
    }
    struct capture_stats st;
    int cr = capture_close(w, end_s * 1000000, &st);
    w = NULL;
    if (cr < 0) {
        fprintf(stderr, "pvsim_capture: %s: write failed\n", out);
        goto done;
    }
    if (frec) {
        int e = fclose(frec);
        frec = NULL;
        if (e != 0) {
            fprintf(stderr, "pvsim_capture: %s: write failed\n", truth_rec);
            goto done;
        }
    }
    if (poll && write_poll(m, poll, sc.start_s, end_s, poll_interval, polls, max_gap) < 0)
        goto done;
    if (truth_int) {
        FILE *fi = fopen(truth_int, "w");
        if (!fi) {
            fprintf(stderr, "pvsim_capture: %s: %s\n", truth_int, strerror(errno));
            goto done;
        }
        struct truth_series *list[2] = {sniff, polls};
        int e = truth_write_csv(fi, list, poll ? 2 : 1);
        if (fclose(fi) != 0 || e < 0) {
            fprintf(stderr, "pvsim_capture: %s: write failed\n", truth_int);
            goto done;
        }
    }
    if (!quiet)
        fprintf(stderr,
                "pvsim_capture: %llu requests, %llu packets, %llu bytes (%llu supervisor packets, %llu bytes)\n",
                (unsigned long long)st.requests, (unsigned long long)st.packets, (unsigned long long)st.bytes,
                (unsigned long long)st.sup_packets, (unsigned long long)st.sup_bytes);
    rc = 0;
done:
    if (w)
        capture_close(w, 0, NULL);
    if (frec)
        fclose(frec);
    site_supervisor_free(sup);
    site_model_free(m);
    truth_series_free(sniff);
    truth_series_free(polls);
    return rc;
}
