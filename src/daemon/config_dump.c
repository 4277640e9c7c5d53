/* Prints the effective configuration in libconfig syntax, with every secret redacted. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "sinks/sink.h"
#include "sources/source.h"
#include "util/config.h"
#include "util/log.h"
#include "util/url_redact.h"

static void put_string(FILE *out, const char *s)
{
    fputc('"', out);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            fprintf(out, "\\%c", *s);
        else if ((unsigned char)*s < 0x20)
            fprintf(out, "\\x%02x", (unsigned char)*s);
        else
            fputc(*s, out);
    }
    fputc('"', out);
}

static void put_value(FILE *out, const config_setting_t *s, int indent);

/* Keys whose string values are URLs or hosts: printed through url_redact()
 * (a "user:pw@" in them is a secret too). Not every string: "@meter" is not
 * a userinfo. */
static bool key_is_address(const char *key)
{
    return key && (strcmp(key, "url") == 0 || strcmp(key, "host") == 0);
}

static void put_members(FILE *out, const config_setting_t *s, int indent, const char *sep,
                        const char *const skip[])
{
    int n = config_setting_length(s);
    for (int i = 0; i < n; i++) {
        const config_setting_t *m = config_setting_get_elem(s, (unsigned)i);
        const char *name = config_setting_name(m);
        bool skipped = false;
        for (size_t k = 0; skip && name && skip[k]; k++)
            if (strcmp(skip[k], name) == 0)
                skipped = true;
        if (skipped)
            continue;
        fprintf(out, "%*s", indent, "");
        if (name) {
            fprintf(out, "%s = ", name);
            if (cfg_key_is_secret(name)) {
                fprintf(out, "\"<redacted>\"%s\n", sep);
                continue;
            }
            if (key_is_address(name) && config_setting_type(m) == CONFIG_TYPE_STRING) {
                char shown[URL_SHOWN_SIZE];
                url_redact(config_setting_get_string(m), shown, sizeof shown);
                put_string(out, shown);
                fprintf(out, "%s\n", sep);
                continue;
            }
        }
        put_value(out, m, indent);
        fprintf(out, "%s\n", name ? sep : (i + 1 < n ? "," : ""));
    }
}

static void put_value(FILE *out, const config_setting_t *s, int indent)
{
    switch (config_setting_type(s)) {
    case CONFIG_TYPE_INT:
    case CONFIG_TYPE_INT64:
        fprintf(out, "%lld", (long long)config_setting_get_int64(s));
        break;
    case CONFIG_TYPE_FLOAT: {
        double v = config_setting_get_float(s);
        fprintf(out, v == (long long)v ? "%.1f" : "%.17g", v);
        break;
    }
    case CONFIG_TYPE_BOOL:
        fputs(config_setting_get_bool(s) ? "true" : "false", out);
        break;
    case CONFIG_TYPE_STRING:
        put_string(out, config_setting_get_string(s));
        break;
    case CONFIG_TYPE_GROUP:
        fputs("{\n", out);
        put_members(out, s, indent + 2, ";", NULL);
        fprintf(out, "%*s}", indent, "");
        break;
    case CONFIG_TYPE_ARRAY:
    case CONFIG_TYPE_LIST: {
        bool list = config_setting_type(s) == CONFIG_TYPE_LIST;
        fputs(list ? "(\n" : "[ ", out);
        if (list)
            put_members(out, s, indent + 2, ";", NULL);
        else
            for (int i = 0; i < config_setting_length(s); i++) {
                put_value(out, config_setting_get_elem(s, (unsigned)i), indent);
                fputs(i + 1 < config_setting_length(s) ? ", " : " ", out);
            }
        if (list)
            fprintf(out, "%*s)", indent, "");
        else
            fputs("]", out);
        break;
    }
    default:
        fputs("\"?\"", out);
    }
}

void pvtap_config_dump(const struct pvtap_config *cfg, FILE *out)
{
    const struct site_config *site = &cfg->env.site;
    fprintf(out, "# effective configuration%s%s (secrets redacted)\n", cfg->path[0] ? " of " : "",
            cfg->path);
    fputs("site = { name = ", out);
    put_string(out, site->name);
    fputs("; timezone = ", out);
    put_string(out, site->timezone);
    fprintf(out, "; max_power_kW = %.17g;\n  consumption_meter = \"%s\"; production = \"%s\"; };\n",
            site->max_power_kW, site_consumption_meter_names[site->consumption_meter],
            site_production_names[site->production]);
    fputs("store = { path = ", out);
    put_string(out, cfg->store_path);
    fputs("; };\nrun = { user = ", out);
    put_string(out, cfg->run_user);
    fprintf(out, "; };\nlog = { level = \"%s\"; };\n",
            log_level_name((enum log_level)cfg->log_level));
    const struct board_config *b = &cfg->env.board;
    if (b->name[0]) {
        fputs("board = { name = ", out);
        put_string(out, b->name);
        if (b->mirror[0]) {
            fputs("; mirror = ", out);
            put_string(out, b->mirror);
        }
        fputs(";\n  rs485 = {", out);
        for (size_t i = 0; i < b->n_ports; i++) {
            fprintf(out, " %s = ", b->ports[i].role);
            put_string(out, b->ports[i].device);
            fputc(';', out);
        }
        fputs(" }; };\n", out);
    }
    const config_setting_t *list = config_lookup(&cfg->lc, "sources");
    fputs("sources = (", out);
    for (size_t i = 0; i < cfg->n_sources; i++) {
        const struct source *src = &cfg->sources[i];
        const config_setting_t *sec = list ? config_setting_get_elem(list, (unsigned)i) : NULL;
        fprintf(out, "%s\n  { type = \"%s\"; name = ", i ? "," : "",
                src->ops ? src->ops->name : "?");
        put_string(out, src->name);
        fputs("; series = ", out);
        put_string(out, src->series);
        fputs(";\n", out);
        if (src->port[0]) {
            fputs("    # device: ", out);
            fputs(src->port, out);
            fputc('\n', out);
        }
        static const char *const common[] = {SOURCE_COMMON_KEYS, NULL};
        if (sec)
            put_members(out, sec, 4, ";", common);
        fputs("  }", out);
    }
    fputs("\n);\n", out);
    for (size_t i = 0; i < cfg->n_sinks; i++) {
        const struct sink *s = &cfg->sinks[i];
        fprintf(out, "%s = {\n", s->ops->name);
        s->ops->dump(s, out);
        fputs("};\n", out);
    }
}
