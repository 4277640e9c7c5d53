/* The `pvs-api` source: polls the supervisor's local API gently, over pinned TLS. */
#include "sources/pvs_api.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sources/source.h"
#include "util/err.h"
#include "util/log.h"
#include "util/timeutil.h"
#include "util/url_redact.h"

#define MODULE "pvs-api"

/* A site has one or two meters; a few more fit for odd set-ups. */
enum { MAX_METERS = 8 };
/* Back-off on failures: from interval_s, doubling, up to this (or
 * interval_s when that is longer): a supervisor that is rebooting or
 * overloaded should not be asked again and again. */
enum { BACKOFF_MAX_S = 1800 };
/* Below this, polling is for tests only: the supervisor is slow, answers
 * can take tens of seconds, and each DeviceList costs it flash writes. */
enum { INTERVAL_SENSIBLE_S = PVS_DEFAULT_INTERVAL_S };

struct known_meter {
    char serial[32];
    enum pvs_dev_kind kind;
    char subtype[48];
    struct complaint missing; /* "vanished from the list" while failing */
};

struct pvs_src {
    struct pvs_client_opts o;
    double interval_s;
    struct pvs_client *client;
    int64_t next_due_ms; /* monotonic; 0: not scheduled yet */
    int64_t backoff_ms;
    struct complaint complaint;
    struct known_meter meters[MAX_METERS];
    size_t n_meters;
    bool said_hello;   /* the first good poll is logged once */
    bool warned_clock; /* varserver counters off the 5-minute grid: logged once */
    uint64_t polls, failures;
};

static void note(int *rc, int r)
{
    if (r < 0)
        *rc = r;
}

static const config_setting_t *member_or(const config_setting_t *section, const char *key)
{
    const config_setting_t *m = config_setting_get_member(section, key);
    return m ? m : section;
}

static int pvs_create(struct source *src, const config_setting_t *section)
{
    static const char *const allowed[] = {
        SOURCE_COMMON_KEYS, "url",       "username",       "password", "interval_s",
        "tls_sha256",       "timeout_s", "max_poll_gap_s", NULL};
    struct pvs_src *p = calloc(1, sizeof *p);
    if (!p)
        return PVTAP_ENOMEM;
    int rc = 0;
    note(&rc, cfg_check_keys(section, allowed));

    char url[sizeof p->o.url] = "";
    int r = cfg_string(section, "url", true, url, sizeof url);
    note(&rc, r);
    if (r == 0) {
        char why[160];
        if (pvs_url_normalize(url, p->o.url, sizeof p->o.url, why, sizeof why) < 0) {
            char shown[URL_SHOWN_SIZE];
            url_redact(url, shown, sizeof shown);
            cfg_error(member_or(section, "url"), NULL, "\"%s\" %s", shown, why);
            note(&rc, PVTAP_ECONFIG);
        }
    }
    snprintf(p->o.username, sizeof p->o.username, "%s", PVS_DEFAULT_USERNAME);
    note(&rc, cfg_string(section, "username", false, p->o.username, sizeof p->o.username));
    note(&rc, cfg_string(section, "password", false, p->o.password, sizeof p->o.password));

    char pin[128] = "";
    r = cfg_string(section, "tls_sha256", false, pin, sizeof pin);
    note(&rc, r);
    if (r == 0 && pin[0] && pvs_pin_normalize(pin, p->o.tls_pin, sizeof p->o.tls_pin) < 0) {
        cfg_error(member_or(section, "tls_sha256"), NULL,
                  "\"%s\" is not a SHA-256 public-key pin (\"sha256//\" and 44 base64 "
                  "characters, or 64 hex digits)",
                  pin);
        note(&rc, PVTAP_ECONFIG);
    }
    bool https = p->o.url[0] && pvs_url_is_https(p->o.url);
    if (p->o.url[0] && !https && p->o.tls_pin[0]) {
        cfg_error(member_or(section, "tls_sha256"), NULL, "is for an https:// url");
        note(&rc, PVTAP_ECONFIG);
    }
    if (p->o.url[0] && !https && p->o.password[0]) {
        /* The login API is HTTPS; basic auth over plain HTTP would show the
         * password to anyone on the LAN. */
        cfg_error(member_or(section, "password"), NULL,
                  "needs an https:// url (the login API is HTTPS; without a password pvtap "
                  "reads the DeviceList over http://)");
        note(&rc, PVTAP_ECONFIG);
    }

    p->interval_s = PVS_DEFAULT_INTERVAL_S;
    note(&rc, cfg_double(section, "interval_s", false, 1, 86400, &p->interval_s));
    long long timeout_s = PVS_DEFAULT_TIMEOUT_S;
    note(&rc, cfg_int(section, "timeout_s", false, 1, 300, &timeout_s));
    p->o.timeout_s = (long)timeout_s;
    /* DeviceList values are poll samples: a boundary gets a value only
     * when polls within max_poll_gap_s lie on both sides of it, so the gap
     * must cover one interval between polls. */
    double gap_s = p->interval_s > 60 ? ceil(p->interval_s) : 60;
    if (gap_s > 3600)
        gap_s = 3600;
    note(&rc, cfg_double(section, "max_poll_gap_s", false, 1, 3600, &gap_s));
    if (rc < 0) {
        explicit_bzero(p->o.password, sizeof p->o.password);
        free(p);
        return PVTAP_ECONFIG;
    }
    if (p->interval_s < INTERVAL_SENSIBLE_S)
        log_msg(LOGL_WARNING, MODULE,
                "%s: interval_s = %g: polling the supervisor more often than every %d s is "
                "for tests; it is slow and its flash wears",
                src->name, p->interval_s, INTERVAL_SENSIBLE_S);
    /* The varserver's values are records on the grid: they need no poll
     * gap, so the engine's (the largest of all sources) stays as it was
     * unless the key asks otherwise. */
    if (!p->o.password[0] || config_setting_get_member(section, "max_poll_gap_s"))
        src->max_poll_gap_s = (int)gap_s;
    src->priv = p;
    return 0;
}

static int pvs_open(struct source *src)
{
    struct pvs_src *p = src->priv;
    if (!p->client) {
        int rc = pvs_client_new(&p->o, &p->client);
        if (rc < 0)
            return rc;
    }
    /* A re-open after a failure keeps the back-off: the schedule is ours. */
    if (!p->next_due_ms)
        p->next_due_ms = time_mono_ms();
    return 0;
}

static int pvs_fd(struct source *src, int64_t *next_due_ms)
{
    struct pvs_src *p = src->priv;
    *next_due_ms = p->next_due_ms;
    return -1;
}

static int64_t interval_ms(const struct pvs_src *p)
{
    return (int64_t)(p->interval_s * 1000.0);
}

static void failed(struct source *src, struct pvs_src *p, const struct pvs_error *err,
                   int64_t now_ms)
{
    p->failures++;
    int64_t cap_ms = (int64_t)BACKOFF_MAX_S * 1000;
    if (cap_ms < interval_ms(p))
        cap_ms = interval_ms(p);
    p->backoff_ms = p->backoff_ms ? p->backoff_ms * 2 : interval_ms(p);
    if (p->backoff_ms > cap_ms)
        p->backoff_ms = cap_ms;
    p->next_due_ms = now_ms + p->backoff_ms;
    /* A refusal a user must act on (pin, login) is an error; a slow or
     * absent supervisor is a warning. */
    complain(&p->complaint, time_now_s(), err->code == PVTAP_ECONFIG ? LOGL_ERR : LOGL_WARNING,
             MODULE, "%s: %s (next try in %lld s)", src->name,
             err->text[0] ? err->text : pvtap_strerror(err->code),
             (long long)(p->backoff_ms / 1000));
}

static bool is_meter(enum pvs_dev_kind k)
{
    return k == PVS_DEV_NET_METER || k == PVS_DEV_PRODUCTION_METER ||
           k == PVS_DEV_CONSUMPTION_METER;
}

static const char *meter_energy(enum pvs_dev_kind k)
{
    return k == PVS_DEV_NET_METER           ? "net"
           : k == PVS_DEV_CONSUMPTION_METER ? "consumption"
                                            : "production";
}

/* A meter whose power and counters all read 0: CTs never fitted (owners
 * report such 'c' meters, and 'p' meters on PVS5 sites). */
static bool reads_all_zero(const struct pvs_device *d)
{
    static const enum pvs_field f[] = {PF_POWER_W, PF_ENERGY_NET_LIFETIME_KWH,
                                       PF_ENERGY_IMPORT_LIFETIME_KWH,
                                       PF_ENERGY_EXPORT_LIFETIME_KWH};
    size_t present = 0;
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
        if (!d->present[f[i]])
            continue;
        if (d->value[f[i]] != 0)
            return false;
        present++;
    }
    return present > 0;
}

/* Meters that disappear from the list (until the supervisor is
 * power-cycled, owners report) stop the net, consumption or production
 * energy of the series: say so, rate-limited, until they are back. A new
 * meter is logged with its kind and subtype (what the CTs measure). */
static void track_meters(struct source *src, struct pvs_src *p, const struct pvs_answer *a,
                         int64_t now_s)
{
    for (size_t i = 0; i < a->n; i++) {
        const struct pvs_device *d = &a->dev[i];
        if (!is_meter(d->kind))
            continue;
        size_t k = 0;
        while (k < p->n_meters && strcmp(p->meters[k].serial, d->serial) != 0)
            k++;
        if (k == p->n_meters && p->n_meters < MAX_METERS) {
            struct known_meter *m = &p->meters[p->n_meters++];
            memset(m, 0, sizeof *m);
            snprintf(m->serial, sizeof m->serial, "%s", d->serial);
            m->kind = d->kind;
            snprintf(m->subtype, sizeof m->subtype, "%s", d->subtype);
            log_msg(LOGL_INFO, MODULE, "%s: meter %s (%s, subtype %s)", src->name, m->serial,
                    pvs_dev_kind_name(m->kind), m->subtype[0] ? m->subtype : "not given");
            if (reads_all_zero(d))
                log_msg(LOGL_WARNING, MODULE,
                        "%s: meter %s reads 0 on its power and every counter: its CTs may not "
                        "be installed",
                        src->name, m->serial);
        } else if (k < p->n_meters && p->meters[k].kind != d->kind) {
            /* re-commissioned (the subtype changed): its readings follow */
            struct known_meter *m = &p->meters[k];
            log_msg(LOGL_WARNING, MODULE, "%s: meter %s is now %s (subtype %s), was %s", src->name,
                    m->serial, pvs_dev_kind_name(d->kind), d->subtype[0] ? d->subtype : "not given",
                    pvs_dev_kind_name(m->kind));
            m->kind = d->kind;
            snprintf(m->subtype, sizeof m->subtype, "%s", d->subtype);
        }
    }
    for (size_t k = 0; k < p->n_meters; k++) {
        struct known_meter *m = &p->meters[k];
        bool present = false;
        for (size_t i = 0; i < a->n && !present; i++)
            present = strcmp(a->dev[i].serial, m->serial) == 0;
        if (present)
            complain_clear(&m->missing, MODULE, "%s: meter %s is back in the device list",
                           src->name, m->serial);
        else
            complain(&m->missing, now_s, LOGL_WARNING, MODULE,
                     "%s: meter %s (%s) is missing from the supervisor's device list: no %s "
                     "energy from it until it returns (meters can stay away until the "
                     "supervisor is power-cycled)",
                     src->name, m->serial, pvs_dev_kind_name(m->kind), meter_energy(m->kind));
    }
}

static int pvs_step(struct source *src, const struct reading_sink *sink)
{
    struct pvs_src *p = src->priv;
    int64_t now_ms = time_mono_ms();
    if (now_ms < p->next_due_ms)
        return PVTAP_EAGAIN;
    if (!p->client) {
        int rc = pvs_open(src);
        if (rc < 0)
            return rc;
    }
    struct pvs_answer a = {0};
    struct pvs_error err;
    enum pvs_api api = PVS_API_DEVICELIST;
    int64_t poll_time_s = time_now_s();
    int rc = pvs_client_poll(p->client, &a, &api, &err);
    now_ms = time_mono_ms();
    if (rc < 0) {
        pvs_answer_free(&a);
        failed(src, p, &err, now_ms);
        return rc;
    }
    p->polls++;
    p->backoff_ms = 0;
    complain_clear(&p->complaint, MODULE, "%s: the supervisor answers again", src->name);
    unsigned dropped = 0;
    size_t inverters = 0, meters = 0;
    for (size_t i = 0; i < a.n; i++) {
        pvs_device_emit(&a.dev[i], api, src->series, poll_time_s, sink, &dropped);
        inverters += a.dev[i].kind == PVS_DEV_INVERTER;
        meters += is_meter(a.dev[i].kind);
    }
    if (!p->said_hello) {
        p->said_hello = true;
        log_msg(LOGL_INFO, MODULE, "%s: %s answers (%s): %zu inverters, %zu meters", src->name,
                p->o.url, api == PVS_API_VARS ? "varserver" : "DeviceList", inverters, meters);
    }
    if (a.bad_values)
        log_msg(LOGL_DEBUG, MODULE, "%s: %u values that are not numbers left out", src->name,
                a.bad_values);
    if (dropped && !p->warned_clock) {
        p->warned_clock = true;
        log_msg(LOGL_WARNING, MODULE,
                "%s: some devices' msmtEps is missing or off the 5-minute grid: their energy "
                "counters are left out (logged once)",
                src->name);
    }
    track_meters(src, p, &a, poll_time_s);
    pvs_answer_free(&a);
    /* Keep the cadence; after a stall (a slow answer), restart it from now. */
    p->next_due_ms += interval_ms(p);
    if (p->next_due_ms <= now_ms)
        p->next_due_ms = now_ms + interval_ms(p);
    return 0;
}

static void pvs_close(struct source *src)
{
    struct pvs_src *p = src->priv;
    if (p && p->client) {
        pvs_client_free(p->client);
        p->client = NULL;
    }
}

static void pvs_destroy(struct source *src)
{
    struct pvs_src *p = src->priv;
    pvs_close(src);
    if (p)
        explicit_bzero(p->o.password, sizeof p->o.password);
    free(p);
    src->priv = NULL;
}

const struct source_ops pvs_api_source_ops = {
    .name = "pvs-api",
    .default_series = "pvs-api",
    /* HTTP requests block for up to timeout_s: the daemon runs the source
     * on a thread of its own (it has no serial port: src->port stays ""). */
    .blocking = true,
    .create = pvs_create,
    .open = pvs_open,
    .fd = pvs_fd,
    .step = pvs_step,
    .close = pvs_close,
    .destroy = pvs_destroy,
};
