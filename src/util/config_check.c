/* Typed, strict validation helpers over libconfig settings: every problem is FILE:LINE: key. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "util/config.h"
#include "util/err.h"

static const char *const secret_keys[] = {"api_key", "password", NULL};

bool cfg_key_is_secret(const char *key)
{
    if (!key)
        return false;
    for (size_t i = 0; secret_keys[i]; i++)
        if (strcmp(key, secret_keys[i]) == 0)
            return true;
    return false;
}

/* pvtap_config_load() parses one expanded text and hangs its line map on
 * the root setting; a tree read otherwise (tests) has libconfig's own. */
static const struct cfg_source_map *map_of(const config_setting_t *s)
{
    const config_setting_t *root = s && s->config ? config_root_setting(s->config) : NULL;
    return root ? config_setting_get_hook(root) : NULL;
}

const char *cfg_file(const config_setting_t *s)
{
    const char *f = NULL;
    int line;
    if (s && cfg_text_origin(map_of(s), config_setting_source_line(s), &f, &line))
        return f;
    f = s ? config_setting_source_file(s) : NULL;
    return f ? f : "(config)";
}

int cfg_line(const config_setting_t *s)
{
    const char *f;
    int line;
    if (!s)
        return 0;
    if (cfg_text_origin(map_of(s), config_setting_source_line(s), &f, &line))
        return line;
    return (int)config_setting_source_line(s);
}

/* Walk up to the root, then print names (or [index] for list members). */
void cfg_path(const config_setting_t *s, char *out, size_t out_size)
{
    const config_setting_t *chain[32];
    size_t depth = 0;
    for (const config_setting_t *p = s; p && !config_setting_is_root(p) && depth < 32;
         p = config_setting_parent(p))
        chain[depth++] = p;
    size_t n = 0;
    out[0] = '\0';
    while (depth > 0 && n < out_size) {
        const config_setting_t *p = chain[--depth];
        const char *name = config_setting_name(p);
        int w;
        if (name)
            w = snprintf(out + n, out_size - n, "%s%s", n ? "." : "", name);
        else
            w = snprintf(out + n, out_size - n, "%s[%d]", n ? "." : "", config_setting_index(p));
        if (w < 0)
            break;
        n += (size_t)w;
    }
}

void cfg_error(const config_setting_t *where, const char *key, const char *fmt, ...)
{
    char path[256];
    cfg_path(where, path, sizeof path);
    char full[320];
    if (key && path[0])
        snprintf(full, sizeof full, "%s.%s", path, key);
    else
        snprintf(full, sizeof full, "%s", key ? key : path);
    fprintf(stderr, "%s:%d: %s: ", cfg_file(where), cfg_line(where), full[0] ? full : "(top)");
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

int cfg_check_keys(const config_setting_t *group, const char *const allowed[])
{
    int rc = 0;
    int n = config_setting_length(group);
    for (int i = 0; i < n; i++) {
        config_setting_t *m = config_setting_get_elem(group, (unsigned)i);
        const char *name = config_setting_name(m);
        bool ok = false;
        for (size_t k = 0; name && allowed[k]; k++)
            if (strcmp(allowed[k], name) == 0)
                ok = true;
        if (!ok) {
            cfg_error(m, NULL, "unknown key");
            rc = PVTAP_ECONFIG;
        }
    }
    return rc;
}

static const char *type_name(int type)
{
    switch (type) {
    case CONFIG_TYPE_GROUP:
        return "a group";
    case CONFIG_TYPE_INT:
    case CONFIG_TYPE_INT64:
        return "an integer";
    case CONFIG_TYPE_FLOAT:
        return "a number";
    case CONFIG_TYPE_STRING:
        return "a string";
    case CONFIG_TYPE_BOOL:
        return "true or false";
    case CONFIG_TYPE_ARRAY:
        return "an array";
    case CONFIG_TYPE_LIST:
        return "a list";
    }
    return "something else";
}

/* The member, or NULL (reporting a missing required key at the group). */
static config_setting_t *member(const config_setting_t *group, const char *key, bool required,
                                int *rc)
{
    config_setting_t *m = config_setting_get_member(group, key);
    if (!m && required) {
        cfg_error(group, key, "missing (required)");
        *rc = PVTAP_ECONFIG;
    }
    return m;
}

int cfg_string(const config_setting_t *group, const char *key, bool required, char *out,
               size_t out_size)
{
    int rc = 0;
    config_setting_t *m = member(group, key, required, &rc);
    if (!m)
        return rc;
    if (config_setting_type(m) != CONFIG_TYPE_STRING) {
        cfg_error(m, NULL, "must be a string, not %s", type_name(config_setting_type(m)));
        return PVTAP_ECONFIG;
    }
    const char *v = config_setting_get_string(m);
    size_t len = strlen(v);
    if (len == 0 && required) {
        cfg_error(m, NULL, "must not be empty");
        return PVTAP_ECONFIG;
    }
    if (len >= out_size) {
        cfg_error(m, NULL, "too long (at most %zu characters)", out_size - 1);
        return PVTAP_ECONFIG;
    }
    memcpy(out, v, len + 1);
    return 0;
}

/* Always the 64-bit read: pvtap_config_load() gives every integer literal
 * libconfig's L suffix, so the value is the one written, never one wrapped
 * modulo 2^32 (a 32-bit read would wrap it again). */
int cfg_int_value(const config_setting_t *m, long long min, long long max, long long *out)
{
    int t = config_setting_type(m);
    if (t != CONFIG_TYPE_INT && t != CONFIG_TYPE_INT64) {
        cfg_error(m, NULL, "must be an integer, not %s", type_name(t));
        return PVTAP_ECONFIG;
    }
    long long v = config_setting_get_int64(m);
    if (v < min || v > max) {
        if (cfg_key_is_secret(config_setting_name(m)))
            cfg_error(m, NULL, "out of range %lld..%lld", min, max);
        else
            cfg_error(m, NULL, "%lld is out of range %lld..%lld", v, min, max);
        return PVTAP_ECONFIG;
    }
    *out = v;
    return 0;
}

int cfg_int(const config_setting_t *group, const char *key, bool required, long long min,
            long long max, long long *out)
{
    int rc = 0;
    config_setting_t *m = member(group, key, required, &rc);
    return m ? cfg_int_value(m, min, max, out) : rc;
}

int cfg_double(const config_setting_t *group, const char *key, bool required, double min,
               double max, double *out)
{
    int rc = 0;
    config_setting_t *m = member(group, key, required, &rc);
    if (!m)
        return rc;
    int t = config_setting_type(m);
    double v;
    if (t == CONFIG_TYPE_FLOAT)
        v = config_setting_get_float(m);
    else if (t == CONFIG_TYPE_INT || t == CONFIG_TYPE_INT64)
        v = (double)config_setting_get_int64(m);
    else {
        cfg_error(m, NULL, "must be a number, not %s", type_name(t));
        return PVTAP_ECONFIG;
    }
    if (!(v >= min && v <= max)) {
        cfg_error(m, NULL, "%g is out of range %g..%g", v, min, max);
        return PVTAP_ECONFIG;
    }
    *out = v;
    return 0;
}

int cfg_bool(const config_setting_t *group, const char *key, bool required, bool *out)
{
    int rc = 0;
    config_setting_t *m = member(group, key, required, &rc);
    if (!m)
        return rc;
    if (config_setting_type(m) != CONFIG_TYPE_BOOL) {
        cfg_error(m, NULL, "must be true or false, not %s", type_name(config_setting_type(m)));
        return PVTAP_ECONFIG;
    }
    *out = config_setting_get_bool(m) != 0;
    return 0;
}

const char *const site_consumption_meter_names[] = {"auto", "net", "gross", "none", NULL};
const char *const site_production_names[] = {"auto", "meter", "inverters", NULL};

int cfg_choice(const config_setting_t *group, const char *key, bool required,
               const char *const choices[], int *out)
{
    char v[64];
    v[0] = '\0';
    int rc = cfg_string(group, key, required, v, sizeof v);
    if (rc < 0 || !config_setting_get_member(group, key))
        return rc;
    for (int i = 0; choices[i]; i++)
        if (strcmp(choices[i], v) == 0) {
            *out = i;
            return 0;
        }
    char list[256];
    size_t n = 0;
    list[0] = '\0';
    for (int i = 0; choices[i] && n < sizeof list; i++) {
        int w = snprintf(list + n, sizeof list - n, "%s\"%s\"", i ? ", " : "", choices[i]);
        if (w < 0)
            break;
        n += (size_t)w;
    }
    cfg_error(config_setting_get_member(group, key), NULL, "\"%s\" is not one of %s", v, list);
    return PVTAP_ECONFIG;
}

int cfg_port(const struct pvtap_env *env, const config_setting_t *group, const char *key,
             bool required, char *out, size_t out_size)
{
    char v[256];
    v[0] = '\0';
    int rc = cfg_string(group, key, required, v, sizeof v);
    if (rc < 0 || !v[0])
        return rc;
    if (v[0] != '@') {
        if (strlen(v) >= out_size)
            return PVTAP_ECONFIG;
        memcpy(out, v, strlen(v) + 1);
        return 0;
    }
    const config_setting_t *m = config_setting_get_member(group, key);
    if (!env || env->board.n_ports == 0) {
        cfg_error(m, NULL, "\"%s\" names a board port, but no board file defines rs485 ports", v);
        return PVTAP_ECONFIG;
    }
    for (size_t i = 0; i < env->board.n_ports; i++)
        if (strcmp(env->board.ports[i].role, v + 1) == 0) {
            size_t len = strlen(env->board.ports[i].device);
            if (len >= out_size)
                return PVTAP_ECONFIG;
            memcpy(out, env->board.ports[i].device, len + 1);
            return 0;
        }
    cfg_error(m, NULL, "board \"%s\" has no rs485 port \"%s\"", env->board.name, v + 1);
    return PVTAP_ECONFIG;
}
