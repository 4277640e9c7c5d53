/* Configuration: libconfig loading, strict typed validation with FILE:LINE errors. */
#ifndef PVTAP_UTIL_CONFIG_H
#define PVTAP_UTIL_CONFIG_H

#include <libconfig.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "util/config_text.h"

/* ---- validation helpers for create() functions --------------------------
 * Every helper reports problems itself, as
 *     FILE:LINE: KEY: what is wrong
 * on stderr (FILE as given on the command line, or the included file's path
 * when the setting is in it: the including file's folder, then the name the
 * @include gives; KEY the dotted path, e.g. sources.[1].baud), and
 * returns 0 when fine, PVTAP_ECONFIG otherwise. When the key is absent and not
 * required, *out is left as it was: put the default there first. A key named
 * in cfg_secret_keys is never printed back, whatever goes wrong with it. */

void cfg_error(const config_setting_t *where, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Fail for every member of group not in allowed (NULL-terminated). */
int cfg_check_keys(const config_setting_t *group, const char *const allowed[]);

int cfg_string(const config_setting_t *group, const char *key, bool required, char *out,
               size_t out_size);
int cfg_int(const config_setting_t *group, const char *key, bool required, long long min,
            long long max, long long *out);
/* The same for a setting in hand (a list member, a group's n-th): every
 * integer of the config is read through this one, as 64 bits. */
int cfg_int_value(const config_setting_t *m, long long min, long long max, long long *out);
/* Accepts an integer or a float. */
int cfg_double(const config_setting_t *group, const char *key, bool required, double min,
               double max, double *out);
int cfg_bool(const config_setting_t *group, const char *key, bool required, bool *out);
/* A string that must be one of choices (NULL-terminated); *out = its index. */
int cfg_choice(const config_setting_t *group, const char *key, bool required,
               const char *const choices[], int *out);

/* "sources.[1].baud": the dotted path of a setting, for messages. */
void cfg_path(const config_setting_t *s, char *out, size_t out_size);
const char *cfg_file(const config_setting_t *s); /* never NULL */
int cfg_line(const config_setting_t *s);         /* in cfg_file(s); 0 when unknown */

/* Keys whose values are secrets: never printed (api_key, password, ...). */
bool cfg_key_is_secret(const char *key);

/* ---- the whole configuration ------------------------------------------- */

/* site.consumption_meter: how a 'c' (net) meter's counter is read. */
enum site_consumption_meter {
    SITE_CM_AUTO = 0, /* what a pvs-api source learnt from the supervisor, else net */
    SITE_CM_NET,
    SITE_CM_GROSS,
    SITE_CM_NONE,
};
/* site.production: where the site's production comes from. */
enum site_production { SITE_PROD_AUTO = 0, SITE_PROD_METER, SITE_PROD_INVERTERS };

/* Names as in the configuration ("auto", "net", ...); NULL-terminated lists
 * in enum order. */
extern const char *const site_consumption_meter_names[];
extern const char *const site_production_names[];

struct site_config {
    char name[64];        /* site.name, default: the host name */
    char timezone[64];    /* site.timezone, default "UTC" */
    double max_power_kW;  /* site.max_power_kW, default 100 */
    enum site_consumption_meter consumption_meter; /* default auto */
    enum site_production production;               /* default auto */
};

enum { BOARD_MAX_PORTS = 8 };
struct board_config {
    char name[64];
    char mirror[32]; /* the mirror-port interface */
    size_t n_ports;  /* rs485 = { meter = "/dev/..."; ... } */
    struct {
        char role[32];
        char device[256];
    } ports[BOARD_MAX_PORTS];
};

/* What every source and sink may look at: borrowed from the config. */
struct pvtap_env {
    struct site_config site;
    struct board_config board;
};

/* A serial port name as a source gives it: "@meter" is the board's
 * rs485.meter. Errors (unknown role, no board) are reported at where. */
int cfg_port(const struct pvtap_env *env, const config_setting_t *group, const char *key,
             bool required, char *out, size_t out_size);

struct source;
struct sink;

struct pvtap_config {
    config_t lc;            /* the parsed tree; sections stay valid until free */
    struct cfg_text text;   /* FILE:LINE of its lines (text.text freed once parsed) */
    char path[1024];        /* as given */
    struct pvtap_env env;
    char store_path[1024];  /* store.path, default /var/lib/pvtap/pvtap.db */
    char run_user[64];      /* run.user, default "pvtap" */
    int log_level;          /* log.level, default info */
    size_t n_sources;
    struct source *sources; /* created (validated), not opened */
    size_t n_sinks;
    struct sink *sinks;     /* created, not started */
};

/* Each source costs memory, and its checks against the others time (a
 * 17000-source list took 1.5 s and 85 MB to validate); a site has a handful. */
enum { PVTAP_MAX_SOURCES = 64 };

#define PVTAP_DEFAULT_CONFIG "/etc/pvtap/pvtap.conf"
#define PVTAP_DEFAULT_DB "/var/lib/pvtap/pvtap.db"

/* Parse and validate path into the fresh struct cfg (every error printed,
 * FILE:LINE first); on success every source and sink has been created (not
 * opened, not started). Free of side effects: it reads the config files
 * (bounded, never blocking: see cfg_text_load), changes no directory, opens
 * no device, socket or store and touches no global state, so the daemon may
 * parse a new config while the old one runs and apply it only if it loads.
 * PVTAP_ECONFIG on any error, PVTAP_EIO when the file cannot be read. cfg
 * is zeroed first and must be freed with pvtap_config_free() whatever the
 * result. */
int pvtap_config_load(const char *path, struct pvtap_config *cfg);
/* Defaults only, no file: what a command runs with when there is no config. */
void pvtap_config_defaults(struct pvtap_config *cfg);
void pvtap_config_free(struct pvtap_config *cfg);

/* The effective configuration in libconfig syntax, secrets redacted. */
void pvtap_config_dump(const struct pvtap_config *cfg, FILE *out);

#endif
