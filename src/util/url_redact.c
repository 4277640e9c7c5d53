/* Hides the credentials a URL may carry (userinfo, secret query parameters) before it is printed.
 */
#include <ctype.h>
#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include "util/url_redact.h"

/* A query parameter whose name contains one of these (any case) is a
 * secret: key, apikey, x-pvoutput-apikey, access_token, passwd, sig, ... */
static const char *const secret_parts[] = {"key",  "token",   "pass", "secret", "sig",
                                           "auth", "session", "cred", NULL};

struct out_buf {
    char *p;
    size_t size, n;
};

static void put(struct out_buf *o, const char *s, size_t len)
{
    for (size_t i = 0; i < len && o->n + 1 < o->size; i++)
        o->p[o->n++] = s[i];
    o->p[o->n] = '\0';
}

static bool param_is_secret(const char *name, size_t len)
{
    for (size_t i = 0; secret_parts[i]; i++) {
        size_t n = strlen(secret_parts[i]);
        for (size_t at = 0; at + n <= len; at++)
            if (strncasecmp(secret_parts[i], name + at, n) == 0)
                return true;
    }
    return false;
}

/* Where the authority starts: after "scheme://", or at 0 without a scheme. */
static size_t authority_start(const char *url)
{
    const char *sep = strstr(url, "://");
    if (!sep || sep == url)
        return 0;
    for (const char *p = url; p < sep; p++)
        if (!isalnum((unsigned char)*p) && *p != '+' && *p != '-' && *p != '.')
            return 0;
    return (size_t)(sep - url) + 3;
}

void url_redact(const char *url, char *out, size_t out_size)
{
    if (out_size == 0)
        return;
    struct out_buf o = {out, out_size, 0};
    out[0] = '\0';
    if (!url)
        return;
    size_t start = authority_start(url);
    size_t query = strcspn(url, "?#");
    /* The last '@' before the query: a password holding an unescaped '/'
     * (or a '@' in the path) then hides more than the userinfo, never less. */
    size_t at = 0;
    bool has_at = false;
    for (size_t i = start; i < query; i++)
        if (url[i] == '@') {
            at = i;
            has_at = true;
        }
    put(&o, url, start);
    size_t i = start;
    if (has_at) {
        put(&o, "***@", 4);
        i = at + 1;
    }
    put(&o, url + i, query - i);
    if (url[query] != '?') {
        put(&o, url + query, strlen(url + query));
        return;
    }
    put(&o, "?", 1);
    const char *p = url + query + 1;
    while (*p && *p != '#') {
        size_t len = strcspn(p, "&;#");
        size_t name_len = strcspn(p, "=&;#");
        put(&o, p, name_len);
        if (name_len < len) { /* name=value */
            put(&o, "=", 1);
            if (param_is_secret(p, name_len))
                put(&o, "***", 3);
            else
                put(&o, p + name_len + 1, len - name_len - 1);
        }
        p += len;
        if (*p == '&' || *p == ';')
            put(&o, p++, 1);
    }
    put(&o, p, strlen(p));
}
