/* Builds and prints the record objects of `pvtap poll` and `pvtap listen`. */
#include "cli/record_json.h"

#include <stdio.h>

#include "util/timeutil.h"

cJSON *record_json_new(const char *device, int address, int64_t t)
{
    cJSON *obj = cJSON_CreateObject();
    if (!obj)
        return NULL;
    char when[32];
    time_format_iso_utc(t, when, sizeof when);
    if (!cJSON_AddStringToObject(obj, "device", device) ||
        !cJSON_AddNumberToObject(obj, "address", address) ||
        !cJSON_AddStringToObject(obj, "time", when)) {
        cJSON_Delete(obj);
        return NULL;
    }
    return obj;
}

bool record_json_number(cJSON *obj, const char *key, bool present, double v)
{
    if (!present)
        return true;
    return cJSON_AddNumberToObject(obj, key, v) != NULL;
}

cJSON *record_json_wattnode(int address, int64_t t, const char *serial, const struct wn_values *v)
{
    cJSON *obj = record_json_new("wattnode", address, t);
    if (!obj)
        return NULL;
    bool ok = true;
    if (serial && serial[0])
        ok = cJSON_AddStringToObject(obj, "serial", serial) != NULL;
    static const struct {
        const char *key;
        enum wn_field field;
    } totals[] = {
        {"power_W", WN_POWER_SUM},
        {"energy_net_lifetime_kWh", WN_ENERGY_SUM_NR},
        {"energy_import_lifetime_kWh", WN_ENERGY_POS_SUM_NR},
        {"energy_export_lifetime_kWh", WN_ENERGY_NEG_SUM_NR},
        {"voltage_V", WN_VOLT_AVG_LN},
        {"frequency_Hz", WN_FREQ},
    };
    for (size_t i = 0; i < sizeof totals / sizeof totals[0] && ok; i++)
        ok = record_json_number(obj, totals[i].key, v->present[totals[i].field],
                                v->value[totals[i].field]);
    static const struct {
        char name;
        enum wn_field power, volt;
    } phases[] = {
        {'A', WN_POWER_A, WN_VOLT_A}, {'B', WN_POWER_B, WN_VOLT_B}, {'C', WN_POWER_C, WN_VOLT_C}};
    for (size_t i = 0; i < 3 && ok; i++) {
        if (!v->present[phases[i].volt] || v->value[phases[i].volt] == 0)
            continue;
        char key[24];
        snprintf(key, sizeof key, "power_%c_W", phases[i].name);
        ok = record_json_number(obj, key, v->present[phases[i].power], v->value[phases[i].power]);
        snprintf(key, sizeof key, "voltage_%c_V", phases[i].name);
        ok = ok && record_json_number(obj, key, true, v->value[phases[i].volt]);
    }
    if (!ok) {
        cJSON_Delete(obj);
        return NULL;
    }
    return obj;
}

void record_json_print(const cJSON *obj, bool table)
{
    if (!table) {
        char *text = cJSON_PrintUnformatted(obj);
        if (text) {
            puts(text);
            cJSON_free(text);
        }
    } else {
        for (const cJSON *it = obj->child; it; it = it->next) {
            if (cJSON_IsString(it)) {
                printf("%-28s %s\n", it->string, it->valuestring);
            } else if (cJSON_IsNumber(it)) {
                char *text = cJSON_PrintUnformatted(it);
                printf("%-28s %s\n", it->string, text ? text : "?");
                cJSON_free(text);
            }
        }
        putchar('\n'); /* a blank line between devices */
    }
    fflush(stdout);
}
