/* Check, by hand (tests/run-pvs-realdata.sh): real supervisor answers (a directory in PVTAP_REALDATA) parse right. */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cmocka.h>

#include "proto/pvs_json.h"

/* Real answers are not part of the project: a user who has some (their own
 * supervisor's, or ones published by owners) points PVTAP_REALDATA at them,
 * e.g. with tests/run-pvs-realdata.sh. Without it the test is skipped. */
static const char *dir;

enum { MAX_BODY = 4 << 20 };

static char *slurp(const char *name, size_t *len)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("cannot open %s", path);
    char *buf = malloc(MAX_BODY);
    assert_non_null(buf);
    *len = fread(buf, 1, MAX_BODY - 1, f);
    buf[*len] = '\0';
    fclose(f);
    return buf;
}

static bool starts(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

static bool ends(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* What every answer must give: devices, no value that is not a number, and
 * each meter the kind its role letter and subtype say. */
static void check_answer(const char *name, const struct pvs_answer *a)
{
    size_t devices = 0;
    for (size_t i = 0; i < a->n; i++) {
        const struct pvs_device *d = &a->dev[i];
        if (d->kind == PVS_DEV_SUPERVISOR)
            continue;
        devices++;
        size_t n = strlen(d->serial);
        char last = n ? d->serial[n - 1] : 0;
        bool gross = strcasecmp(d->subtype, PVS_SUBTYPE_GROSS_CONSUMPTION) == 0;
        enum pvs_dev_kind want = d->kind;
        if (last == 'c')
            want = gross ? PVS_DEV_CONSUMPTION_METER : PVS_DEV_NET_METER;
        else if (last == 'p')
            want = PVS_DEV_PRODUCTION_METER;
        if (d->kind != want)
            fail_msg("%s: meter %s (subtype \"%s\") is %s, wanted %s", name, d->serial, d->subtype,
                     pvs_dev_kind_name(d->kind), pvs_dev_kind_name(want));
        if (d->kind != PVS_DEV_INVERTER && !d->present[PF_ENERGY_NET_LIFETIME_KWH])
            fail_msg("%s: meter %s has no net counter", name, d->serial);
        if (d->kind == PVS_DEV_INVERTER && !d->present[PF_ENERGY_LIFETIME_KWH] &&
            strcmp(d->state, "error") != 0)
            fail_msg("%s: inverter %s has no lifetime counter", name, d->serial);
    }
    if (!devices)
        fail_msg("%s: no inverter or meter", name);
    if (a->bad_values)
        fail_msg("%s: %u values that are not numbers", name, a->bad_values);
    printf("# %s: %zu devices, %u entries not ours\n", name, devices, a->unknown_devices);
}

static void real_answers(void **state)
{
    (void)state;
    DIR *d = opendir(dir);
    if (!d)
        fail_msg("PVTAP_REALDATA=%s: not a directory", dir);
    size_t files = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        const char *name = e->d_name;
        bool list = starts(name, "devicelist") && ends(name, ".json");
        bool vars = (starts(name, "varserver") || starts(name, "vars")) && ends(name, ".json");
        if (!list && !vars)
            continue; /* uploads and notes: other tests' */
        size_t len;
        char *body = slurp(name, &len);
        struct pvs_answer a = {0};
        int rc = list ? pvs_parse_devicelist(body, len, &a) : pvs_parse_vars(body, len, &a);
        free(body);
        if (rc != 0)
            fail_msg("%s: rc %d", name, rc);
        check_answer(name, &a);
        pvs_answer_free(&a);
        files++;
    }
    closedir(d);
    if (!files)
        fail_msg("PVTAP_REALDATA=%s: no devicelist*.json, varserver*.json or vars*.json", dir);
}

int main(void)
{
    dir = getenv("PVTAP_REALDATA");
    if (!dir || !dir[0]) {
        printf("SKIP: PVTAP_REALDATA not set (tests/run-pvs-realdata.sh DIR sets it)\n");
        return 77;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(real_answers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
