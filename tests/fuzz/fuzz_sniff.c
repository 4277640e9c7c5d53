/* libFuzzer target: length-prefixed frames through netframe + reassembly + HTTP + body decoding. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "proto/sniff_pipe.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void on_record(void *ctx, const struct sniff_request *req, const struct pvs_record *rec)
{
    /* Format every record so the JSON/TSV writers are fuzzed too. */
    struct pvs_out *o = ctx;
    (void)req;
    pvs_out_reset(o);
    struct pvs_layout l;
    pvs_layout_default(&l);
    pvs_record_json(rec, &l, o);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* Input: byte 0 picks the link type; then frames as [len_hi len_lo
     * dt_ms] + len bytes. Small limits so the limit paths are reached. */
    if (size < 1)
        return 0;
    static const enum nf_link links[] = {NF_LINK_ETHERNET, NF_LINK_SLL, NF_LINK_SLL2,
                                         NF_LINK_RAW, NF_LINK_IPV6, NF_LINK_NULL};
    enum nf_link link = links[data[0] % 6];
    struct sniff_pipe_config cfg;
    sniff_pipe_config_default(&cfg);
    cfg.reasm.max_flows = 4;
    cfg.reasm.max_held_dir_bytes = 2048;
    cfg.reasm.max_held_bytes = 4096;
    cfg.reasm.idle_ms = 2000;
    cfg.http.max_header_bytes = 512;
    cfg.http.max_body_bytes = 8192;
    cfg.body_budget_bytes = 12000;
    if (data[0] & 0x80) {
        cfg.have_supervisor = true;
        nf_addr_parse("192.168.1.50", &cfg.supervisor);
    }
    struct pvs_out out = {0};
    struct sniff_pipe_ops ops = {.on_record = on_record};
    struct sniff_pipe *p;
    if (sniff_pipe_new(&cfg, &ops, &out, &p) != 0)
        return 0;
    size_t off = 1;
    int64_t ts = 1000;
    while (off + 3 <= size) {
        size_t len = (size_t)data[off] << 8 | data[off + 1];
        ts += data[off + 2] * 37;
        off += 3;
        if (len > size - off)
            len = size - off;
        /* wire length as captured, or longer (a snaplen cut) when odd */
        sniff_pipe_frame(p, link, ts, data + off, len, len + (len & 1) * 7);
        off += len;
    }
    sniff_pipe_finish(p);
    (void)sniff_pipe_stats(p);
    sniff_pipe_free(p);
    pvs_out_free(&out);
    return 0;
}
