/* `pvtap replay`: captures and poll readings files through engine and store, as fast as it goes. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/engine_cli.h"
#include "cli/interval_format.h"
#include "engine/engine.h"
#include "sinks/sink.h"
#include "sources/sniff_offline.h"
#include "sources/source.h"
#include "store/site_kind.h"
#include "store/store.h"
#include "util/err.h"
#include "util/log.h"
#include "util/timeutil.h"

/* Readings per store transaction: big enough that commits are not the cost,
 * small enough that a kill loses little work (the next run redoes it). */
enum { BATCH_READINGS = 5000, MAX_FED_SERIES = 16, MAX_SINKS = 8 };

struct pipeline {
    struct engine *engine;
    struct store *store; /* NULL with --no-db */
    bool storing;        /* false while re-feeding the store's own records */
    const char *sinks[MAX_SINKS];
    size_t n_sinks;
    size_t in_batch;
    int failed;       /* first store/engine failure: stops the run */
    uint64_t refused; /* readings the engine could not use */
    char fed[MAX_FED_SERIES][ENGINE_SERIES_MAX];
    size_t n_fed;
};

static void usage(FILE *out)
{
    fprintf(
        out,
        "usage: pvtap replay FILE... [-c FILE] [--db PATH | --no-db] [--format csv|jsonl|table]\n"
        "                    [--consumption-meter net|gross|none] [--production "
        "auto|meter|inverters]\n"
        "\n"
        "Runs the whole pipeline on recorded data and prints the resulting intervals of\n"
        "every series the files fed (sorted by interval_end, then series).\n"
        "  FILE.pcap, FILE.pcapng  supervisor uploads, series 'sniff' (or the sniff\n"
        "                          source's `series` in the config)\n"
        "  FILE.jsonl              readings in the `pvtap poll --format json` shape with a\n"
        "                          `time` key, one per line: series 'poll' ('pvs-api' for\n"
        "                          device pvs-api, or the line's own `series`)\n"
        "\n"
        "  -c, --config FILE  configuration (default /etc/pvtap/pvtap.conf if it exists)\n"
        "      --db PATH      the store to fold into (default: the config's store.path;\n"
        "                     with no config, nothing is stored)\n"
        "      --no-db        keep everything in memory, store nothing\n"
        "      --format F     csv (default when not a terminal), jsonl or table\n"
        "      --consumption-meter K  how the 'c' meter is read (default: the config's\n"
        "                     site.consumption_meter; its \"auto\" is what the store\n"
        "                     learnt from the supervisor, else net)\n"
        "      --production P how production is taken (default: site.production)\n"
        "  -h, --help         this text\n"
        "\n"
        "Idempotent: replaying a file twice, or again after an interrupted run, leaves\n"
        "the same store. Exit status: 0 ok, 1 a file or line could not be used (the\n"
        "rest is still processed), 2 usage or config error.\n");
}

static void note_series(struct pipeline *p, const char *series)
{
    for (size_t i = 0; i < p->n_fed; i++)
        if (strcmp(p->fed[i], series) == 0)
            return;
    if (p->n_fed < MAX_FED_SERIES)
        snprintf(p->fed[p->n_fed++], ENGINE_SERIES_MAX, "%s", series);
}

/* Collect what changed and write it with the batch's records: one commit. */
static int flush(struct pipeline *p)
{
    const struct interval_row *rows;
    size_t n;
    int rc = engine_collect(p->engine, &rows, &n);
    if (rc || !p->store)
        return rc;
    int64_t now = time_now_s();
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = store_upsert_interval(p->store, &rows[i], p->sinks, p->n_sinks, now);
    if (rc == 0)
        rc = store_commit(p->store);
    else
        store_rollback(p->store);
    if (rc == 0)
        rc = store_begin(p->store);
    p->in_batch = 0;
    return rc;
}

static void on_reading(void *ctx, const struct reading *r)
{
    struct pipeline *p = ctx;
    if (p->failed)
        return;
    int rc = engine_add(p->engine, r);
    if (rc == PVTAP_EINVAL || rc == PVTAP_ELIMIT) {
        if (p->refused++ < 10)
            log_msg(LOGL_WARNING, "replay", "%s %s at %lld: reading not usable (%s)",
                    r->series ? r->series : "?", r->device, (long long)r->time, pvtap_strerror(rc));
        return;
    }
    if (rc) {
        p->failed = rc;
        return;
    }
    if (quantity_is_counter(r->q))
        note_series(p, r->series);
    if (p->store && p->storing && (rc = store_put_reading(p->store, r))) {
        p->failed = rc;
        return;
    }
    if (++p->in_batch >= BATCH_READINGS && (rc = flush(p)))
        p->failed = rc;
}

/* ---- poll readings files (.jsonl) --------------------------------------- */

static const char *const meta_keys[] = {"device", "address", "time",        "serial", "model",
                                        "role",   "series",  "status_text", "msg",    NULL};

static bool is_meta_key(const char *k)
{
    for (size_t i = 0; meta_keys[i]; i++)
        if (strcmp(k, meta_keys[i]) == 0)
            return true;
    return false;
}

/* One line in the `pvtap poll --format json` shape -> readings. On a
 * problem, returns a message (static text) and emits nothing. */
static const char *poll_line(const char *line, size_t len, const struct reading_sink *sink)
{
    cJSON *o = cJSON_ParseWithLength(line, len);
    if (!o)
        return "not JSON";
    const char *err = NULL;
    const cJSON *dev = cJSON_GetObjectItemCaseSensitive(o, "device");
    const cJSON *tm = cJSON_GetObjectItemCaseSensitive(o, "time");
    const cJSON *serial = cJSON_GetObjectItemCaseSensitive(o, "serial");
    const cJSON *addr = cJSON_GetObjectItemCaseSensitive(o, "address");
    const cJSON *role = cJSON_GetObjectItemCaseSensitive(o, "role");
    const cJSON *series = cJSON_GetObjectItemCaseSensitive(o, "series");
    struct reading base = {.clock = CLOCK_POLL};
    if (!cJSON_IsObject(o)) {
        err = "not a JSON object";
        goto out;
    }
    if (!cJSON_IsString(dev)) {
        err = "no \"device\" string";
        goto out;
    }
    const char *d = dev->valuestring;
    if (strcmp(d, "wattnode") && strcmp(d, "sunspec") && strcmp(d, "sma-net") &&
        strcmp(d, "pvs-api")) {
        err = "\"device\" is not wattnode, sunspec, sma-net or pvs-api";
        goto out;
    }
    if (cJSON_IsString(tm)) {
        if (time_parse_iso_utc(tm->valuestring, &base.time)) {
            err = "\"time\" is not like 2017-06-07T16:20:00Z";
            goto out;
        }
    } else if (cJSON_IsNumber(tm) && tm->valuedouble >= 0 && tm->valuedouble < 4102444800.0) {
        base.time = (int64_t)tm->valuedouble;
    } else {
        err = "no \"time\"";
        goto out;
    }
    if (cJSON_IsString(serial) && serial->valuestring[0]) {
        if (strlen(serial->valuestring) >= sizeof base.device) {
            err = "\"serial\" is too long";
            goto out;
        }
        snprintf(base.device, sizeof base.device, "%s", serial->valuestring);
    } else if (cJSON_IsNumber(addr)) {
        snprintf(base.device, sizeof base.device, "%s@%d", d, addr->valueint);
    } else {
        err = "neither \"serial\" nor \"address\": the device cannot be told apart";
        goto out;
    }
    if (cJSON_IsString(series)) {
        size_t sl = strlen(series->valuestring);
        if (sl == 0 || sl >= ENGINE_SERIES_MAX) {
            err = "\"series\" is empty or too long";
            goto out;
        }
        base.series = series->valuestring;
    } else {
        base.series = strcmp(d, "pvs-api") == 0 ? "pvs-api" : "poll";
    }
    base.source = d;
    bool has_net = cJSON_GetObjectItemCaseSensitive(o, "energy_net_lifetime_kWh") != NULL;
    if (cJSON_IsString(role)) {
        if (strcmp(role->valuestring, "net") == 0) {
            base.kind = DEVICE_NET_METER;
        } else if (strcmp(role->valuestring, "production") == 0) {
            base.kind = DEVICE_PRODUCTION_METER;
        } else if (strcmp(role->valuestring, "consumption") == 0) {
            base.kind = DEVICE_CONSUMPTION_METER;
        } else {
            err = "\"role\" is not net, production or consumption";
            goto out;
        }
    } else if (strcmp(d, "wattnode") == 0) {
        base.kind = DEVICE_NET_METER; /* role "net" is the default */
    } else if (has_net) {
        /* a pvs-api meter: the serial's suffix, as when sniffed */
        size_t sl = strlen(base.device);
        base.kind = sl && base.device[sl - 1] == 'p' ? DEVICE_PRODUCTION_METER : DEVICE_NET_METER;
    } else {
        base.kind = DEVICE_INVERTER;
    }
    /* check every value before emitting any: a bad line adds nothing */
    const cJSON *it;
    cJSON_ArrayForEach(it, o)
    {
        if (is_meta_key(it->string))
            continue;
        enum quantity q = quantity_from_name(it->string);
        if (q && !cJSON_IsNumber(it)) {
            err = "a reading's value is not a number";
            goto out;
        }
    }
    cJSON_ArrayForEach(it, o)
    {
        if (is_meta_key(it->string))
            continue;
        enum quantity q = quantity_from_name(it->string);
        if (!q)
            continue; /* a key this version does not know: not an error */
        struct reading r = base;
        r.q = q;
        r.value = it->valuedouble;
        reading_emit(sink, &r);
    }
out:
    cJSON_Delete(o);
    return err;
}

static int replay_jsonl(const char *path, struct pipeline *p, uint64_t *bad_lines)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "pvtap replay: %s: %s\n", path, strerror(errno));
        return PVTAP_EIO;
    }
    struct reading_sink sink = {on_reading, p};
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    unsigned long lineno = 0;
    while (!p->failed && (len = getline(&line, &cap, f)) >= 0) {
        lineno++;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = '\0';
        size_t start = strspn(line, " \t");
        if ((size_t)len == start)
            continue;
        const char *err = poll_line(line + start, (size_t)len - start, &sink);
        if (err) {
            (*bad_lines)++;
            fprintf(stderr, "%s:%lu: %s: line skipped\n", path, lineno, err);
        }
    }
    int rc = ferror(f) ? PVTAP_EIO : 0;
    if (rc)
        fprintf(stderr, "pvtap replay: %s: read error\n", path);
    free(line);
    fclose(f);
    return rc;
}

/* ---- output ------------------------------------------------------------- */

static int row_cmp(const void *a, const void *b)
{
    const struct interval_row *x = *(const struct interval_row *const *)a;
    const struct interval_row *y = *(const struct interval_row *const *)b;
    if (x->interval_end != y->interval_end)
        return x->interval_end < y->interval_end ? -1 : 1;
    return strcmp(x->series, y->series);
}

static int print_rows(const struct pipeline *p, enum interval_format fmt, const struct tz *tz)
{
    size_t total = 0;
    for (size_t i = 0; i < p->n_fed; i++) {
        const struct interval_row *rows;
        size_t n;
        engine_rows(p->engine, p->fed[i], &rows, &n);
        total += n;
    }
    const struct interval_row **all = calloc(total ? total : 1, sizeof *all);
    if (!all)
        return PVTAP_ENOMEM;
    size_t k = 0;
    for (size_t i = 0; i < p->n_fed; i++) {
        const struct interval_row *rows;
        size_t n;
        engine_rows(p->engine, p->fed[i], &rows, &n);
        for (size_t j = 0; j < n; j++)
            all[k++] = &rows[j];
    }
    qsort(all, total, sizeof *all, row_cmp);
    interval_format_header(stdout, fmt);
    for (size_t i = 0; i < total; i++)
        interval_format_row_tz(stdout, fmt, all[i], tz);
    free(all);
    return 0;
}

/* ---- main --------------------------------------------------------------- */

static const char *sniff_series(const struct pvtap_config *cfg)
{
    for (size_t i = 0; i < cfg->n_sources; i++) {
        const struct source *s = &cfg->sources[i];
        if (s->ops && strcmp(s->ops->name, "sniff") == 0 && s->series[0])
            return s->series;
    }
    return "sniff";
}

/* The largest max_poll_gap_s of the config's sources (default 60). */
static int poll_gap(const struct engine_cli_site *site)
{
    int gap = 60;
    if (!site->have_config)
        return gap;
    /* The sources' own validated values (a float key, or a default a
     * source picks itself, is in there too). */
    for (size_t i = 0; i < site->cfg.n_sources; i++) {
        const struct source *s = &site->cfg.sources[i];
        if (s->ops && s->max_poll_gap_s > gap)
            gap = s->max_poll_gap_s;
    }
    return gap;
}

static bool has_suffix(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* Index of s in a NULL-terminated list, -1 when absent. */
static int choice_index(const char *const names[], const char *s)
{
    for (int i = 0; names[i]; i++)
        if (strcmp(names[i], s) == 0)
            return i;
    return -1;
}

static void on_stored(void *ctx, const struct reading *r)
{
    on_reading(ctx, r);
}

int cmd_replay_main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"db", required_argument, NULL, 'd'},
        {"no-db", no_argument, NULL, 'n'},
        {"format", required_argument, NULL, 'f'},
        {"help", no_argument, NULL, 'h'},
        {"consumption-meter", required_argument, NULL, 'C'},
        {"production", required_argument, NULL, 'P'},
        {NULL, 0, NULL, 0},
    };
    const char *config_arg = NULL, *db_arg = NULL, *format_arg = NULL;
    int cm_arg = -1, prod_arg = -1;
    bool no_db = false;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            config_arg = optarg;
            break;
        case 'd':
            db_arg = optarg;
            break;
        case 'n':
            no_db = true;
            break;
        case 'f':
            format_arg = optarg;
            break;
        case 'h':
            usage(stdout);
            return EXIT_OK;
        case 'C':
            /* "auto" needs a supervisor to ask: not a replay choice */
            cm_arg = choice_index(&site_consumption_meter_names[1], optarg);
            if (cm_arg < 0)
                return cli_usage_error("replay", "--consumption-meter must be net, gross or none");
            cm_arg++;
            break;
        case 'P':
            prod_arg = choice_index(site_production_names, optarg);
            if (prod_arg < 0)
                return cli_usage_error("replay", "--production must be auto, meter or inverters");
            break;
        default:
            return cli_usage_error("replay", "unknown option");
        }
    }
    if (optind >= argc)
        return cli_usage_error("replay", "no FILE to replay");
    if (no_db && db_arg)
        return cli_usage_error("replay", "--db and --no-db exclude each other");
    for (int i = optind; i < argc; i++)
        if (!has_suffix(argv[i], ".pcap") && !has_suffix(argv[i], ".pcapng") &&
            !has_suffix(argv[i], ".jsonl"))
            return cli_usage_error("replay", "%s: not a .pcap, .pcapng or .jsonl file", argv[i]);
    enum interval_format fmt;
    int ex = engine_cli_format("replay", format_arg, &fmt);
    if (ex)
        return ex;
    struct engine_cli_site site;
    ex = engine_cli_site_load("replay", config_arg, db_arg, &site);
    if (ex) {
        engine_cli_site_free(&site);
        return ex;
    }

    struct pipeline p = {.storing = true};
    for (size_t i = 0; i < site.cfg.n_sinks && p.n_sinks < MAX_SINKS; i++)
        if (site.cfg.sinks[i].ops)
            p.sinks[p.n_sinks++] = site.cfg.sinks[i].ops->name;
    int rc = 0;
    const char *db = no_db ? NULL : site.db_path;
    if (db)
        rc = store_open(db, site.tz, 0, &p.store);
    if (cm_arg >= 0)
        site.cfg.env.site.consumption_meter = (enum site_consumption_meter)cm_arg;
    if (prod_arg >= 0)
        site.cfg.env.site.production = (enum site_production)prod_arg;
    struct site_kind kind;
    if (rc == 0)
        rc = site_kind_resolve(&site.cfg.env.site, p.store, &kind);
    struct engine_params ep;
    engine_params_default(&ep);
    ep.max_power_kW = site.cfg.env.site.max_power_kW > 0 ? site.cfg.env.site.max_power_kW : 100.0;
    ep.max_poll_gap_s = poll_gap(&site);
    if (rc == 0) {
        site_kind_engine_params(&kind, &ep);
        p.engine = engine_new(&ep);
        if (!p.engine)
            rc = PVTAP_ENOMEM;
    }
    if (rc == 0 && p.store) {
        /* start from what the store already holds, so a second replay or
         * one after a kill converges on the same intervals */
        p.storing = false;
        struct reading_sink sink = {on_stored, &p};
        rc = store_begin(p.store);
        if (rc == 0)
            rc = store_load_readings(p.store, NULL, &sink);
        if (rc == 0 && !p.failed)
            rc = flush(&p);
        p.storing = true;
        p.n_fed = 0; /* print only what the files feed */
    }
    if (rc == 0)
        rc = p.failed;

    uint64_t bad_lines = 0, bad_files = 0;
    const char *sseries = sniff_series(&site.cfg);
    for (int i = optind; rc == 0 && i < argc; i++) {
        int frc;
        if (has_suffix(argv[i], ".jsonl")) {
            frc = replay_jsonl(argv[i], &p, &bad_lines);
        } else {
            struct reading_sink sink = {on_reading, &p};
            struct sniff_offline_counts counts = {0};
            frc = sniff_offline_file(argv[i], sseries, &sink, &counts);
            if (frc)
                fprintf(stderr, "pvtap replay: %s: %s\n", argv[i],
                        frc == PVTAP_ECORRUPT ? "not a capture file" : pvtap_strerror(frc));
        }
        if (frc)
            bad_files++;
        rc = p.failed;
    }
    if (rc == 0)
        rc = flush(&p);
    if (p.store) {
        store_rollback(p.store); /* the empty transaction flush() opened */
        store_close(p.store);
    }
    if (rc == 0)
        rc = print_rows(&p, fmt, site.tz);
    if (p.refused)
        fprintf(stderr, "pvtap replay: %llu readings not usable (bad values or times)\n",
                (unsigned long long)p.refused);
    if (bad_lines)
        fprintf(stderr, "pvtap replay: %llu lines skipped\n", (unsigned long long)bad_lines);
    if (rc)
        fprintf(stderr, "pvtap replay: %s\n", pvtap_strerror(rc));
    engine_free(p.engine);
    engine_cli_site_free(&site);
    if (fflush(stdout) != 0)
        return EXIT_RUNTIME;
    return rc || bad_lines || bad_files || p.refused ? EXIT_RUNTIME : EXIT_OK;
}
