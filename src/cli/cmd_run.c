/* `pvtap run`: the daemon, until SIGTERM (or --until-idle). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "daemon/daemon.h"
#include "util/config.h"
#include "util/err.h"
#include "util/log.h"

static void usage(FILE *out)
{
    fputs("usage: pvtap run [-c FILE] [--db PATH] [--until-idle] [--no-drop]\n"
          "\n"
          "Run every configured source into the interval engine, commit intervals to\n"
          "the store, and feed the configured sinks, until SIGTERM. SIGHUP re-reads\n"
          "the configuration (a broken one is reported and the old one kept).\n"
          "\n"
          "  -c, --config FILE   the configuration (default /etc/pvtap/pvtap.conf)\n"
          "      --db PATH       the store (overrides store.path)\n"
          "      --until-idle    stop once every file source is exhausted and every sink\n"
          "                      has delivered what it can (tests, one-shot imports)\n"
          "      --runtime-dir D where status.json goes (default $RUNTIME_DIRECTORY or\n"
          "                      /run/pvtap)\n"
          "      --no-drop       as root, do not switch to run.user (debugging only)\n"
          "  -h, --help          this text\n"
          "\n"
          "Exit status: 0 stopped cleanly (with --until-idle: everything delivered),\n"
          "1 something failed or stayed undelivered (said why), 2 usage or config error.\n",
          out);
}

int cmd_run_main(int argc, char **argv)
{
    enum { OPT_DB = 256, OPT_IDLE, OPT_RUNDIR, OPT_NODROP };
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"db", required_argument, NULL, OPT_DB},
        {"until-idle", no_argument, NULL, OPT_IDLE},
        {"runtime-dir", required_argument, NULL, OPT_RUNDIR},
        {"no-drop", no_argument, NULL, OPT_NODROP},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct daemon_options opt;
    memset(&opt, 0, sizeof opt);
    opt.drop_privileges = true;
    const char *path = NULL;
    int c;
    while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            path = optarg;
            break;
        case OPT_DB:
            opt.db_path = optarg;
            break;
        case OPT_IDLE:
            opt.until_idle = true;
            break;
        case OPT_RUNDIR:
            opt.runtime_dir = optarg;
            break;
        case OPT_NODROP:
            opt.drop_privileges = false;
            break;
        case 'h':
            usage(stdout);
            return EXIT_OK;
        default:
            return cli_usage_error("run", "unknown option");
        }
    }
    if (optind < argc)
        return cli_usage_error("run", "unexpected argument '%s'", argv[optind]);
    path = cli_config_path(path);
    if (!path)
        return cli_usage_error("run", "no configuration: %s does not exist; give one with -c",
                               PVTAP_DEFAULT_CONFIG);
    struct pvtap_config *cfg = malloc(sizeof *cfg);
    if (!cfg) {
        fprintf(stderr, "pvtap run: out of memory\n");
        return EXIT_RUNTIME;
    }
    int rc = pvtap_config_load(path, cfg);
    if (rc < 0) {
        pvtap_config_free(cfg);
        free(cfg);
        if (rc == PVTAP_ECONFIG)
            fprintf(stderr, "%s: invalid configuration\n", path);
        return rc == PVTAP_ENOMEM ? EXIT_RUNTIME : EXIT_USAGE;
    }
    log_set_level((enum log_level)cfg->log_level);
    opt.config_path = path;
    int status = daemon_run(cfg, &opt);
    pvtap_config_free(cfg);
    free(cfg);
    return status;
}
