/* `pvtap poll --device pvs-api`: one read of the supervisor's local API, one object a device. */
#ifndef PVTAP_CLI_POLL_PVS_API_H
#define PVTAP_CLI_POLL_PVS_API_H

#include <stdbool.h>
#include <stdio.h>

/* True when argv asks for --device pvs-api and this build has it (libcurl):
 * cmd_poll hands the whole command line over. */
bool poll_pvs_api_wanted(int argc, char **argv);
int poll_pvs_api_main(int argc, char **argv);
/* The lines `pvtap poll --help` prints about it (nothing without libcurl). */
void poll_pvs_api_usage(FILE *out);

#endif
