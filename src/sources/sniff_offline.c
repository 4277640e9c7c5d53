/* sniff_offline_file(): a capture file's supervisor records as readings, for `pvtap replay`. */
#include "sources/sniff_offline.h"

#include <string.h>

#include "sources/sniff_capture.h"
#include "util/err.h"
#include "util/log.h"

struct offline_ctx {
    const char *series;
    const struct reading_sink *sink;
    const struct pvs_layout *layout;
    uint64_t readings;
    bool unknown_meter, warned_meter;
};

static void on_record(void *ctx, const struct sniff_request *req, const struct pvs_record *rec)
{
    struct offline_ctx *o = ctx;
    (void)req;
    o->readings += sniff_record_readings(rec, o->layout, o->series, o->sink, &o->unknown_meter);
    if (o->unknown_meter && !o->warned_meter) {
        o->warned_meter = true;
        log_msg(LOGL_WARNING, "sniff",
                "a 140 record's meter serial ends in neither 'c' nor 'p': skipped (logged once)");
    }
}

static void on_notice(void *ctx, enum sniff_notice n, const char *text)
{
    (void)ctx;
    log_msg(n == SNIFF_N_PROBLEM ? LOGL_INFO : LOGL_WARNING, "sniff", "%s", text);
}

int sniff_offline_file(const char *path, const char *series, const struct reading_sink *sink,
                       struct sniff_offline_counts *counts)
{
    struct sniff_pipe_config cfg;
    sniff_pipe_config_default(&cfg);
    struct offline_ctx o = {.series = series ? series : "sniff", .sink = sink};
    struct sniff_pipe_ops ops = {.on_record = on_record, .on_notice = on_notice};
    struct sniff_pipe *pipe;
    int rc = sniff_pipe_new(&cfg, &ops, &o, &pipe);
    if (rc) {
        log_msg(LOGL_ERR, "sniff", "%s: %s", path, pvtap_strerror(rc));
        return rc;
    }
    o.layout = &sniff_pipe_config(pipe)->layout;
    struct sniff_capture cap;
    struct sniff_capture_opts opts = {.file = path, .server_port = cfg.server_port};
    rc = sniff_capture_open(&cap, &opts);
    if (rc) {
        log_msg(LOGL_ERR, "sniff", "%s", cap.err);
        sniff_pipe_free(pipe);
        return rc == PVTAP_ECORRUPT || rc == PVTAP_EUNSUPPORTED ? PVTAP_ECORRUPT : PVTAP_EIO;
    }
    long r = sniff_capture_run(&cap, pipe, 0);
    int result = PVTAP_OK;
    if (r == PVTAP_ETRUNC) {
        log_msg(LOGL_WARNING, "sniff", "%s: %s: decoded what it holds", path, cap.err);
    } else if (r < 0 && r != PVTAP_ENOTFOUND) {
        log_msg(LOGL_ERR, "sniff", "%s: %s", path, cap.err);
        result = PVTAP_EIO;
    }
    sniff_pipe_finish(pipe);
    const struct sniff_stats *st = sniff_pipe_stats(pipe);
    if (counts) {
        memset(counts, 0, sizeof *counts);
        counts->packets = st->packets;
        counts->requests = st->requests;
        counts->records = st->records;
        counts->readings = o.readings;
        counts->problems = st->holes + st->http_problems + st->requests_lost + st->bad_lines +
                           st->limit_flows + st->limit_flow_bytes + st->limit_total_bytes +
                           st->limit_header + st->limit_body + st->limit_budget + st->corrupt +
                           st->truncated + (r == PVTAP_ETRUNC);
    }
    sniff_capture_close(&cap);
    sniff_pipe_free(pipe);
    return result;
}
