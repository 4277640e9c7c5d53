/* The supervisor's local API client (libcurl, pinned TLS), for the pvs-api source and poll. */
#ifndef PVTAP_SOURCES_PVS_API_H
#define PVTAP_SOURCES_PVS_API_H

/* How the pvs-api source says what its consumption CTs measure (only the
 * local API knows: a sniffed 140 record carries no subtype). The 'c' meter's
 * readings carry the kind:
 * - DEVICE_CONSUMPTION_METER: subtype GROSS_CONSUMPTION_LINESIDE, the CTs
 *   measure the whole house ("gross"): its net counter
 *   (Q_ENERGY_NET_LIFETIME_KWH) is the site's consumption, never goes down;
 * - DEVICE_NET_METER: any other subtype (NET_CONSUMPTION_LOADSIDE, NOT_USED)
 *   or none (the flat varserver variables carry none): the CTs measure the
 *   grid connection ("net"), import positive, export negative.
 * The 'p' meter is DEVICE_PRODUCTION_METER. The counters keep their meaning
 * (net, import = pos, export = neg); only the kind differs. The subtype
 * itself is in struct pvs_device.subtype of the answer for a caller of
 * pvs_client_poll, and `pvtap poll --device pvs-api` prints it. */

#include <stdbool.h>
#include <stddef.h>

#include "proto/pvs_json.h"
#include "proto/pvs_pin.h"

#define PVS_DEFAULT_USERNAME "ssm_owner"
enum {
    PVS_DEFAULT_INTERVAL_S = 120, /* the supervisor is slow and its flash wears */
    PVS_DEFAULT_TIMEOUT_S = 60,   /* DeviceList answers can take tens of seconds */
    PVS_CONNECT_TIMEOUT_S = 10,
    PVS_MAX_BODY_BYTES = 4 << 20,
};

struct pvs_client_opts {
    char url[256];      /* base: http[s]://host[:port][/prefix], no trailing '/' */
    char username[64];  /* login user (varserver API) */
    char password[128]; /* empty: the DeviceList generation; never printed */
    char tls_pin[64];   /* "sha256//BASE64" (public-key pin), or "" */
    long timeout_s;     /* whole request */
};

/* What went wrong, for a message: code is the PVTAP_E* returned; text says
 * it for a user (never holds the password). */
struct pvs_error {
    int code;
    long http_status; /* 0 when no HTTP answer */
    char text[384];
};

struct pvs_client;

/* No I/O. *out: caller frees with pvs_client_free(). PVTAP_ENOMEM. */
int pvs_client_new(const struct pvs_client_opts *o, struct pvs_client **out);
void pvs_client_free(struct pvs_client *c);

/* One poll of every device, appended to out: the DeviceList (no password),
 * or a login when there is no session yet and the meter and inverter
 * queries (password set; a refused session is renewed once): per group the
 * flat variables (/vars?match=/sys/devices/meter/&fmt=obj), else the nested
 * objects (/vars?match=meter/data&fmt=obj) when the first brings no
 * device or is refused with an HTTP status; the shape that answered is
 * asked first next time.
 * *api says which generation answered. On https without a pin nothing is
 * sent: the server's pin is learned (pvs_client_learn_pin) and the poll is
 * refused with PVTAP_ECONFIG and a text naming it. Errors: PVTAP_ETIMEOUT,
 * PVTAP_EIO (connection, HTTP status), PVTAP_ECONFIG (401/403, pin
 * missing or wrong: a user must act), PVTAP_EUNSUPPORTED (HTML: a PVS2;
 * or the varserver answered neither shape of device variables: the text
 * names the firmware from /sys/info/sw_rev), PVTAP_ENOTFOUND (a DeviceList
 * with no inverter or meter: the text names the supervisor's SWVER),
 * PVTAP_ECORRUPT (JSON not of the expected shape), PVTAP_ENOMEM. */
int pvs_client_poll(struct pvs_client *c, struct pvs_answer *out, enum pvs_api *api,
                    struct pvs_error *err);

/* First contact: complete a TLS handshake (no request, no credentials) to
 * read the server's public-key pin into pin ("sha256//BASE64"). */
int pvs_client_learn_pin(const struct pvs_client_opts *o, char *pin, size_t pin_size,
                         struct pvs_error *err);

#endif
