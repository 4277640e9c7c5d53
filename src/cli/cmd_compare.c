/* `pvtap compare`: two series side by side, interval by interval, with differences and a summary. */
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/engine_cli.h"
#include "cli/compare_format.h"
#include "cli/interval_format.h"
#include "store/store.h"
#include "util/err.h"
#include "util/timeutil.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: pvtap compare [-c FILE] [--db PATH] [--a S] [--b S] [--from T] [--to T]\n"
            "                     [--format table|csv|jsonl]\n"
            "\n"
            "Lines up two series of the store (default: a = sniff, b = poll) interval by\n"
            "interval: each quantity from both, the difference b - a in Wh and in %% of a,\n"
            "and both rows' flags; then a summary: intervals in both or only one, the mean\n"
            "and largest absolute difference per quantity, and daily totals (site time).\n"
            "  -c, --config FILE  configuration (default /etc/pvtap/pvtap.conf if it exists)\n"
            "      --db PATH      the store (default: store.path, else " PVTAP_DEFAULT_DB ")\n"
            "      --a S, --b S   the two series\n"
            "      --from T, --to T  range of interval_end, --to exclusive (as `intervals`)\n"
            "      --format F     table on a terminal, else csv; or jsonl. csv prints the\n"
            "                     summary to stderr (# lines); jsonl ends with a summary object\n"
            "  -h, --help         this text\n");
}

int cmd_compare_main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'}, {"db", required_argument, NULL, 'd'},
        {"a", required_argument, NULL, 'a'},      {"b", required_argument, NULL, 'b'},
        {"from", required_argument, NULL, 'F'},   {"to", required_argument, NULL, 'T'},
        {"format", required_argument, NULL, 'f'}, {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *config_arg = NULL, *db_arg = NULL, *from_arg = NULL, *to_arg = NULL;
    const char *an = "sniff", *bn = "poll", *format_arg = NULL;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
        switch (c) {
        case 'c': config_arg = optarg; break;
        case 'd': db_arg = optarg; break;
        case 'a': an = optarg; break;
        case 'b': bn = optarg; break;
        case 'F': from_arg = optarg; break;
        case 'T': to_arg = optarg; break;
        case 'f': format_arg = optarg; break;
        case 'h': usage(stdout); return EXIT_OK;
        default: return cli_usage_error("compare", "unknown option");
        }
    }
    if (optind < argc)
        return cli_usage_error("compare", "unexpected argument '%s'", argv[optind]);
    if (!compare_series_name_ok(an) || !compare_series_name_ok(bn))
        return cli_usage_error("compare", "a series name is letters, digits and -_.@ only");
    if (strcmp(an, bn) == 0)
        return cli_usage_error("compare", "--a and --b name the same series '%s'", an);
    enum interval_format fmt;
    int ex = engine_cli_format("compare", format_arg, &fmt);
    if (ex)
        return ex;
    struct engine_cli_site site;
    ex = engine_cli_site_load("compare", config_arg, db_arg, &site);
    int64_t from = INT64_MIN, to = INT64_MAX;
    if (!ex && from_arg)
        ex = engine_cli_time("compare", "--from", from_arg, site.tz, &from);
    if (!ex && to_arg)
        ex = engine_cli_time("compare", "--to", to_arg, site.tz, &to);
    if (ex) {
        engine_cli_site_free(&site);
        return ex;
    }
    struct store *st;
    int rc = store_open(site.db_path ? site.db_path : PVTAP_DEFAULT_DB, site.tz, STORE_RDONLY,
                        &st);
    if (rc == 0) {
        rc = compare_write(st, site.tz, an, bn, from, to, fmt, stdout,
                           fmt == IFMT_CSV ? stderr : stdout);
        store_close(st);
    }
    engine_cli_site_free(&site);
    if (rc) {
        fprintf(stderr, "pvtap compare: %s\n", pvtap_strerror(rc));
        return EXIT_RUNTIME;
    }
    return fflush(stdout) == 0 ? EXIT_OK : EXIT_RUNTIME;
}
