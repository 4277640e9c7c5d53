/* The site's metering topology in force: how the 'c' meter is read, and where that came from. */
#ifndef PVTAP_STORE_SITE_KIND_H
#define PVTAP_STORE_SITE_KIND_H

#include <stdbool.h>
#include <stdint.h>

#include "engine/engine.h"
#include "util/config.h"

struct store;

struct site_kind {
    enum engine_consumption consumption_meter; /* resolved: never "auto" */
    enum engine_production production;
    /* "config", "supervisor (pvs-api) on 2026-12-08" or "default" */
    char origin[64];
};

/* site.consumption_meter when set; under "auto" the kind the supervisor
 * reported (remembered in st, which may be NULL), else net ("default"). */
int site_kind_resolve(const struct site_config *site, struct store *st, struct site_kind *out);

/* Remember what a pvs-api source reported (gross: a DEVICE_CONSUMPTION_METER,
 * net: a DEVICE_NET_METER) and when. *changed says whether it differs from
 * what the store held. */
int site_kind_learn(struct store *st, enum engine_consumption kind, int64_t now_s, bool *changed);

/* The engine's interpretation for this site. */
void site_kind_engine_params(const struct site_kind *k, struct engine_params *p);

/* "net", "gross", "none" / "auto", "meter", "inverters". */
const char *site_kind_consumption_name(enum engine_consumption c);
const char *site_kind_production_name(enum engine_production p);

#endif
