/* Compares libconfig settings by value, to tell what a reloaded configuration changed. */
#include "daemon/config_same.h"

#include <string.h>

static bool scalar_same(const config_setting_t *a, const config_setting_t *b)
{
    switch (config_setting_type(a)) {
    case CONFIG_TYPE_INT:
        return config_setting_get_int(a) == config_setting_get_int(b);
    case CONFIG_TYPE_INT64:
        return config_setting_get_int64(a) == config_setting_get_int64(b);
    case CONFIG_TYPE_FLOAT:
        return config_setting_get_float(a) == config_setting_get_float(b);
    case CONFIG_TYPE_BOOL:
        return config_setting_get_bool(a) == config_setting_get_bool(b);
    case CONFIG_TYPE_STRING: {
        const char *x = config_setting_get_string(a), *y = config_setting_get_string(b);
        return x && y ? strcmp(x, y) == 0 : x == y;
    }
    default:
        return false;
    }
}

bool config_setting_same(const config_setting_t *a, const config_setting_t *b)
{
    if (!a || !b)
        return a == b;
    int type = config_setting_type(a);
    if (type != config_setting_type(b))
        return false;
    if (type != CONFIG_TYPE_GROUP && type != CONFIG_TYPE_LIST && type != CONFIG_TYPE_ARRAY)
        return scalar_same(a, b);
    int n = config_setting_length(a);
    if (n != config_setting_length(b))
        return false;
    for (int i = 0; i < n; i++) {
        const config_setting_t *x = config_setting_get_elem(a, (unsigned)i);
        const config_setting_t *y = type == CONFIG_TYPE_GROUP
                                        ? config_setting_get_member(b, config_setting_name(x))
                                        : config_setting_get_elem(b, (unsigned)i);
        if (!config_setting_same(x, y))
            return false;
    }
    return true;
}

bool config_member_same(const config_t *a, const config_t *b, const char *key)
{
    const config_setting_t *x = config_setting_get_member(config_root_setting(a), key);
    const config_setting_t *y = config_setting_get_member(config_root_setting(b), key);
    return config_setting_same(x, y);
}
