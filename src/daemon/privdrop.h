/* Dropping root once the devices are open, keeping only CAP_NET_RAW when capture needs it. */
#ifndef PVTAP_DAEMON_PRIVDROP_H
#define PVTAP_DAEMON_PRIVDROP_H

#include <stdbool.h>

/* As root: switch to user (its primary group, plus its supplementary groups
 * such as dialout for the serial ports), keeping CAP_NET_RAW in the
 * permitted and effective sets when keep_net_raw (a sniff source must be
 * able to re-open its interface), and nothing else. Not root: nothing to do
 * (returns 0; the unit already started us unprivileged with the ambient
 * capability). Any failure is fatal to the caller: never run on as root by
 * accident. Messages are logged. */
int privdrop_to_user(const char *user, bool keep_net_raw);

/* The effective capability set of this process as a bit mask (bit n =
 * capability n), read from /proc/self/status; -1 when unreadable. */
long long privdrop_cap_effective(void);

#endif
