/* Names of reading quantities and device kinds (the JSON keys the README documents). */
#include "sources/reading.h"

#include <string.h>

static const char *const quantity_names[Q_COUNT_] = {
    [Q_ENERGY_LIFETIME_KWH] = "energy_lifetime_kWh",
    [Q_ENERGY_NET_LIFETIME_KWH] = "energy_net_lifetime_kWh",
    [Q_ENERGY_IMPORT_LIFETIME_KWH] = "energy_import_lifetime_kWh",
    [Q_ENERGY_EXPORT_LIFETIME_KWH] = "energy_export_lifetime_kWh",
    [Q_POWER_W] = "power_W",
    [Q_VOLTAGE_V] = "voltage_V",
    [Q_CURRENT_A] = "current_A",
    [Q_FREQUENCY_HZ] = "frequency_Hz",
    [Q_DC_POWER_W] = "dc_power_W",
    [Q_DC_VOLTAGE_V] = "dc_voltage_V",
    [Q_DC_CURRENT_A] = "dc_current_A",
    [Q_TEMPERATURE_C] = "temperature_C",
    [Q_STATUS] = "status",
    [Q_REACTIVE_VAR] = "reactive_var",
    [Q_APPARENT_VA] = "apparent_VA",
    [Q_POWER_FACTOR] = "power_factor",
};

const char *quantity_name(enum quantity q)
{
    if ((int)q <= 0 || q >= Q_COUNT_ || !quantity_names[q])
        return "unknown";
    return quantity_names[q];
}

enum quantity quantity_from_name(const char *name)
{
    for (int q = 1; q < Q_COUNT_; q++)
        if (quantity_names[q] && strcmp(quantity_names[q], name) == 0)
            return (enum quantity)q;
    return 0;
}

int quantity_is_counter(enum quantity q)
{
    return q == Q_ENERGY_LIFETIME_KWH || q == Q_ENERGY_NET_LIFETIME_KWH ||
           q == Q_ENERGY_IMPORT_LIFETIME_KWH || q == Q_ENERGY_EXPORT_LIFETIME_KWH;
}

static const char *const kind_names[] = {
    [DEVICE_INVERTER] = "inverter",
    [DEVICE_NET_METER] = "net_meter",
    [DEVICE_PRODUCTION_METER] = "production_meter",
    [DEVICE_SUPERVISOR] = "supervisor",
    [DEVICE_CONSUMPTION_METER] = "consumption_meter",
};

const char *device_kind_name(enum device_kind k)
{
    if ((int)k <= 0 || (size_t)k >= sizeof kind_names / sizeof kind_names[0])
        return "unknown";
    return kind_names[k];
}

enum device_kind device_kind_from_name(const char *name)
{
    for (size_t k = 1; k < sizeof kind_names / sizeof kind_names[0]; k++)
        if (strcmp(kind_names[k], name) == 0)
            return (enum device_kind)k;
    return 0;
}
