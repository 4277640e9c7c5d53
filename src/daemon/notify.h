/* systemd readiness and watchdog notifications (the sd_notify protocol). */
#ifndef PVTAP_DAEMON_NOTIFY_H
#define PVTAP_DAEMON_NOTIFY_H

#include <stdint.h>

/* Sends one sd_notify message ("READY=1", "STATUS=...", "WATCHDOG=1",
 * "STOPPING=1", "RELOADING=1") to $NOTIFY_SOCKET. Returns 1 when sent, 0
 * when not running under systemd, a negative PVTAP_E* on failure. The
 * protocol is one datagram on an AF_UNIX socket (an '@' path is in the
 * abstract namespace), so no library is needed for it. */
int notify_send(const char *message);

/* The watchdog interval systemd asked for ($WATCHDOG_USEC, honouring
 * $WATCHDOG_PID), in ms; 0 when there is none. Ping at half of it. */
int64_t notify_watchdog_ms(void);

#endif
