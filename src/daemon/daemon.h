/* The daemon: every configured source -> engine -> store -> sinks, until SIGTERM. */
#ifndef PVTAP_DAEMON_DAEMON_H
#define PVTAP_DAEMON_DAEMON_H

#include <stdbool.h>
#include <stdint.h>

#include "util/config.h"

struct daemon_options {
    const char *config_path; /* re-read on SIGHUP; NULL: no reload */
    const char *db_path;     /* overrides store.path when set */
    bool until_idle;         /* stop once file sources are exhausted and sinks idle */
    const char *runtime_dir; /* where status.json goes; NULL: $PVTAP_RUNTIME_DIR,
                                $RUNTIME_DIRECTORY, else /run/pvtap */
    int64_t flush_ms;        /* how long readings wait before the batch commit (default 2000) */
    bool drop_privileges;    /* as root: switch to run.user once devices are open */
};

/* Runs until SIGTERM/SIGINT (exit 0), or with until_idle until done (0 when
 * every sink delivered everything, 1 when something stayed undelivered).
 * cfg is the loaded configuration; on SIGHUP a new one is loaded from
 * config_path and, when valid, replaces it (a broken one is reported with
 * FILE:LINE and the old one kept). Returns a process exit status. */
int daemon_run(struct pvtap_config *cfg, const struct daemon_options *opt);

/* Where the status file of a running daemon is: into out. */
void daemon_status_path(const char *runtime_dir, char *out, size_t out_size);

#endif
