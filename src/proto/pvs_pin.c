/* pvs-api pure checks: the supervisor's base URL and the TLS public-key pin (tls_sha256). */
#include "proto/pvs_pin.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/err.h"

enum { SHA256_BYTES = 32, B64_LEN = 44 }; /* base64 of 32 bytes: 43 characters and one '=' */

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static void b64_encode32(const uint8_t in[SHA256_BYTES], char out[B64_LEN + 1])
{
    size_t o = 0;
    for (size_t i = 0; i < SHA256_BYTES; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16;
        size_t left = SHA256_BYTES - i;
        if (left > 1)
            v |= (uint32_t)in[i + 1] << 8;
        if (left > 2)
            v |= in[i + 2];
        out[o++] = b64_alphabet[(v >> 18) & 63];
        out[o++] = b64_alphabet[(v >> 12) & 63];
        out[o++] = left > 1 ? b64_alphabet[(v >> 6) & 63] : '=';
        out[o++] = left > 2 ? b64_alphabet[v & 63] : '=';
    }
    out[o] = '\0';
}

static int b64_value(char c)
{
    const char *p = c ? strchr(b64_alphabet, c) : NULL;
    return p ? (int)(p - b64_alphabet) : -1;
}

/* Exactly 44 characters that decode to 32 bytes (canonical: the unused
 * low bits of the last character are zero), else -1. */
static int b64_decode32(const char *s, uint8_t out[SHA256_BYTES])
{
    if (strlen(s) != B64_LEN || s[43] != '=')
        return -1;
    size_t o = 0;
    for (size_t i = 0; i < B64_LEN; i += 4) {
        int v[4];
        for (size_t k = 0; k < 4; k++)
            v[k] = (i + k == 43) ? 0 : b64_value(s[i + k]);
        if (v[0] < 0 || v[1] < 0 || v[2] < 0 || v[3] < 0)
            return -1;
        uint32_t w =
            (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 | (uint32_t)v[3];
        out[o++] = (uint8_t)(w >> 16);
        out[o++] = (uint8_t)(w >> 8);
        if (o < SHA256_BYTES)
            out[o++] = (uint8_t)w;
        else if (w & 0xFF)
            return -1; /* non-canonical tail */
    }
    return o == SHA256_BYTES ? 0 : -1;
}

/* 64 hex digits, optionally with ':' or ' ' between byte pairs. */
static int hex_decode32(const char *s, uint8_t out[SHA256_BYTES])
{
    size_t o = 0;
    while (*s) {
        if (*s == ':' || *s == ' ') {
            s++;
            continue;
        }
        if (!isxdigit((unsigned char)s[0]) || !isxdigit((unsigned char)s[1]) || o == SHA256_BYTES)
            return -1;
        char pair[3] = {s[0], s[1], '\0'};
        out[o++] = (uint8_t)strtoul(pair, NULL, 16);
        s += 2;
    }
    return o == SHA256_BYTES ? 0 : -1;
}

int pvs_pin_normalize(const char *in, char *out, size_t out_size)
{
    if (!in || out_size < PVS_PIN_SIZE)
        return PVTAP_EINVAL;
    uint8_t h[SHA256_BYTES];
    const char *s = in;
    if (strncasecmp(s, "sha256//", 8) == 0)
        s += 8;
    if (b64_decode32(s, h) < 0 && hex_decode32(s, h) < 0)
        return PVTAP_EINVAL;
    char b64[B64_LEN + 1];
    b64_encode32(h, b64);
    snprintf(out, out_size, "sha256//%s", b64);
    return 0;
}

static int why_fail(char *why, size_t why_size, const char *text)
{
    snprintf(why, why_size, "%s", text);
    return PVTAP_EINVAL;
}

bool pvs_url_is_https(const char *url)
{
    return strncasecmp(url, "https://", 8) == 0;
}

int pvs_url_normalize(const char *in, char *out, size_t out_size, char *why, size_t why_size)
{
    size_t scheme_len;
    if (strncasecmp(in, "http://", 7) == 0)
        scheme_len = 7;
    else if (strncasecmp(in, "https://", 8) == 0)
        scheme_len = 8;
    else
        return why_fail(why, why_size, "must start with http:// or https://");
    for (const char *p = in; *p; p++)
        if ((unsigned char)*p <= ' ' || *p == 0x7f)
            return why_fail(why, why_size, "must not hold spaces or control characters");
    if (strstr(in, "/cgi-bin/") || strchr(in, '?') || strchr(in, '#'))
        return why_fail(why, why_size,
                        "give the supervisor's base URL (e.g. http://172.27.153.1), not a "
                        "path with a query: pvtap adds the API paths");
    const char *host = in + scheme_len;
    size_t auth_len = strcspn(host, "/");
    if (auth_len == 0)
        return why_fail(why, why_size, "has no host");
    if (memchr(host, '@', auth_len))
        return why_fail(why, why_size,
                        "must not hold user:password@ (use the username and password keys)");
    /* An optional :port after the host (or after an IPv6 [address]). */
    const char *end = host + auth_len;
    const char *colon = NULL;
    if (host[0] == '[') {
        const char *rb = memchr(host, ']', auth_len);
        if (!rb || rb == host + 1)
            return why_fail(why, why_size, "has a broken [IPv6] host");
        if (rb + 1 < end) {
            if (rb[1] != ':')
                return why_fail(why, why_size, "has text after the [IPv6] host");
            colon = rb + 1;
        }
    } else {
        colon = memchr(host, ':', auth_len);
        if (colon == host)
            return why_fail(why, why_size, "has no host");
    }
    if (colon) {
        if (colon + 1 == end || (size_t)(end - colon - 1) > 5)
            return why_fail(why, why_size, "has a bad port");
        long port = 0;
        for (const char *p = colon + 1; p < end; p++) {
            if (!isdigit((unsigned char)*p))
                return why_fail(why, why_size, "has a bad port");
            port = port * 10 + (*p - '0');
        }
        if (port < 1 || port > 65535)
            return why_fail(why, why_size, "has a port outside 1..65535");
    }
    size_t n = strlen(in);
    while (n > scheme_len + auth_len && in[n - 1] == '/')
        n--;
    if (n >= out_size) {
        snprintf(why, why_size, "is too long (at most %zu characters)", out_size - 1);
        return PVTAP_ELIMIT;
    }
    memcpy(out, in, n);
    out[n] = '\0';
    return 0;
}
