/* The active alert set: raised and cleared with one log line each, serialised for sinks. */
#include "daemon/alerts.h"

#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "util/log.h"
#include "util/timeutil.h"

static const char *const MOD = "alert";

static struct alert *find(struct alert_set *s, const char *id)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->a[i].id, id) == 0)
            return &s->a[i];
    return NULL;
}

bool alerts_active(const struct alert_set *s, const char *id)
{
    return find((struct alert_set *)s, id) != NULL;
}

void alerts_update(struct alert_set *s, const char *id, bool on, int64_t now_s, const char *fmt,
                   ...)
{
    struct alert *a = find(s, id);
    if (!on) {
        if (!a)
            return;
        log_msg(LOGL_NOTICE, MOD, "cleared: %s", a->text);
        *a = s->a[--s->n];
        s->version++;
        return;
    }
    char text[sizeof a->text];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    if (a) {
        if (strcmp(a->text, text) != 0) {
            snprintf(a->text, sizeof a->text, "%s", text);
            s->version++;
        }
        return;
    }
    if (s->n == ALERTS_MAX) {
        log_msg(LOGL_ERR, MOD, "too many alerts; not tracked: %s", text);
        return;
    }
    a = &s->a[s->n++];
    snprintf(a->id, sizeof a->id, "%s", id);
    snprintf(a->text, sizeof a->text, "%s", text);
    a->since_s = now_s;
    s->version++;
    log_msg(LOGL_WARNING, MOD, "%s", text);
}

char *alerts_json(const struct alert_set *s)
{
    cJSON *arr = cJSON_CreateArray();
    if (!arr)
        return NULL;
    for (size_t i = 0; i < s->n; i++) {
        cJSON *o = cJSON_CreateObject();
        char iso[32];
        time_format_iso_utc(s->a[i].since_s, iso, sizeof iso);
        cJSON_AddStringToObject(o, "id", s->a[i].id);
        cJSON_AddStringToObject(o, "text", s->a[i].text);
        cJSON_AddStringToObject(o, "since", iso);
        cJSON_AddItemToArray(arr, o);
    }
    char *out = cJSON_PrintUnformatted(arr);
    cJSON_Delete(arr);
    return out;
}
