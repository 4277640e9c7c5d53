/* Shared option handling of replay, intervals and compare: config, time zone, store path, format, times. */
#include "cli/engine_cli.h"

#include <string.h>

#include "cli/cli.h"
#include "util/err.h"
#include "util/timeutil.h"

int engine_cli_site_load(const char *cmd, const char *config_arg, const char *db_arg,
                         struct engine_cli_site *site)
{
    memset(site, 0, sizeof *site);
    const char *path = cli_config_path(config_arg);
    if (path) {
        int rc = pvtap_config_load(path, &site->cfg);
        if (rc) {
            if (rc != PVTAP_ECONFIG)
                fprintf(stderr, "pvtap %s: %s: %s\n", cmd, path, pvtap_strerror(rc));
            return EXIT_USAGE;
        }
        site->have_config = true;
    } else {
        pvtap_config_defaults(&site->cfg);
    }
    const char *zone = site->cfg.env.site.timezone[0] ? site->cfg.env.site.timezone : "UTC";
    int rc = tz_load(zone, &site->tz);
    if (rc) {
        fprintf(stderr, "pvtap %s: site.timezone: unknown time zone '%s'\n", cmd, zone);
        return EXIT_USAGE;
    }
    if (db_arg)
        site->db_path = db_arg;
    else if (site->have_config && site->cfg.store_path[0])
        site->db_path = site->cfg.store_path;
    return EXIT_OK;
}

void engine_cli_site_free(struct engine_cli_site *site)
{
    tz_free(site->tz);
    site->tz = NULL;
    pvtap_config_free(&site->cfg);
}

int engine_cli_format(const char *cmd, const char *given, enum interval_format *out)
{
    if (!given) {
        *out = cli_stdout_is_tty() ? IFMT_TABLE : IFMT_CSV;
        return EXIT_OK;
    }
    if (interval_format_parse(given, out))
        return cli_usage_error(cmd, "--format: '%s' is not csv, jsonl or table", given);
    return EXIT_OK;
}

int engine_cli_time(const char *cmd, const char *opt, const char *s, const struct tz *tz,
                    int64_t *out)
{
    if (time_parse_cli(s, tz, time_now_s(), out))
        return cli_usage_error(cmd,
                               "%s: '%s' is not a time (2017-06-07, 2017-06-07T16:20, "
                               "2017-06-07T16:20:00Z or -1d)",
                               opt, s);
    return EXIT_OK;
}
