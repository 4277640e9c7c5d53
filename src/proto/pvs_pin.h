/* pvs-api pure checks: the supervisor's base URL and the TLS public-key pin (tls_sha256). */
#ifndef PVTAP_PROTO_PVS_PIN_H
#define PVTAP_PROTO_PVS_PIN_H

#include <stdbool.h>
#include <stddef.h>

/* Check a base URL as a user gives it and normalise it into out (no
 * trailing '/'): http or https, a host, no user:password@, no query or
 * fragment. PVTAP_EINVAL with why filled; PVTAP_ELIMIT when too long. */
int pvs_url_normalize(const char *in, char *out, size_t out_size, char *why, size_t why_size);
bool pvs_url_is_https(const char *url);

/* tls_sha256 as a user writes it: "sha256//BASE64", BASE64 (44 characters)
 * or 64 hex digits (':' or ' ' between bytes allowed), each the SHA-256 of
 * the certificate's public key (SubjectPublicKeyInfo, DER). out (>= 53
 * bytes) gets "sha256//BASE64", what libcurl's CURLOPT_PINNEDPUBLICKEY
 * takes. PVTAP_EINVAL when it is none of these. */
enum { PVS_PIN_SIZE = 53 }; /* "sha256//" + 44 + NUL */
int pvs_pin_normalize(const char *in, char *out, size_t out_size);

#endif
