/* What replay, intervals and compare share: the site (config, time zone) and where the store is. */
#ifndef PVTAP_CLI_ENGINE_CLI_H
#define PVTAP_CLI_ENGINE_CLI_H

#include <stdbool.h>

#include "cli/interval_format.h"
#include "util/config.h"

struct tz;

struct engine_cli_site {
    struct pvtap_config cfg; /* loaded from -c, or the defaults */
    bool have_config;
    struct tz *tz;           /* site.timezone */
    const char *db_path;     /* NULL: no store (replay runs in memory) */
};

/* -c/--db as the README says: --db PATH wins, then store.path of the config
 * (-c FILE, else /etc/pvtap/pvtap.conf when it exists); with neither,
 * db_path is NULL. Prints its own errors; returns an exit code (0 ok). */
int engine_cli_site_load(const char *cmd, const char *config_arg, const char *db_arg,
                         struct engine_cli_site *site);
void engine_cli_site_free(struct engine_cli_site *site);

/* --format: the given name, else table on a terminal and csv otherwise. */
int engine_cli_format(const char *cmd, const char *given, enum interval_format *out);

/* --from/--to (site time, or UTC with Z; -1d...): exit code 0 or 2. */
int engine_cli_time(const char *cmd, const char *opt, const char *s, const struct tz *tz,
                    int64_t *out);

#endif
