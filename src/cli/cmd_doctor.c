/* `pvtap doctor`: checks a site's set-up and says what to do about each problem. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli/cli.h"
#include "daemon/doctor.h"
#include "util/config.h"
#include "util/err.h"

static void usage(FILE *out)
{
    fputs("usage: pvtap doctor [-c FILE] [--seconds N]\n"
          "\n"
          "Check a site's set-up: the clock is set and synchronised; supervisor traffic\n"
          "is seen on the mirror port (and is plaintext HTTP); each RS-485 port has bus\n"
          "activity with valid Modbus frames (or is quiet where pvtap is to poll); the\n"
          "adapter's latency timer. Nothing is ever transmitted. Each check prints a\n"
          "verdict and what to do.\n"
          "\n"
          "  -c, --config FILE   the configuration (default /etc/pvtap/pvtap.conf)\n"
          "      --seconds N     how long to listen on each port (default 20; the\n"
          "                      supervisor uploads every 300 s)\n"
          "  -h, --help          this text\n"
          "\n"
          "Exit status: 0 nothing failed (warnings are advice), 1 a check failed, 2 usage or\n"
          "config error.\n",
          out);
}

static void print_result(void *ctx, const struct doctor_result *r)
{
    (void)ctx;
    static const char *const tags[] = {"ok", "warn", "FAIL", "skip"};
    printf("%-4s  %-28s %s\n", tags[r->level], r->check, r->verdict);
    fflush(stdout);
}

int cmd_doctor_main(int argc, char **argv)
{
    enum { OPT_SECONDS = 256 };
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"seconds", required_argument, NULL, OPT_SECONDS},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *path = NULL;
    double seconds = 20;
    int c;
    while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            path = optarg;
            break;
        case OPT_SECONDS:
            if (!cli_parse_double(optarg, 0.1, 3600, &seconds))
                return cli_usage_error("doctor", "--seconds takes 0.1 to 3600, not '%s'", optarg);
            break;
        case 'h':
            usage(stdout);
            return EXIT_OK;
        default:
            return cli_usage_error("doctor", "unknown option");
        }
    }
    if (optind < argc)
        return cli_usage_error("doctor", "unexpected argument '%s'", argv[optind]);
    path = cli_config_path(path);
    if (!path)
        return cli_usage_error("doctor", "no configuration: %s does not exist; give one with -c",
                               PVTAP_DEFAULT_CONFIG);
    struct pvtap_config cfg;
    int rc = pvtap_config_load(path, &cfg);
    if (rc < 0) {
        pvtap_config_free(&cfg);
        return EXIT_USAGE;
    }
    enum doctor_level worst = doctor_run(&cfg, seconds, print_result, NULL);
    pvtap_config_free(&cfg);
    return worst == DOCTOR_FAIL ? EXIT_RUNTIME : EXIT_OK;
}
