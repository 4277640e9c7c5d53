/* The `sniff` source: supervisor uploads from the mirror port (or a capture file) as readings. */
#include <libconfig.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/sniff_pipe.h"
#include "sources/sniff_capture.h"
#include "sources/source.h"
#include "util/config.h"
#include "util/err.h"
#include "util/log.h"
#include "util/timeutil.h"

enum { BATCH_PACKETS = 4096 }; /* per step(): the loop stays responsive */

struct sniff_src {
    char iface[64];
    char file[1024];
    char filter[512];
    char supervisor[64];
    long long snaplen, buffer_MiB;
    struct sniff_pipe_config pcfg;
    struct sniff_capture cap;
    struct sniff_pipe *pipe;
    bool opened, finished;
    const struct reading_sink *sink; /* during step() */
    const char *series;
    bool unknown_meter, warned_meter;
    uint64_t drops_logged;
    char name[64];
};

static int read_paths(const config_setting_t *section, struct sniff_pipe_config *pc)
{
    const config_setting_t *list = config_setting_get_member(section, "paths");
    if (!list)
        return 0;
    if (!config_setting_is_aggregate(list) || config_setting_is_group(list)) {
        cfg_error(list, NULL, "must be a list of URL paths: [\"/Data/SMS2DataCollector.aspx\", ...]");
        return PVTAP_ECONFIG;
    }
    int n = config_setting_length(list);
    if (n < 1 || n > SNIFF_MAX_PATHS) {
        cfg_error(list, NULL, "must hold 1 to %d paths", SNIFF_MAX_PATHS);
        return PVTAP_ECONFIG;
    }
    for (int i = 0; i < n; i++) {
        const config_setting_t *e = config_setting_get_elem(list, (unsigned)i);
        const char *s = config_setting_get_string(e);
        if (!s || s[0] != '/' || strlen(s) >= SNIFF_PATH_MAX) {
            cfg_error(e, NULL, "must be a path starting with '/' (at most %d characters)",
                      SNIFF_PATH_MAX - 1);
            return PVTAP_ECONFIG;
        }
        snprintf(pc->paths[i], sizeof pc->paths[i], "%s", s);
    }
    pc->n_paths = (size_t)n;
    return 0;
}

/* fields_130 = { power_kW = 5; ... }; fields_140 = { ... }: move a field. */
static int read_fields(const config_setting_t *section, const char *key, int msg,
                       struct pvs_layout *layout)
{
    const config_setting_t *g = config_setting_get_member(section, key);
    if (!g)
        return 0;
    if (!config_setting_is_group(g)) {
        cfg_error(g, NULL, "must be a group: { power_kW = 5; ... } (field index after the "
                           "message number)");
        return PVTAP_ECONFIG;
    }
    int rc = 0;
    for (int i = 0; i < config_setting_length(g); i++) {
        const config_setting_t *f = config_setting_get_elem(g, (unsigned)i);
        const char *name = config_setting_name(f);
        long long index;
        if (cfg_int_value(f, 0, PVS_MAX_FIELDS - 1, &index) < 0) {
            rc = PVTAP_ECONFIG;
            continue;
        }
        int r = pvs_layout_set(layout, msg, name, (int)index);
        if (r == PVTAP_ENOTFOUND) {
            cfg_error(f, NULL, "message %d has no field named \"%s\"", msg, name);
            rc = PVTAP_ECONFIG;
        } else if (r) {
            cfg_error(f, NULL, "must be a field index 0..%d", PVS_MAX_FIELDS - 1);
            rc = PVTAP_ECONFIG;
        }
    }
    return rc;
}

static int sniff_create(struct source *src, const config_setting_t *section)
{
    static const char *const allowed[] = {"type",       "name",  "series",    "interface",
                                          "file",       "filter", "supervisor", "snaplen",
                                          "buffer_MiB", "paths", "fields_130", "fields_140",
                                          NULL};
    struct sniff_src *s = calloc(1, sizeof *s);
    if (!s) {
        cfg_error(section, NULL, "out of memory");
        return PVTAP_ENOMEM;
    }
    sniff_pipe_config_default(&s->pcfg);
    s->snaplen = 65535;
    s->buffer_MiB = 4;
    int rc = 0;
    rc |= cfg_check_keys(section, allowed);
    rc |= cfg_string(section, "interface", false, s->iface, sizeof s->iface);
    rc |= cfg_string(section, "file", false, s->file, sizeof s->file);
    rc |= cfg_string(section, "filter", false, s->filter, sizeof s->filter);
    rc |= cfg_string(section, "supervisor", false, s->supervisor, sizeof s->supervisor);
    rc |= cfg_int(section, "snaplen", false, 64, 262144, &s->snaplen);
    rc |= cfg_int(section, "buffer_MiB", false, 1, 1024, &s->buffer_MiB);
    rc |= read_paths(section, &s->pcfg);
    rc |= read_fields(section, "fields_130", 130, &s->pcfg.layout);
    rc |= read_fields(section, "fields_140", 140, &s->pcfg.layout);
    if (s->supervisor[0]) {
        if (nf_addr_parse(s->supervisor, &s->pcfg.supervisor) != PVTAP_OK) {
            cfg_error(config_setting_get_member(section, "supervisor"), NULL,
                      "\"%s\" is not an IPv4 or IPv6 address", s->supervisor);
            rc |= PVTAP_ECONFIG;
        }
        s->pcfg.have_supervisor = true;
    }
    if (s->iface[0] && s->file[0]) {
        cfg_error(config_setting_get_member(section, "file"), NULL,
                  "give either interface or file, not both");
        rc |= PVTAP_ECONFIG;
    } else if (!s->iface[0] && !s->file[0]) {
        /* The board file names the mirror port's interface. */
        if (src->env && src->env->board.mirror[0]) {
            snprintf(s->iface, sizeof s->iface, "%s", src->env->board.mirror);
        } else {
            cfg_error(section, "interface", "missing: the mirror-port interface (or file = ...)");
            rc |= PVTAP_ECONFIG;
        }
    }
    if (rc) {
        free(s);
        return PVTAP_ECONFIG;
    }
    snprintf(s->name, sizeof s->name, "%s", src->name);
    src->finite = s->file[0] != '\0'; /* a capture file ends; an interface does not */
    src->needs_net_raw = !src->finite;  /* only live capture needs a raw socket */
    src->priv = s;
    return 0;
}

static void on_record(void *ctx, const struct sniff_request *req, const struct pvs_record *rec)
{
    struct sniff_src *s = ctx;
    (void)req;
    if (!s->sink)
        return;
    sniff_record_readings(rec, &s->pcfg.layout, s->series, s->sink, &s->unknown_meter);
    if (s->unknown_meter && !s->warned_meter) {
        s->warned_meter = true;
        log_msg(LOGL_WARNING, "sniff",
                "%s: a 140 record's meter serial ends in neither 'c' nor 'p': skipped (logged "
                "once)",
                s->name);
    }
}

static void on_notice(void *ctx, enum sniff_notice n, const char *text)
{
    struct sniff_src *s = ctx;
    log_msg(n == SNIFF_N_PROBLEM ? LOGL_NOTICE : LOGL_WARNING, "sniff", "%s: %s", s->name, text);
}

static int sniff_open(struct source *src)
{
    struct sniff_src *s = src->priv;
    s->series = src->series;
    struct sniff_pipe_ops ops = {.on_record = on_record, .on_notice = on_notice};
    int rc = sniff_pipe_new(&s->pcfg, &ops, s, &s->pipe);
    if (rc)
        return rc;
    struct sniff_capture_opts o = {
        .iface = s->iface[0] ? s->iface : NULL,
        .file = s->file[0] ? s->file : NULL,
        .filter = s->filter[0] ? s->filter : NULL,
        .supervisor = s->supervisor[0] ? s->supervisor : NULL,
        .server_port = s->pcfg.server_port,
        .snaplen = (int)s->snaplen,
        .buffer_MiB = (int)s->buffer_MiB,
        .nonblock = true,
    };
    rc = sniff_capture_open(&s->cap, &o);
    if (rc) {
        log_msg(LOGL_ERR, "sniff", "%s: %s", s->name, s->cap.err);
        sniff_pipe_free(s->pipe);
        s->pipe = NULL;
        return rc;
    }
    s->opened = true;
    s->finished = false;
    log_msg(LOGL_INFO, "sniff", "%s: capturing from %s (%s)", s->name,
            s->iface[0] ? s->iface : s->file, nf_link_name(s->cap.link));
    return 0;
}

static int sniff_fd(struct source *src, int64_t *next_due_ms)
{
    struct sniff_src *s = src->priv;
    if (s->cap.offline) {
        *next_due_ms = time_mono_ms(); /* a file: as fast as the loop allows */
        return -1;
    }
    *next_due_ms = INT64_MAX;
    return sniff_capture_fd(&s->cap);
}

static int sniff_step(struct source *src, const struct reading_sink *sink)
{
    struct sniff_src *s = src->priv;
    if (!s->opened)
        return PVTAP_EIO;
    if (s->finished)
        return PVTAP_ENOTFOUND;
    s->sink = sink;
    long n = sniff_capture_run(&s->cap, s->pipe, BATCH_PACKETS);
    int rc = n > 0 ? 0 : PVTAP_EAGAIN;
    if (n == PVTAP_ENOTFOUND || n == PVTAP_ETRUNC) {
        if (n == PVTAP_ETRUNC)
            log_msg(LOGL_WARNING, "sniff", "%s: %s: %s (decoded what it holds)", s->name, s->file,
                    s->cap.err);
        sniff_pipe_finish(s->pipe);
        s->finished = true;
        rc = PVTAP_ENOTFOUND;
    } else if (n < 0) {
        log_msg(LOGL_ERR, "sniff", "%s: %s", s->name, s->cap.err);
        rc = PVTAP_EIO;
    }
    if (!s->cap.offline) {
        uint64_t kdrop, ifdrop;
        if (sniff_capture_drops(&s->cap, &kdrop, &ifdrop) == 0 && kdrop > s->drops_logged) {
            log_msg(LOGL_WARNING, "sniff",
                    "%s: the kernel dropped %llu packets so far (raise buffer_MiB or narrow "
                    "the filter)",
                    s->name, (unsigned long long)kdrop);
            s->drops_logged = kdrop * 2; /* then at each doubling */
        }
    }
    s->sink = NULL;
    return rc;
}

static void sniff_close(struct source *src)
{
    struct sniff_src *s = src->priv;
    if (!s || !s->opened)
        return;
    sniff_capture_close(&s->cap);
    sniff_pipe_free(s->pipe);
    s->pipe = NULL;
    s->opened = false;
}

static void sniff_destroy(struct source *src)
{
    sniff_close(src);
    free(src->priv);
    src->priv = NULL;
}

/* Counters for status and /metrics; the note says when the supervisor's
 * traffic is there but cannot be read (TLS, another port or format). */
static void sniff_health(struct source *src, struct source_health *out)
{
    struct sniff_src *s = src->priv;
    if (!s || !s->pipe)
        return;
    const struct sniff_stats *st = sniff_pipe_stats(s->pipe);
    uint64_t kernel = 0, iface = 0;
    if (s->opened)
        sniff_capture_drops(&s->cap, &kernel, &iface);
    out->capture = true;
    out->capture_packets = st->packets;
    out->kernel_drops = kernel;
    out->tcp_holes = st->holes;
    static const char *const why[] = {
        [SNIFF_N_OPAQUE_TLS] = "it is TLS (newer firmware?): use the pvs-api source",
        [SNIFF_N_OPAQUE_PORT] = "it is on another port than 80",
        [SNIFF_N_OPAQUE_NOT_HTTP] = "it is not HTTP",
        [SNIFF_N_OPAQUE_FORMAT] = "its bodies are not the known text format",
    };
    if (st->opaque && st->opaque_kind > 0 && st->opaque_kind <= SNIFF_N_OPAQUE_FORMAT)
        snprintf(out->note, sizeof out->note,
                 "supervisor traffic seen (%llu times) but not readable: %s",
                 (unsigned long long)st->opaque, why[st->opaque_kind]);
}

const struct source_ops sniff_source_ops = {
    .health = sniff_health,
    .name = "sniff",
    .default_series = "sniff",
    .create = sniff_create,
    .open = sniff_open,
    .fd = sniff_fd,
    .step = sniff_step,
    .close = sniff_close,
    .destroy = sniff_destroy,
};
