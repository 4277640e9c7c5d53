/* `pvtap intervals`: the stored intervals of a time range, as csv, jsonl or a table. */
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/engine_cli.h"
#include "cli/interval_format.h"
#include "store/store.h"
#include "util/err.h"

static void usage(FILE *out)
{
    fprintf(out, "usage: pvtap intervals [-c FILE] [--db PATH] [--from T] [--to T] [--series S]\n"
                 "                       [--format csv|jsonl|table]\n"
                 "\n"
                 "Prints the 5-minute intervals in the store, sorted by interval_end then series.\n"
                 "  -c, --config FILE  configuration (default /etc/pvtap/pvtap.conf if it exists)\n"
                 "      --db PATH      the store (default: store.path, else " PVTAP_DEFAULT_DB ")\n"
                 "      --from T       first interval_end to show (inclusive)\n"
                 "      --to T         end of the range (exclusive)\n"
                 "                     T: 2017-06-07 or 2017-06-07T16:20 in site time, a UTC time\n"
                 "                     ending in Z, or relative: -1d, -6h, -30m\n"
                 "      --series S     one series (sniff, poll, ...); default: all\n"
                 "      --format F     table on a terminal, else csv; or jsonl\n"
                 "  -h, --help         this text\n");
}

struct print_ctx {
    enum interval_format fmt;
    const struct tz *tz; /* the table's local time */
    size_t n;
};

static int print_one(void *ctx, const struct store_interval *iv)
{
    struct print_ctx *p = ctx;
    interval_format_row_tz(stdout, p->fmt, &iv->row, p->tz);
    p->n++;
    return 0;
}

int cmd_intervals_main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'}, {"db", required_argument, NULL, 'd'},
        {"from", required_argument, NULL, 'F'},   {"to", required_argument, NULL, 'T'},
        {"series", required_argument, NULL, 's'}, {"format", required_argument, NULL, 'f'},
        {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0},
    };
    const char *config_arg = NULL, *db_arg = NULL, *from_arg = NULL, *to_arg = NULL;
    const char *series = NULL, *format_arg = NULL;
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
        case 'F':
            from_arg = optarg;
            break;
        case 'T':
            to_arg = optarg;
            break;
        case 's':
            series = optarg;
            break;
        case 'f':
            format_arg = optarg;
            break;
        case 'h':
            usage(stdout);
            return EXIT_OK;
        default:
            return cli_usage_error("intervals", "unknown option");
        }
    }
    if (optind < argc)
        return cli_usage_error("intervals", "unexpected argument '%s'", argv[optind]);
    struct print_ctx pc = {0};
    int ex = engine_cli_format("intervals", format_arg, &pc.fmt);
    if (ex)
        return ex;
    struct engine_cli_site site;
    ex = engine_cli_site_load("intervals", config_arg, db_arg, &site);
    int64_t from = INT64_MIN, to = INT64_MAX;
    if (!ex && from_arg)
        ex = engine_cli_time("intervals", "--from", from_arg, site.tz, &from);
    if (!ex && to_arg)
        ex = engine_cli_time("intervals", "--to", to_arg, site.tz, &to);
    if (ex) {
        engine_cli_site_free(&site);
        return ex;
    }
    struct store *st;
    int rc = store_open(site.db_path ? site.db_path : PVTAP_DEFAULT_DB, site.tz, STORE_RDONLY, &st);
    if (rc == 0) {
        interval_format_header(stdout, pc.fmt);
        pc.tz = site.tz;
        rc = store_query_intervals(st, series, from, to, print_one, &pc);
        store_close(st);
    }
    engine_cli_site_free(&site);
    if (rc) {
        fprintf(stderr, "pvtap intervals: %s\n", pvtap_strerror(rc));
        return EXIT_RUNTIME;
    }
    return fflush(stdout) == 0 ? EXIT_OK : EXIT_RUNTIME;
}
