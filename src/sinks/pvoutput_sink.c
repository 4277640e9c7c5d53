/* The pvoutput sink at run time: addbatchstatus (and, after a day, addoutput) requests with
 * libcurl's multi interface in the daemon loop. */
#include <curl/curl.h>
#include <math.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <time.h>
#include <unistd.h>

#include "sinks/pvo_plan.h"
#include "sinks/pvo_sink.h"
#include "sinks/pvo_status.h"
#include "sources/reading.h"
#include "store/store.h"
#include "util/err.h"
#include "util/log.h"
#include "util/timeutil.h"
#include "util/url_redact.h"

static const char *const MOD = "pvoutput";

enum {
    RESPONSE_MAX = 65536,
    BODY_MAX = 16384,
    VOLT_SLOTS = 2048,   /* about a week of intervals of live voltage */
    PAUSE_GUESS_S = 900, /* a 403 rate-limit reply without Reset: wait this long */
};

struct volt_slot {
    int64_t end_s;
    double sum_V;
    int n;
};

struct pvo_run {
    const struct pvoutput_config *cfg;
    struct sink_runtime rt;
    int64_t offset_s; /* test-only clock shift */
    struct pvo_plan plan;
    struct pvo_bisect bisect;
    char url[600];
    char url_output[600];
    char url_shown[URL_SHOWN_SIZE]; /* url and url_output as logs show them */
    char url_output_shown[URL_SHOWN_SIZE];
    CURLM *multi;
    CURL *easy;
    struct curl_slist *headers;
    bool in_flight;
    bool req_output;           /* the request in flight is an addoutput, not a batch */
    bool out_dirty;            /* the outbox moved: look for a day's totals to send */
    struct pvo_output_req out; /* the addoutput in flight */
    int64_t outputs_rejected;  /* days' totals PVOutput refused (400) */
    struct pvo_batch *batch;   /* the one in flight */
    char *body;
    char *resp;
    size_t resp_len;
    bool resp_truncated;
    struct pvo_ratelimit rl;
    /* when the next request may go (our wall clock, offset included) */
    int64_t pause_until_s; /* a rate-limit pause (kept in the store) */
    int64_t not_before_s;  /* spacing or back-off */
    int attempt;           /* failed attempts in a row (back-off) */
    bool backoff_maxed;    /* the delay reached retry_max_s */
    bool auth_failed;
    bool wake; /* a back-off, spacing or pause is running: step() when it ends */
    char last_error[200];
    struct complaint complaint;
    unsigned rng;
    struct pvo_plan_stats stats;
    struct pvo_sink_counts counts;
    struct volt_slot volt[VOLT_SLOTS];
};

static struct pvo_run *run_of(struct sink *sink)
{
    struct pvo_priv *p = sink->priv;
    return p ? p->run : NULL;
}

static int64_t now_s(const struct pvo_run *r)
{
    return r->rt.now_s() + r->offset_s;
}

static double voltage_of(void *ctx, int64_t end_s)
{
    const struct pvo_run *r = ctx;
    const struct volt_slot *v = &r->volt[(size_t)(end_s / INTERVAL_S) % VOLT_SLOTS];
    return v->end_s == end_s && v->n > 0 ? v->sum_V / v->n : NAN;
}

static double jitter01(struct pvo_run *r)
{
    r->rng = r->rng * 1103515245u + 12345u;
    return (double)((r->rng >> 8) & 0xffff) / 65536.0;
}

/* ---- curl callbacks ------------------------------------------------------ */

static size_t on_body(char *data, size_t size, size_t nmemb, void *ctx)
{
    struct pvo_run *r = ctx;
    size_t n = size * nmemb;
    size_t room = RESPONSE_MAX - 1 - r->resp_len;
    size_t take = n < room ? n : room;
    if (take < n)
        r->resp_truncated = true;
    memcpy(r->resp + r->resp_len, data, take);
    r->resp_len += take;
    r->resp[r->resp_len] = '\0';
    return n;
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *ctx)
{
    struct pvo_run *r = ctx;
    size_t n = size * nmemb;
    pvo_ratelimit_header(data, n, &r->rl);
    return n;
}

/* ---- start / stop ---------------------------------------------------------- */

static int build_headers(struct pvo_run *r)
{
    char h[200];
    /* the key goes only here: never into the URL, the body or a log line */
    snprintf(h, sizeof h, "X-Pvoutput-Apikey: %s", r->cfg->api_key);
    struct curl_slist *l = curl_slist_append(NULL, h);
    memset(h, 0, sizeof h);
    if (!l)
        return PVTAP_ENOMEM;
    struct curl_slist *t;
    snprintf(h, sizeof h, "X-Pvoutput-SystemId: %lld", r->cfg->system_id);
    if (!(t = curl_slist_append(l, h)) || !(t = curl_slist_append(l, "X-Rate-Limit: 1")) ||
        !(t = curl_slist_append(l, "Expect:"))) {
        curl_slist_free_all(l);
        return PVTAP_ENOMEM;
    }
    r->headers = l;
    return 0;
}

static void free_run(struct pvo_run *r)
{
    if (!r)
        return;
    if (r->easy) {
        if (r->multi)
            curl_multi_remove_handle(r->multi, r->easy);
        curl_easy_cleanup(r->easy);
    }
    if (r->multi)
        curl_multi_cleanup(r->multi);
    if (r->headers) {
        /* the header list holds the key: wipe it before it goes back to malloc */
        for (struct curl_slist *l = r->headers; l; l = l->next)
            memset(l->data, 0, strlen(l->data));
        curl_slist_free_all(r->headers);
    }
    free(r->batch);
    free(r->body);
    free(r->resp);
    free(r);
    curl_global_cleanup();
}

int pvo_sink_start(struct sink *sink, const struct sink_runtime *rt)
{
    struct pvo_priv *p = sink->priv;
    if (p->run)
        return 0;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return PVTAP_EIO;
    struct pvo_run *r = calloc(1, sizeof *r);
    if (!r) {
        curl_global_cleanup();
        return PVTAP_ENOMEM;
    }
    r->cfg = &p->cfg;
    r->rt = *rt;
    r->offset_s = pvo_clock_offset_s();
    r->rng = (unsigned)time(NULL) ^ (unsigned)getpid();
    r->batch = malloc(sizeof *r->batch);
    r->body = malloc(BODY_MAX);
    r->resp = malloc(RESPONSE_MAX);
    r->multi = curl_multi_init();
    int rc = r->batch && r->body && r->resp && r->multi ? build_headers(r) : PVTAP_ENOMEM;
    if (rc == 0)
        rc = pvo_pause_load(rt->store, &r->pause_until_s);
    if (rc < 0) {
        free_run(r);
        return rc;
    }
    r->batch->n = 0;
    pvo_request_url(p->cfg.url, "addbatchstatus.jsp", r->url, sizeof r->url);
    pvo_request_url(p->cfg.url, "addoutput.jsp", r->url_output, sizeof r->url_output);
    url_redact(r->url, r->url_shown, sizeof r->url_shown);
    url_redact(r->url_output, r->url_output_shown, sizeof r->url_output_shown);
    r->out_dirty = true;
    r->wake = true;
    r->plan = (struct pvo_plan){
        .store = rt->store,
        .tz = rt->tz,
        .series = p->cfg.series,
        .cumulative = p->cfg.cumulative,
        .backload_days = p->cfg.donation ? PVO_BACKLOAD_DAYS_DONATION : PVO_BACKLOAD_DAYS,
        .voltage = voltage_of,
        .voltage_ctx = r,
    };
    pvo_bisect_init(&r->bisect, p->cfg.donation ? PVO_BATCH_MAX_DONATION : PVO_BATCH_MAX);
    if (r->pause_until_s > now_s(r)) {
        char when[32];
        time_format_iso_utc(r->pause_until_s, when, sizeof when);
        log_msg(LOGL_NOTICE, MOD, "rate-limited before the restart: nothing sent before %s", when);
    }
    p->run = r;
    log_msg(LOGL_INFO, MOD, "uploading series %s to %s (system %lld)", p->cfg.series, r->url_shown,
            p->cfg.system_id);
    return 0;
}

void pvo_sink_stop(struct sink *sink)
{
    struct pvo_priv *p = sink->priv;
    if (!p || !p->run)
        return;
    /* a batch in flight stays pending in the outbox: the next run re-sends it */
    free_run(p->run);
    p->run = NULL;
}

/* ---- requests ------------------------------------------------------------ */

static int64_t next_allowed_s(const struct pvo_run *r)
{
    return r->pause_until_s > r->not_before_s ? r->pause_until_s : r->not_before_s;
}

static int start_post(struct pvo_run *r, const char *url, size_t len)
{
    if (!r->easy && !(r->easy = curl_easy_init()))
        return PVTAP_ENOMEM;
    CURL *e = r->easy;
    curl_easy_reset(e);
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, r->headers);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, r->body);
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)len);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(e, CURLOPT_TIMEOUT, (long)r->cfg->timeout_s);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT,
                     (long)(r->cfg->timeout_s < 15 ? r->cfg->timeout_s : 15));
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_USERAGENT, "pvtap");
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    /* verification stays on: the system CA store, or the configured bundle */
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
    if (r->cfg->ca_file[0])
        curl_easy_setopt(e, CURLOPT_CAINFO, r->cfg->ca_file);
    r->resp_len = 0;
    r->resp[0] = '\0';
    r->resp_truncated = false;
    memset(&r->rl, 0, sizeof r->rl);
    if (curl_multi_add_handle(r->multi, e) != CURLM_OK)
        return PVTAP_EIO;
    r->in_flight = true;
    r->counts.requests++;
    return 0;
}

static int start_request(struct pvo_run *r)
{
    size_t len = pvo_batch_body(r->batch, r->cfg->cumulative, r->body, BODY_MAX);
    if (len == 0)
        return PVTAP_ELIMIT;
    r->req_output = false;
    int rc = start_post(r, r->url, len);
    if (rc < 0)
        return rc;
    r->counts.statuses_sent += (int64_t)r->batch->n;
    log_msg(LOGL_DEBUG, MOD, "POST %s: %zu statuses %s .. %s", r->url_shown, r->batch->n,
            r->batch->compare[0], r->batch->compare[r->batch->n - 1]);
    return 0;
}

static int start_output(struct pvo_run *r)
{
    size_t len = strlen(r->out.body);
    if (len + 1 > BODY_MAX)
        return PVTAP_ELIMIT;
    memcpy(r->body, r->out.body, len + 1);
    r->req_output = true;
    int rc = start_post(r, r->url_output, len);
    if (rc == 0)
        log_msg(LOGL_DEBUG, MOD, "POST %s: %s", r->url_output_shown, r->out.body);
    return rc;
}

static void backoff(struct pvo_run *r, const char *what)
{
    r->attempt++;
    double d = pvo_backoff_s(r->attempt, (double)r->cfg->retry_min_s, (double)r->cfg->retry_max_s,
                             jitter01(r));
    r->backoff_maxed = d >= (double)r->cfg->retry_max_s;
    r->not_before_s = now_s(r) + (int64_t)ceil(d);
    r->wake = true;
    snprintf(r->last_error, sizeof r->last_error, "%s", what);
    complain(&r->complaint, now_s(r), LOGL_WARNING, MOD,
             "%s: %s; retrying the same batch in %.0f s", r->url_shown, what, ceil(d));
}

static void set_pause(struct pvo_run *r, int64_t until_s, const char *why)
{
    r->pause_until_s = until_s;
    r->wake = true;
    int rc = pvo_pause_save(r->rt.store, until_s);
    if (rc < 0)
        log_msg(LOGL_ERR, MOD, "cannot keep the rate-limit pause in the store: %s",
                pvtap_strerror(rc));
    char when[32];
    time_format_iso_utc(until_s, when, sizeof when);
    snprintf(r->last_error, sizeof r->last_error, "%s: paused until %s", why, when);
    log_msg(LOGL_NOTICE, MOD, "%s: nothing sent before %s", why, when);
}

/* Commit the transaction the work ran in, or roll it back when the work failed. */
static int in_tx(struct pvo_run *r, int rc_of_work)
{
    if (rc_of_work < 0) {
        store_rollback(r->rt.store);
        return rc_of_work;
    }
    return store_commit(r->rt.store);
}

static void on_ok_reply(struct pvo_run *r, int64_t now)
{
    struct pvo_reply_item items[PVO_BATCH_MAX_DONATION];
    int n = pvo_reply_parse(r->resp, r->resp_len, items, PVO_BATCH_MAX_DONATION);
    if (n < 0) {
        backoff(r, "PVOutput's reply is not the batch status format");
        return;
    }
    size_t missing = 0;
    int64_t before = r->stats.rejected;
    int rc = store_begin(r->rt.store);
    if (rc == 0)
        rc = in_tx(r,
                   pvo_plan_apply(&r->plan, r->batch, items, (size_t)n, now, &r->stats, &missing));
    if (rc < 0) {
        /* not recorded: the same batch goes again (at least once) */
        backoff(r, "cannot record the delivery in the store");
        return;
    }
    r->out_dirty = true; /* a day's statuses may all be in now */
    r->counts.delivered += (int64_t)(r->batch->n - missing) - (r->stats.rejected - before);
    r->counts.undeliverable += r->stats.rejected - before;
    if (missing) {
        char what[96];
        snprintf(what, sizeof what, "%zu of %zu statuses missing from PVOutput's reply", missing,
                 r->batch->n);
        backoff(r, what);
        return;
    }
    r->attempt = 0;
    r->backoff_maxed = false;
    r->last_error[0] = '\0';
    complain_clear(&r->complaint, MOD, "%s: delivering again", r->url_shown);
}

/* addoutput's reply (200, or a 400 refusing these totals): remember it, then look for the next day.
 */
static void on_output_reply(struct pvo_run *r, bool ok, const char *reason, int64_t now)
{
    int rc = store_begin(r->rt.store);
    if (rc == 0)
        rc = in_tx(r, pvo_plan_output_done(&r->plan, &r->out, ok, now));
    if (rc < 0) {
        backoff(r, "cannot record the day's output in the store");
        return;
    }
    if (ok) {
        log_msg(LOGL_INFO, MOD, "daily output %s delivered", r->out.body);
    } else {
        log_msg(LOGL_WARNING, MOD, "daily output %s rejected by PVOutput: %s", r->out.body, reason);
        r->counts.undeliverable++;
        r->outputs_rejected++;
    }
    r->out_dirty = true;
    r->attempt = 0;
    r->backoff_maxed = false;
    r->last_error[0] = '\0';
}

static void on_done(struct pvo_run *r, CURLcode result)
{
    long code = 0;
    curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &code);
    curl_multi_remove_handle(r->multi, r->easy);
    r->in_flight = false;
    int64_t now = now_s(r);
    if (result != CURLE_OK) {
        backoff(r, curl_easy_strerror(result));
        return;
    }
    /* spacing from the rate-limit headers, whatever the status code */
    if (r->rl.have_remaining) {
        long long reserve = r->rl.have_limit && r->rl.limit >= 20 ? r->rl.limit / 10 : 2;
        int64_t next = pvo_next_request_s(&r->rl, now, reserve);
        if (r->rl.remaining <= 0 && next > now)
            set_pause(r, next, "no requests left this hour (X-Rate-Limit-Remaining: 0)");
        else if (next > r->not_before_s) {
            r->not_before_s = next, r->wake = true;
            /* spacing down to the reserve is a pause too: a restart keeps it */
            if (next - now >= 60 && pvo_pause_save(r->rt.store, next) == 0)
                r->pause_until_s = next;
        }
    }
    char reason[160];
    pvo_reply_reason(r->resp, r->resp_len, reason, sizeof reason);
    if (code == 200) {
        r->auth_failed = false;
        if (r->req_output)
            on_output_reply(r, true, NULL, now);
        else
            on_ok_reply(r, now);
        return;
    }
    if (code == 403 && (strstr(r->resp, "Exceeded") || strstr(r->resp, "requests per hour"))) {
        int64_t until =
            r->rl.have_reset && r->rl.reset_s > now ? r->rl.reset_s : now + PAUSE_GUESS_S;
        if (until > r->pause_until_s)
            set_pause(r, until, "PVOutput's rate limit (403)");
        return;
    }
    if (code == 401 || code == 403) {
        /* key or system id wrong: retried slowly, said loudly; never the key itself */
        r->auth_failed = true;
        r->attempt = 30;
        char what[220];
        snprintf(what, sizeof what, "PVOutput refused the key or system id %lld (%ld: %s)",
                 r->cfg->system_id, code, reason);
        backoff(r, what);
        return;
    }
    if (code == 400 && r->req_output) {
        on_output_reply(r, false, reason, now);
        return;
    }
    if (code == 400) {
        size_t n = r->batch->n;
        int64_t last = r->batch->st[n - 1].end_s[r->batch->st[n - 1].n_iv - 1];
        if (pvo_bisect_rejected(&r->bisect, n, last)) {
            log_msg(LOGL_WARNING, MOD, "status %s rejected by PVOutput: %s; the rest goes on",
                    r->batch->compare[0], reason);
            int rc = store_begin(r->rt.store);
            if (rc == 0)
                rc = in_tx(r, pvo_plan_reject(&r->plan, r->batch, 0, reason, now, &r->stats));
            if (rc < 0)
                backoff(r, "cannot record a rejected status in the store");
            else
                r->counts.undeliverable++;
        } else {
            log_msg(LOGL_INFO, MOD, "400 (%s) on a batch of %zu: trying %zu at a time to find it",
                    reason, n, r->bisect.cap);
        }
        return;
    }
    char what[220];
    snprintf(what, sizeof what, "HTTP %ld: %s", code, reason[0] ? reason : "no reason given");
    backoff(r, what);
}

static void service(struct pvo_run *r)
{
    int running = 0;
    curl_multi_perform(r->multi, &running);
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(r->multi, &left)))
        if (m->msg == CURLMSG_DONE && m->easy_handle == r->easy)
            on_done(r, m->data.result);
}

/* No status to send: a completed day's totals, when one is due. */
static int plan_output(struct pvo_run *r, int64_t now)
{
    if (!r->out_dirty)
        return 0;
    bool found = false;
    int rc = store_begin(r->rt.store);
    if (rc == 0)
        rc = in_tx(r, pvo_plan_output(&r->plan, now, &r->out, &found));
    if (rc < 0) {
        log_msg(LOGL_ERR, MOD, "cannot plan the daily output: %s", pvtap_strerror(rc));
        return rc;
    }
    if (!found) {
        r->out_dirty = false;
        return 0;
    }
    rc = start_output(r);
    if (rc < 0)
        backoff(r, pvtap_strerror(rc));
    return rc;
}

static int plan_and_send(struct pvo_run *r)
{
    int64_t now = now_s(r);
    if (now < next_allowed_s(r))
        return 0;
    if (r->pause_until_s && now >= r->pause_until_s) {
        r->pause_until_s = 0;
        pvo_pause_save(r->rt.store, 0);
    }
    r->wake = false;
    int rc = store_begin(r->rt.store);
    if (rc < 0)
        return rc;
    struct pvo_plan_stats before = r->stats;
    rc = in_tx(r, pvo_plan_next(&r->plan, now, r->bisect.cap, r->batch, &r->stats));
    if (rc < 0) {
        log_msg(LOGL_ERR, MOD, "cannot plan the next batch: %s", pvtap_strerror(rc));
        return rc;
    }
    if (memcmp(&before, &r->stats, sizeof before) != 0)
        r->out_dirty = true; /* entries settled without sending: a day may be complete */
    if (r->batch->n == 0)
        return plan_output(r, now);
    /* past the suspect range of a 400 the batch may grow back to full */
    if (r->bisect.suspect_end && r->batch->st[0].end_s[0] > r->bisect.suspect_end) {
        pvo_bisect_cap(&r->bisect, r->batch->st[0].end_s[0]);
        rc = store_begin(r->rt.store);
        if (rc == 0)
            rc = in_tx(r, pvo_plan_next(&r->plan, now, r->bisect.cap, r->batch, &r->stats));
        if (rc < 0 || r->batch->n == 0)
            return rc;
    }
    rc = start_request(r);
    if (rc < 0)
        backoff(r, pvtap_strerror(rc));
    return rc;
}

int pvo_sink_step(struct sink *sink)
{
    struct pvo_run *r = run_of(sink);
    if (!r)
        return 0;
    if (r->in_flight)
        service(r);
    /* A transfer can also complete in the service() that gets the next one
     * going (a fast peer, a slow host): then plan again, or nothing would
     * wake this sink until the next commit. Bounded: after a few passes in
     * one call the loop comes back at once (wake with no wait). */
    for (int pass = 0; !r->in_flight; pass++) {
        if (pass == 4) {
            r->wake = true;
            break;
        }
        plan_and_send(r);
        if (!r->in_flight)
            break;  /* nothing to send now: a wake or a commit brings us back */
        service(r); /* get the connect going now */
    }
    return 0;
}

size_t pvo_sink_pollfds(struct sink *sink, struct pollfd *fds, size_t max, int64_t *next_due_ms)
{
    struct pvo_run *r = run_of(sink);
    *next_due_ms = INT64_MAX;
    if (!r)
        return 0;
    int64_t mono = time_mono_ms();
    if (!r->in_flight) {
        /* only the end of a back-off, spacing or pause wakes us: commits
         * call step() anyway */
        if (r->wake) {
            int64_t wait_s = next_allowed_s(r) - now_s(r);
            *next_due_ms = mono + (wait_s > 0 ? wait_s * 1000 : 0);
        }
        return 0;
    }
    fd_set rd, wr, ex;
    FD_ZERO(&rd);
    FD_ZERO(&wr);
    FD_ZERO(&ex);
    int maxfd = -1;
    curl_multi_fdset(r->multi, &rd, &wr, &ex, &maxfd);
    size_t n = 0;
    for (int fd = 0; fd <= maxfd && n < max; fd++) {
        short ev = (short)((FD_ISSET(fd, &rd) ? POLLIN : 0) | (FD_ISSET(fd, &wr) ? POLLOUT : 0));
        if (ev)
            fds[n++] = (struct pollfd){.fd = fd, .events = ev};
    }
    long t = -1;
    curl_multi_timeout(r->multi, &t);
    /* curl has no socket yet (resolving, connecting): come back soon */
    if (t < 0)
        t = n ? 1000 : 50;
    *next_due_ms = mono + t;
    return n;
}

void pvo_sink_live(struct sink *sink, const struct reading *r_in)
{
    struct pvo_run *r = run_of(sink);
    if (!r || r_in->q != Q_VOLTAGE_V || r_in->kind != DEVICE_INVERTER || !r_in->series ||
        strcmp(r_in->series, r->cfg->series) != 0 || !isfinite(r_in->value))
        return;
    int64_t end = interval_end(r_in->time);
    struct volt_slot *v = &r->volt[(size_t)(end / INTERVAL_S) % VOLT_SLOTS];
    if (v->end_s != end)
        *v = (struct volt_slot){.end_s = end};
    v->sum_V += r_in->value;
    v->n++;
}

int pvo_sink_idle(struct sink *sink, char *why, size_t why_size)
{
    struct pvo_run *r = run_of(sink);
    if (!r)
        return 1;
    if (r->in_flight)
        return 0;
    int64_t pending = 0;
    int rc = store_outbox_count(r->rt.store, PVO_SINK_NAME, OUTBOX_PENDING, &pending);
    if (rc < 0) {
        snprintf(why, why_size, "cannot read the outbox: %s", pvtap_strerror(rc));
        return -1;
    }
    int64_t now = now_s(r);
    const struct pvo_plan_stats *s = &r->stats;
    int64_t bad = s->too_old + s->rejected + s->still_rejected;
    if (pending > 0 || r->out_dirty) {
        char what[64];
        if (pending > 0)
            snprintf(what, sizeof what, "%lld statuses pending", (long long)pending);
        else
            snprintf(what, sizeof what, "a day's output pending");
        if (r->auth_failed) {
            snprintf(why, why_size, "%s: %s", what, r->last_error);
            return -1;
        }
        int64_t next = next_allowed_s(r);
        if (next > now + r->cfg->retry_max_s && !r->backoff_maxed) {
            /* the rate limit (a pause, or spacing down to the reserve) */
            char when[32];
            time_format_iso_utc(next, when, sizeof when);
            snprintf(why, why_size, "%s: PVOutput's rate limit allows the next request at %s", what,
                     when);
            return -1;
        }
        if (r->backoff_maxed) {
            snprintf(why, why_size, "%s: PVOutput unreachable (%s)", what, r->last_error);
            return -1;
        }
        return 0;
    }
    if (bad == 0 && r->outputs_rejected > 0) {
        snprintf(why, why_size, "%lld daily outputs rejected by PVOutput",
                 (long long)r->outputs_rejected);
        return -1;
    }
    if (bad > 0) {
        snprintf(why, why_size,
                 "%lld statuses undeliverable (%lld older than the backload window, %lld "
                 "rejected by PVOutput)",
                 (long long)bad, (long long)s->too_old,
                 (long long)(s->rejected + s->still_rejected));
        return -1;
    }
    return 1;
}

void pvo_sink_counts(const struct sink *sink, struct pvo_sink_counts *out)
{
    const struct pvo_priv *p = sink->priv;
    memset(out, 0, sizeof *out);
    if (p && p->run)
        *out = p->run->counts;
}
