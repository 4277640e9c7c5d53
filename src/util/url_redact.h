/* A URL as it may be printed: credentials hidden, wherever in the URL they hide. */
#ifndef PVTAP_UTIL_URL_REDACT_H
#define PVTAP_UTIL_URL_REDACT_H

#include <stddef.h>

/* The userinfo ("user:pw@") becomes "***@" and the value of every query
 * parameter named key, apikey, api_key, password, token or secret becomes
 * "***". Text without a scheme ("user:pw@host:1883") is treated as an
 * authority. Always NUL-terminates out (truncating when it is too small;
 * truncation only ever drops text, never uncovers it). Use it wherever a
 * configured URL, host or address is printed: errors, dumps, logs, status. */
void url_redact(const char *url, char *out, size_t out_size);

/* The usual buffer for one redacted URL. */
enum { URL_SHOWN_SIZE = 640 };

#endif
