/* key=value / flat-JSON values files for the simulator's virtual devices. */
#include "modbus_values.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int values_double(const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end != '\0' || errno != 0 || !isfinite(v))
        return -1;
    *out = v;
    return 0;
}

int values_u32(const char *s, unsigned long *out, unsigned long max)
{
    char *end;
    errno = 0;
    if (*s == '-')
        return -1;
    unsigned long v = strtoul(s, &end, 0);
    if (end == s || *end != '\0' || errno != 0 || v > max)
        return -1;
    *out = v;
    return 0;
}

/* Copies [b, e) trimmed into dst (cap bytes); -1 when too long. */
static int copy_trim(char *dst, size_t cap, const char *b, const char *e)
{
    while (b < e && isspace((unsigned char)*b))
        b++;
    while (e > b && isspace((unsigned char)e[-1]))
        e--;
    if ((size_t)(e - b) >= cap)
        return -1;
    memcpy(dst, b, (size_t)(e - b));
    dst[e - b] = '\0';
    return 0;
}

static int parse_kv(const char *text, size_t n, values_set_fn set, void *ctx, char *err, size_t errcap)
{
    const char *p = text, *end = text + n;
    for (unsigned line = 1; p < end; line++) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol)
            eol = end;
        const char *hash = memchr(p, '#', (size_t)(eol - p));
        const char *stop = hash ? hash : eol;
        const char *eq = memchr(p, '=', (size_t)(stop - p));
        char key[64], val[256];
        if (eq) {
            if (copy_trim(key, sizeof key, p, eq) != 0 || copy_trim(val, sizeof val, eq + 1, stop) != 0 ||
                key[0] == '\0') {
                snprintf(err, errcap, "line %u: malformed", line);
                return -1;
            }
            if (set(ctx, key, val) != 0) {
                snprintf(err, errcap, "line %u: %s: unknown key or bad value '%s'", line, key, val);
                return -1;
            }
        } else {
            if (copy_trim(key, sizeof key, p, stop) != 0 || key[0] != '\0') {
                snprintf(err, errcap, "line %u: expected key=value", line);
                return -1;
            }
        }
        p = eol + 1;
    }
    return 0;
}

/* A flat JSON object: { "key": number | "string" | true | false, ... }. */
static int parse_json(const char *text, size_t n, values_set_fn set, void *ctx, char *err, size_t errcap)
{
    const char *p = text, *end = text + n;
#define SKIPWS()                                                                                   \
    while (p < end && isspace((unsigned char)*p))                                                  \
    p++
    SKIPWS();
    if (p == end || *p != '{')
        goto bad;
    p++;
    SKIPWS();
    if (p < end && *p == '}')
        return 0;
    for (;;) {
        char key[64], val[256];
        size_t k = 0, v = 0;
        SKIPWS();
        if (p == end || *p != '"')
            goto bad;
        for (p++; p < end && *p != '"'; p++) {
            if (k + 1 >= sizeof key)
                goto bad;
            key[k++] = *p;
        }
        if (p == end)
            goto bad;
        key[k] = '\0';
        p++;
        SKIPWS();
        if (p == end || *p != ':')
            goto bad;
        p++;
        SKIPWS();
        if (p < end && *p == '"') {
            for (p++; p < end && *p != '"'; p++) {
                if (*p == '\\' && p + 1 < end)
                    p++;
                if (v + 1 >= sizeof val)
                    goto bad;
                val[v++] = *p;
            }
            if (p == end)
                goto bad;
            p++;
        } else {
            while (p < end && *p != ',' && *p != '}' && !isspace((unsigned char)*p)) {
                if (v + 1 >= sizeof val)
                    goto bad;
                val[v++] = *p++;
            }
            if (v == 0)
                goto bad;
        }
        val[v] = '\0';
        if (strcmp(val, "true") == 0) {
            val[0] = '1';
            val[1] = '\0';
        } else if (strcmp(val, "false") == 0) {
            val[0] = '0';
            val[1] = '\0';
        }
        if (set(ctx, key, val) != 0) {
            snprintf(err, errcap, "%s: unknown key or bad value '%s'", key, val);
            return -1;
        }
        SKIPWS();
        if (p < end && *p == ',') {
            p++;
            continue;
        }
        if (p < end && *p == '}')
            return 0;
        goto bad;
    }
#undef SKIPWS
bad:
    snprintf(err, errcap, "JSON: malformed near byte %zu (a flat object of numbers and strings)",
             (size_t)(p - text));
    return -1;
}

int values_parse(const char *text, size_t n, values_set_fn set, void *ctx, char *err, size_t errcap)
{
    size_t i = 0;
    while (i < n && isspace((unsigned char)text[i]))
        i++;
    if (i < n && text[i] == '{')
        return parse_json(text, n, set, ctx, err, errcap);
    return parse_kv(text, n, set, ctx, err, errcap);
}

int values_load_file(const char *path, values_set_fn set, void *ctx, char *err, size_t errcap)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errcap, "%s: %s", path, strerror(errno));
        return -1;
    }
    enum { MAX = 65536 };
    char *buf = malloc(MAX);
    if (!buf) {
        fclose(f);
        snprintf(err, errcap, "out of memory");
        return -1;
    }
    size_t n = fread(buf, 1, MAX, f);
    int rerr = ferror(f);
    fclose(f);
    if (rerr || n == MAX) {
        free(buf);
        snprintf(err, errcap, "%s: %s", path, rerr ? "read error" : "larger than 64 KiB");
        return -1;
    }
    char msg[200];
    int rc = values_parse(buf, n, set, ctx, msg, sizeof msg);
    free(buf);
    if (rc != 0)
        snprintf(err, errcap, "%s: %s", path, msg);
    return rc;
}
