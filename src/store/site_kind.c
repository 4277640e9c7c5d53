/* Resolves site.consumption_meter / site.production into the engine's interpretation. */
#include "store/site_kind.h"

#include <stdio.h>
#include <string.h>

#include "store/store.h"
#include "util/timeutil.h"

/* meta keys: the kind a pvs-api source reported, and the UTC date it did */
static const char KEY_KIND[] = "consumption_meter";
static const char KEY_SINCE[] = "consumption_meter_since";

const char *site_kind_consumption_name(enum engine_consumption c)
{
    switch (c) {
    case ENGINE_CONSUMPTION_GROSS:
        return "gross";
    case ENGINE_CONSUMPTION_NONE:
        return "none";
    case ENGINE_CONSUMPTION_NET:
        break;
    }
    return "net";
}

const char *site_kind_production_name(enum engine_production p)
{
    switch (p) {
    case ENGINE_PRODUCTION_METER:
        return "meter";
    case ENGINE_PRODUCTION_INVERTERS:
        return "inverters";
    case ENGINE_PRODUCTION_AUTO:
        break;
    }
    return "auto";
}

int site_kind_resolve(const struct site_config *site, struct store *st, struct site_kind *out)
{
    memset(out, 0, sizeof *out);
    static const enum engine_production prod[] = {
        [SITE_PROD_AUTO] = ENGINE_PRODUCTION_AUTO,
        [SITE_PROD_METER] = ENGINE_PRODUCTION_METER,
        [SITE_PROD_INVERTERS] = ENGINE_PRODUCTION_INVERTERS,
    };
    out->production = prod[site->production];
    switch (site->consumption_meter) {
    case SITE_CM_NET:
        out->consumption_meter = ENGINE_CONSUMPTION_NET;
        break;
    case SITE_CM_GROSS:
        out->consumption_meter = ENGINE_CONSUMPTION_GROSS;
        break;
    case SITE_CM_NONE:
        out->consumption_meter = ENGINE_CONSUMPTION_NONE;
        break;
    case SITE_CM_AUTO: {
        snprintf(out->origin, sizeof out->origin, "default");
        if (!st)
            return 0;
        char kind[16], since[32];
        bool found = false, found_since = false;
        int rc = store_meta_get(st, KEY_KIND, kind, sizeof kind, &found);
        if (rc == 0)
            rc = store_meta_get(st, KEY_SINCE, since, sizeof since, &found_since);
        if (rc < 0)
            return rc;
        if (found && strcmp(kind, "gross") == 0)
            out->consumption_meter = ENGINE_CONSUMPTION_GROSS;
        if (found)
            snprintf(out->origin, sizeof out->origin, "supervisor (pvs-api) on %s",
                     found_since ? since : "?");
        return 0;
    }
    }
    snprintf(out->origin, sizeof out->origin, "config");
    return 0;
}

int site_kind_learn(struct store *st, enum engine_consumption kind, int64_t now_s, bool *changed)
{
    char have[16];
    bool found = false;
    *changed = false;
    int rc = store_meta_get(st, KEY_KIND, have, sizeof have, &found);
    const char *name = site_kind_consumption_name(kind);
    if (rc < 0 || (found && strcmp(have, name) == 0))
        return rc;
    char iso[32], day[16];
    time_format_iso_utc(now_s, iso, sizeof iso);
    snprintf(day, sizeof day, "%.10s", iso);
    rc = store_meta_set(st, KEY_KIND, name);
    if (rc == 0)
        rc = store_meta_set(st, KEY_SINCE, day);
    /* from net (or nothing) to net changes no number */
    *changed = rc == 0 && (found || kind != ENGINE_CONSUMPTION_NET);
    return rc;
}

void site_kind_engine_params(const struct site_kind *k, struct engine_params *p)
{
    p->consumption_meter = k->consumption_meter;
    p->production = k->production;
}
