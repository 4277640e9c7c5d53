/* `pvtap config check`: validate a configuration and print it with secrets redacted. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "store/site_kind.h"
#include "store/store.h"
#include "util/config.h"
#include "util/err.h"

static void usage(FILE *out)
{
    fputs("usage: pvtap config check [-c FILE] [-q]\n"
          "\n"
          "Validate a pvtap configuration (libconfig syntax, @include'd board files\n"
          "too) and print the effective configuration, defaults filled in, with\n"
          "secrets (api_key, password) redacted.\n"
          "\n"
          "  -c, --config FILE   the configuration (default /etc/pvtap/pvtap.conf)\n"
          "  -q, --quiet         validate only, print nothing when it is valid\n"
          "  -h, --help          this text\n"
          "\n"
          "Every problem is reported as FILE:LINE: key: what is wrong.\n"
          "Exit status: 0 valid, 2 invalid or unreadable.\n",
          out);
}

/* The consumption meter kind in force: the config's, else what the store
 * learnt from the supervisor (when the store can be read), else net. */
static void print_kind_in_force(const struct pvtap_config *cfg)
{
    struct store *st = NULL;
    struct site_kind k;
    if (access(cfg->store_path, R_OK) != 0 ||
        store_open(cfg->store_path, NULL, STORE_RDONLY, &st) < 0)
        st = NULL;
    site_kind_resolve(&cfg->env.site, st, &k);
    if (st)
        store_close(st);
    printf("# in force: consumption meter read as %s (%s), production %s\n",
           site_kind_consumption_name(k.consumption_meter), k.origin,
           site_kind_production_name(k.production));
}

int cmd_config_main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *path = NULL;
    bool quiet = false;
    int c;
    /* "+": stop at the first non-option, the action word. */
    while ((c = getopt_long(argc, argv, "+c:qh", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            path = optarg;
            break;
        case 'q':
            quiet = true;
            break;
        case 'h':
            usage(stdout);
            return EXIT_OK;
        default:
            return cli_usage_error("config", "unknown option");
        }
    }
    if (optind >= argc)
        return cli_usage_error("config", "an action is needed: check");
    if (strcmp(argv[optind], "check") != 0)
        return cli_usage_error("config", "unknown action '%s' (known: check)", argv[optind]);
    optind++;
    while ((c = getopt_long(argc, argv, "c:qh", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            path = optarg;
            break;
        case 'q':
            quiet = true;
            break;
        case 'h':
            usage(stdout);
            return EXIT_OK;
        default:
            return cli_usage_error("config", "unknown option");
        }
    }
    if (optind < argc)
        return cli_usage_error("config", "unexpected argument '%s'", argv[optind]);
    path = cli_config_path(path);
    if (!path) {
        fprintf(stderr,
                "pvtap config: no configuration: %s does not exist; give one with -c FILE\n",
                PVTAP_DEFAULT_CONFIG);
        return EXIT_USAGE;
    }
    struct pvtap_config cfg;
    int rc = pvtap_config_load(path, &cfg);
    if (rc == 0 && !quiet) {
        pvtap_config_dump(&cfg, stdout);
        print_kind_in_force(&cfg);
    }
    pvtap_config_free(&cfg);
    if (rc == PVTAP_ENOMEM) {
        fprintf(stderr, "pvtap config: out of memory\n");
        return EXIT_RUNTIME;
    }
    if (rc == PVTAP_ECONFIG)
        fprintf(stderr, "%s: invalid configuration\n", path);
    if (rc < 0) {
        return EXIT_USAGE;
    }
    return EXIT_OK;
}
