/* libFuzzer target: supervisor local-API bodies (DeviceList, /vars) into devices and readings. */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/pvs_json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void on_reading(void *ctx, const struct reading *r)
{
    size_t *n = ctx;
    (*n)++;
    if (!isfinite(r->value) || !r->q || strnlen(r->device, sizeof r->device) == sizeof r->device)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* Byte 0: which API parses first (the other parses the same body
     * after, appending to the same answer, as a poller falling back does). */
    if (size < 1)
        return 0;
    enum pvs_api first = data[0] & 1 ? PVS_API_VARS : PVS_API_DEVICELIST;
    const char *body = (const char *)data + 1;
    size_t len = size - 1;
    (void)pvs_body_is_html(body, len);
    struct pvs_answer a = {0};
    size_t emitted = 0;
    struct reading_sink sink = {on_reading, &emitted};
    for (int pass = 0; pass < 2; pass++) {
        enum pvs_api api =
            pass == 0 ? first : (first == PVS_API_VARS ? PVS_API_DEVICELIST : PVS_API_VARS);
        size_t n0 = a.n;
        int rc = api == PVS_API_VARS ? pvs_parse_vars(body, len, &a)
                                     : pvs_parse_devicelist(body, len, &a);
        if (a.n > PVS_MAX_DEVICES || a.n < n0 || (rc < 0 && a.n != n0) || a.n > a.cap)
            abort();
        for (size_t i = n0; i < a.n; i++) {
            const struct pvs_device *d = &a.dev[i];
            if (!d->serial[0] || strnlen(d->serial, sizeof d->serial) == sizeof d->serial ||
                pvs_dev_kind_name(d->kind) == NULL)
                abort();
            for (int f = 0; f < PF_COUNT_; f++)
                if (d->present[f] && !isfinite(d->value[f]))
                    abort();
            unsigned dropped = 0;
            size_t before = emitted;
            size_t n = pvs_device_emit(d, api, "pvs-api", 1496852400 + (int64_t)i, &sink, &dropped);
            if (n != emitted - before || n + dropped > PF_COUNT_)
                abort();
        }
    }
    pvs_answer_free(&a);
    return 0;
}
