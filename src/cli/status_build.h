/* The `pvtap status --format json` document, shared by the CLI and the web API (/api/status). */
#ifndef PVTAP_CLI_STATUS_BUILD_H
#define PVTAP_CLI_STATUS_BUILD_H

#include <cjson/cJSON.h>
#include <stddef.h>

/* {"daemon":{state,status_file},"live":<status.json>,"store":{...}}: the
 * running daemon's status file at status_path plus the store at db_path
 * (opened read-only for the call) with the outbox counts of the n_outbox
 * sinks named. A store problem is described in err (else err is ""); the
 * document is still built. Caller frees (cJSON_Delete); NULL: no memory. */
cJSON *status_build(const char *status_path, const char *db_path,
                    const char *const *outbox_sinks, size_t n_outbox, char *err, size_t err_size);

#endif
