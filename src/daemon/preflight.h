/* Before a root daemon opens anything: can run.user live where it must write? */
#ifndef PVTAP_DAEMON_PREFLIGHT_H
#define PVTAP_DAEMON_PREFLIGHT_H

#include <stddef.h>

/* Checks, as root and before any device is opened, what the privilege drop
 * to `user` would otherwise find one failure at a time: that the user
 * exists, and that it can write the store's folder (and the store's files
 * when they exist). The runtime folder (status.json) is created for the
 * user when missing, as systemd's RuntimeDirectory= would. On failure
 * writes one message naming every problem with its fix (config_file for
 * "set run.user in ...") into msg and returns PVTAP_ECONFIG; 0 when all is
 * well or when not root. */
int preflight_run_user(const char *user, const char *store_path, const char *runtime_dir,
                       const char *config_file, char *msg, size_t msg_size);

#endif
