/* libFuzzer target: the supervisor body decoder and its JSON/TSV formatters. */
#include <stddef.h>
#include <stdint.h>

#include "proto/supervisor.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct ctx {
    struct pvs_layout layout;
    struct pvs_out out;
    double sink;
};

static void on_record(void *c, const struct pvs_record *rec)
{
    struct ctx *x = c;
    pvs_out_reset(&x->out);
    pvs_record_json(rec, &x->layout, &x->out);
    pvs_record_tsv(rec, &x->out);
    double v;
    for (int k = 0; k < PVS_KEY_COUNT_; k++)
        if (pvs_field_number(rec, &x->layout, (enum pvs_key)k, &v) == 0)
            x->sink += v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ctx x = {0};
    pvs_layout_default(&x.layout);
    /* The first byte, when present, moves one field: overrides are fuzzed too. */
    if (size > 0) {
        pvs_layout_set(&x.layout, 130, "power_kW", data[0] % 70);
        pvs_layout_set(&x.layout, 140, "time", data[0] % 3);
    }
    struct pvs_counts c = {0};
    pvs_decode_body((const char *)data, size, &x.layout, on_record, &x, &c);
    pvs_out_free(&x.out);
    return 0;
}
