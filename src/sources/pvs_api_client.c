/* The supervisor's local API client (libcurl): DeviceList or login + /vars, TLS pinned. */
#include <curl/curl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sources/pvs_api.h"
#include "util/err.h"
#include "util/url_redact.h"

static const char PATH_DEVICELIST[] = "/cgi-bin/dl_cgi?Command=DeviceList";
static const char PATH_LOGIN[] = "/auth?login";

/* The varserver holds device values in one of two shapes: flat variables,
 * one a value (/sys/devices/meter/0/p3phsumKw: 2025 builds, what SunStrong's
 * own client asks by prefix), or one object a device
 * (/sys/devices/12/meter/data, the vendor's documented example). match=
 * selects the names that contain its value, so each shape has its own
 * query; the two device groups are asked separately, because a match walks
 * the whole variable space and narrow ones cost the supervisor least. */
enum vars_form { FORM_FLAT, FORM_NESTED, FORM_COUNT_ };
enum vars_group { GROUP_METERS, GROUP_INVERTERS, GROUP_COUNT_ };
static const char *const PATHS_VARS[FORM_COUNT_][GROUP_COUNT_] = {
    [FORM_FLAT] = {"/vars?match=/sys/devices/meter/&fmt=obj",
                   "/vars?match=/sys/devices/inverter/&fmt=obj"},
    [FORM_NESTED] = {"/vars?match=meter/data&fmt=obj", "/vars?match=inverter/data&fmt=obj"},
};
/* The firmware build, named when neither shape answers. */
static const char PATH_SW_REV[] = "/vars?name=/sys/info/sw_rev";

/* A pin no key hashes to: used only to make libcurl compute and log the
 * server's own pin while refusing the connection before any request. */
static const char NO_PIN[] = "sha256//AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
static const char PIN_LOG_PREFIX[] = "public key hash: ";

struct body {
    char *p;
    size_t n, cap;
    bool too_big;
};

struct pvs_client {
    struct pvs_client_opts o;
    CURL *h;
    struct body body;
    char seen_pin[PVS_PIN_SIZE]; /* the server's pin as libcurl logged it */
    bool logged_in;
    char shown_url[URL_SHOWN_SIZE]; /* o.url as messages show it */
    /* Per group, the shape that last answered devices: asked first, so a
     * unit costs two queries a poll once it has answered. A group not
     * answered yet starts with the shape another group answered in. */
    enum vars_form form[GROUP_COUNT_];
    bool form_known[GROUP_COUNT_];
    enum vars_form last_form;
};

static void set_err(struct pvs_error *err, int code, long status, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void set_err(struct pvs_error *err, int code, long status, const char *fmt, ...)
{
    err->code = code;
    err->http_status = status;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->text, sizeof err->text, fmt, ap);
    va_end(ap);
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *ud)
{
    struct body *b = ud;
    size_t len = size * nmemb;
    if (len > PVS_MAX_BODY_BYTES - b->n) {
        b->too_big = true;
        return 0; /* libcurl stops with CURLE_WRITE_ERROR */
    }
    if (b->n + len + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 16384;
        while (cap < b->n + len + 1)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p)
            return 0;
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, data, len);
    b->n += len;
    b->p[b->n] = '\0';
    return len;
}

/* libcurl logs "public key hash: sha256//..." while checking a pin (its
 * OpenSSL, GnuTLS and wolfSSL back-ends do): the only place the server's
 * key hash is available without a crypto library of our own. Only text
 * lines are looked at; headers (the Authorization one included) are
 * ignored and never stored. */
static int on_debug(CURL *h, curl_infotype type, char *data, size_t size, void *ud)
{
    (void)h;
    char *seen = ud;
    if (type != CURLINFO_TEXT || size > 512)
        return 0;
    char line[513];
    memcpy(line, data, size);
    line[size] = '\0';
    const char *p = strstr(line, PIN_LOG_PREFIX);
    if (!p)
        return 0;
    p += sizeof PIN_LOG_PREFIX - 1;
    size_t n = strcspn(p, "\r\n");
    if (n < PVS_PIN_SIZE && strncmp(p, "sha256//", 8) == 0) {
        memcpy(seen, p, n);
        seen[n] = '\0';
    }
    return 0;
}

/* Options every handle gets: time-outs, no redirects, http(s) only, no
 * signals (we run on a thread), TLS trust by pin only. */
static int setup_common(CURL *h, const struct pvs_client_opts *o, char *seen_pin)
{
    CURLcode rc = CURLE_OK;
#define SET(opt, val)                                                                              \
    do {                                                                                           \
        if (rc == CURLE_OK)                                                                        \
            rc = curl_easy_setopt(h, opt, val);                                                    \
    } while (0)
    SET(CURLOPT_NOSIGNAL, 1L);
    SET(CURLOPT_CONNECTTIMEOUT, (long)PVS_CONNECT_TIMEOUT_S);
    SET(CURLOPT_TIMEOUT, o->timeout_s > 0 ? o->timeout_s : (long)PVS_DEFAULT_TIMEOUT_S);
    SET(CURLOPT_FOLLOWLOCATION, 0L);
#if LIBCURL_VERSION_NUM >= 0x075500
    SET(CURLOPT_PROTOCOLS_STR, "http,https");
#endif
    SET(CURLOPT_USERAGENT, "pvtap");
    if (pvs_url_is_https(o->url)) {
        /* The supervisor's certificate is self-signed for a LAN address: no
         * CA can vouch for it. The pin is the trust: libcurl compares the
         * server's public key with it before sending or receiving any data,
         * whatever VERIFYPEER says. Never reached without a pin (the
         * callers refuse first). */
        SET(CURLOPT_SSL_VERIFYPEER, 0L);
        SET(CURLOPT_SSL_VERIFYHOST, 0L);
        SET(CURLOPT_PINNEDPUBLICKEY, o->tls_pin[0] ? o->tls_pin : NO_PIN);
        /* Verbose output only reaches on_debug, which keeps the pin line. */
        SET(CURLOPT_DEBUGFUNCTION, on_debug);
        SET(CURLOPT_DEBUGDATA, seen_pin);
        SET(CURLOPT_VERBOSE, 1L);
    }
#undef SET
    return rc == CURLE_OK ? 0 : PVTAP_EIO;
}

int pvs_client_new(const struct pvs_client_opts *o, struct pvs_client **out)
{
    *out = NULL;
    struct pvs_client *c = calloc(1, sizeof *c);
    if (!c)
        return PVTAP_ENOMEM;
    c->o = *o;
    url_redact(o->url, c->shown_url, sizeof c->shown_url);
    c->h = curl_easy_init();
    if (!c->h) {
        pvs_client_free(c);
        return PVTAP_ENOMEM;
    }
    if (setup_common(c->h, &c->o, c->seen_pin) < 0 ||
        curl_easy_setopt(c->h, CURLOPT_WRITEFUNCTION, on_body) != CURLE_OK ||
        curl_easy_setopt(c->h, CURLOPT_WRITEDATA, &c->body) != CURLE_OK ||
        /* "" turns the in-memory cookie engine on: it keeps the session. */
        curl_easy_setopt(c->h, CURLOPT_COOKIEFILE, "") != CURLE_OK ||
        curl_easy_setopt(c->h, CURLOPT_ACCEPT_ENCODING, "") != CURLE_OK) {
        pvs_client_free(c);
        return PVTAP_ENOMEM;
    }
    *out = c;
    return 0;
}

void pvs_client_free(struct pvs_client *c)
{
    if (!c)
        return;
    if (c->h)
        curl_easy_cleanup(c->h);
    free(c->body.p);
    /* The password should not outlive its use in freed memory. */
    explicit_bzero(c->o.password, sizeof c->o.password);
    free(c);
}

/* What a curl failure means for a user. */
static int curl_failure(struct pvs_client *c, CURLcode cc, const char *path, struct pvs_error *err)
{
    switch (cc) {
    case CURLE_OPERATION_TIMEDOUT:
        set_err(err, PVTAP_ETIMEOUT, 0,
                "%s%s: no complete answer within %ld s (the supervisor is slow or busy; "
                "timeout_s raises the limit)",
                c->shown_url, path, c->o.timeout_s);
        return PVTAP_ETIMEOUT;
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
        set_err(err, PVTAP_ECONFIG, 0,
                "%s: the server's public key is %s, not tls_sha256 = \"%s\": refusing to talk to "
                "it (a replaced or reset supervisor, or someone in between). If you trust it, "
                "check it as the README's pvs-api section says and set tls_sha256 to it",
                c->shown_url, c->seen_pin[0] ? c->seen_pin : "(not logged by this libcurl)",
                c->o.tls_pin);
        return PVTAP_ECONFIG;
    case CURLE_WRITE_ERROR:
        if (c->body.too_big) {
            set_err(err, PVTAP_ELIMIT, 0, "%s%s: answer larger than %d bytes", c->shown_url, path,
                    PVS_MAX_BODY_BYTES);
            return PVTAP_ELIMIT;
        }
        set_err(err, PVTAP_ENOMEM, 0, "%s%s: out of memory reading the answer", c->shown_url, path);
        return PVTAP_ENOMEM;
    default:
        set_err(err, PVTAP_EIO, 0, "%s%s: %s", c->shown_url, path, curl_easy_strerror(cc));
        return PVTAP_EIO;
    }
}

/* GET base+path into c->body; *status = the HTTP status. with_auth sends
 * basic auth (the login only). */
static int get(struct pvs_client *c, const char *path, bool with_auth, long *status,
               struct pvs_error *err)
{
    char url[sizeof c->o.url + 64];
    snprintf(url, sizeof url, "%s%s", c->o.url, path);
    c->body.n = 0;
    c->body.too_big = false;
    if (c->body.p)
        c->body.p[0] = '\0';
    CURLcode cc = curl_easy_setopt(c->h, CURLOPT_URL, url);
    if (cc == CURLE_OK && with_auth) {
        cc = curl_easy_setopt(c->h, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        if (cc == CURLE_OK)
            cc = curl_easy_setopt(c->h, CURLOPT_USERNAME, c->o.username);
        if (cc == CURLE_OK)
            cc = curl_easy_setopt(c->h, CURLOPT_PASSWORD, c->o.password);
    }
    if (cc == CURLE_OK)
        cc = curl_easy_perform(c->h);
    if (with_auth) {
        /* Credentials go to the login only, never to the data queries. */
        curl_easy_setopt(c->h, CURLOPT_USERNAME, NULL);
        curl_easy_setopt(c->h, CURLOPT_PASSWORD, NULL);
    }
    if (cc != CURLE_OK)
        return curl_failure(c, cc, path, err);
    *status = 0;
    curl_easy_getinfo(c->h, CURLINFO_RESPONSE_CODE, status);
    return 0;
}

static bool auth_refused(long status)
{
    return status == 401 || status == 403;
}

static int http_status_error(struct pvs_client *c, const char *path, long status,
                             struct pvs_error *err)
{
    set_err(err, PVTAP_EIO, status, "%s%s: HTTP %ld", c->shown_url, path, status);
    return PVTAP_EIO;
}

static int html_error(struct pvs_client *c, const char *path, struct pvs_error *err)
{
    set_err(err, PVTAP_EUNSUPPORTED, 200,
            "%s%s answered HTML, not JSON: a PVS2 (its local API is not supported) or not a "
            "supervisor at all",
            c->shown_url, path);
    return PVTAP_EUNSUPPORTED;
}

static int parse_error(struct pvs_client *c, const char *path, int rc, struct pvs_error *err)
{
    if (rc == PVTAP_ENOTMINE && pvs_body_is_html(c->body.p ? c->body.p : "", c->body.n))
        return html_error(c, path, err);
    if (rc == PVTAP_ENOMEM || rc == PVTAP_ELIMIT) {
        set_err(err, rc, 200, "%s%s: %s", c->shown_url, path,
                rc == PVTAP_ENOMEM ? "out of memory" : "more devices than pvtap holds");
        return rc;
    }
    set_err(err, PVTAP_ECORRUPT, 200, "%s%s: the answer is not the JSON expected (%zu bytes)",
            c->shown_url, path, c->body.n);
    return PVTAP_ECORRUPT;
}

/* Inverters and meters from index n0 on: what a poll is for. */
static size_t count_devices(const struct pvs_answer *a, size_t n0)
{
    size_t n = 0;
    for (size_t i = n0; i < a->n; i++)
        n += a->dev[i].kind != PVS_DEV_SUPERVISOR;
    return n;
}

static int poll_devicelist(struct pvs_client *c, struct pvs_answer *out, struct pvs_error *err)
{
    long status;
    int rc = get(c, PATH_DEVICELIST, false, &status, err);
    if (rc < 0)
        return rc;
    if (auth_refused(status)) {
        set_err(err, PVTAP_ECONFIG, status,
                "%s: HTTP %ld: the supervisor's login mode changed: it now wants a login "
                "(firmware 61840 and later). Set username (ssm_owner) and password (the last 5 "
                "characters of the supervisor's serial), use its https:// URL and tls_sha256",
                c->shown_url, status);
        return PVTAP_ECONFIG;
    }
    if (status != 200)
        return http_status_error(c, PATH_DEVICELIST, status, err);
    size_t n0 = out->n;
    rc = pvs_parse_devicelist(c->body.p ? c->body.p : "", c->body.n, out);
    if (rc < 0)
        return parse_error(c, PATH_DEVICELIST, rc, err);
    if (!count_devices(out, n0)) {
        const char *fw = "";
        for (size_t i = n0; i < out->n && !fw[0]; i++)
            fw = out->dev[i].kind == PVS_DEV_SUPERVISOR ? out->dev[i].firmware : "";
        set_err(err, PVTAP_ENOTFOUND, status,
                "%s%s: the supervisor (firmware %s) listed no inverter or meter (%u entries of "
                "other kinds; right after a restart it may still be discovering them)",
                c->shown_url, PATH_DEVICELIST, fw[0] ? fw : "not given", out->unknown_devices);
        out->n = n0;
        return PVTAP_ENOTFOUND;
    }
    return 0;
}

static int login(struct pvs_client *c, struct pvs_error *err)
{
    long status;
    int rc = get(c, PATH_LOGIN, true, &status, err);
    if (rc < 0)
        return rc;
    if (auth_refused(status)) {
        set_err(err, PVTAP_ECONFIG, status,
                "%s: the supervisor refused the login as '%s' (HTTP %ld): the supervisor's "
                "login mode changed or the password is wrong (it is the last 5 characters of "
                "the supervisor's serial)",
                c->shown_url, c->o.username, status);
        return PVTAP_ECONFIG;
    }
    if (status == 404) {
        set_err(err, PVTAP_EUNSUPPORTED, status,
                "%s: no login API (HTTP 404): firmware before 61840 serves the DeviceList "
                "without one: remove password and use the supervisor's http:// URL",
                c->shown_url);
        return PVTAP_EUNSUPPORTED;
    }
    if (status != 200)
        return http_status_error(c, PATH_LOGIN, status, err);
    if (pvs_body_is_html(c->body.p ? c->body.p : "", c->body.n))
        return html_error(c, PATH_LOGIN, err);
    c->logged_in = true;
    return 0;
}

/* One /vars query with the session: a login when there is none, and one
 * fresh login when the session was refused (it can expire or be dropped by
 * a supervisor restart; the supervisor says so with 401/403, some firmware
 * with 400), then it is a real refusal. The body stays in c->body. */
static int vars_get(struct pvs_client *c, const char *path, struct pvs_error *err)
{
    long status = 0;
    int rc;
    for (int attempt = 0; attempt < 2; attempt++) {
        bool fresh = false;
        if (!c->logged_in) {
            if ((rc = login(c, err)) < 0)
                return rc;
            fresh = true;
        }
        if ((rc = get(c, path, false, &status, err)) < 0)
            return rc;
        if (!auth_refused(status) && status != 400)
            break;
        c->logged_in = false;
        if (fresh)
            break;
    }
    if (auth_refused(status)) {
        set_err(err, PVTAP_ECONFIG, status,
                "%s%s: HTTP %ld right after a login: the supervisor's login mode changed "
                "(it no longer lets '%s' read data)",
                c->shown_url, path, status, c->o.username);
        return PVTAP_ECONFIG;
    }
    if (status != 200)
        return http_status_error(c, path, status, err);
    return 0;
}

static int vars_query(struct pvs_client *c, const char *path, struct pvs_answer *out,
                      struct pvs_error *err)
{
    int rc = vars_get(c, path, err);
    if (rc < 0)
        return rc;
    rc = pvs_parse_vars(c->body.p ? c->body.p : "", c->body.n, out);
    return rc < 0 ? parse_error(c, path, rc, err) : 0;
}

/* The firmware build for a message; "" when the supervisor does not say. */
static void read_sw_rev(struct pvs_client *c, char *fw, size_t fw_size)
{
    struct pvs_error ignored;
    fw[0] = '\0';
    if (vars_get(c, PATH_SW_REV, &ignored) == 0 &&
        pvs_parse_sw_rev(c->body.p ? c->body.p : "", c->body.n, fw, fw_size) < 0)
        fw[0] = '\0';
}

static int poll_vars(struct pvs_client *c, struct pvs_answer *out, struct pvs_error *err)
{
    size_t n0 = out->n;
    int rc = 0;
    for (int g = 0; g < GROUP_COUNT_; g++) {
        /* the shape that answered last, else the other one */
        enum vars_form first = c->form_known[g] ? c->form[g] : c->last_form;
        bool refused = false; /* an HTTP error to one shape, kept in *err */
        for (int k = 0; k < FORM_COUNT_; k++) {
            enum vars_form f = k == 0 ? first : (enum vars_form)(FORM_COUNT_ - 1 - first);
            size_t before = out->n;
            struct pvs_error e;
            memset(&e, 0, sizeof e);
            rc = vars_query(c, PATHS_VARS[f][g], out, &e);
            /* A build that knows one shape may refuse a query for the other
             * (an HTTP status, not a lost connection): the other may answer. */
            if (rc == PVTAP_EIO && e.http_status && !refused) {
                *err = e;
                refused = true;
                continue;
            }
            if (rc < 0) {
                *err = e;
                goto fail;
            }
            if (out->n > before) {
                c->form[g] = c->last_form = f;
                c->form_known[g] = true;
                refused = false;
                break;
            }
        }
        if (refused) {
            rc = err->code;
            goto fail;
        }
    }
    if (!count_devices(out, n0)) {
        char fw[64];
        read_sw_rev(c, fw, sizeof fw);
        set_err(err, PVTAP_EUNSUPPORTED, 200,
                "%s: the supervisor (firmware %s) answered neither the flat "
                "(/sys/devices/meter/N/...) nor the nested (/sys/devices/N/meter/data) device "
                "variables: no meter, no inverter",
                c->shown_url, fw[0] ? fw : "unknown: /sys/info/sw_rev not answered");
        rc = PVTAP_EUNSUPPORTED;
        goto fail;
    }
    return 0;
fail:
    out->n = n0;
    return rc;
}

int pvs_client_poll(struct pvs_client *c, struct pvs_answer *out, enum pvs_api *api,
                    struct pvs_error *err)
{
    memset(err, 0, sizeof *err);
    if (pvs_url_is_https(c->o.url) && !c->o.tls_pin[0]) {
        char pin[PVS_PIN_SIZE];
        int rc = pvs_client_learn_pin(&c->o, pin, sizeof pin, err);
        if (rc < 0)
            return rc;
        set_err(err, PVTAP_ECONFIG, 0,
                "%s: the supervisor's certificate is not pinned yet, so nothing was sent. Its "
                "public key is %s. Check it (README, pvs-api, TLS) and set tls_sha256 = \"%s\"",
                c->shown_url, pin, pin);
        return PVTAP_ECONFIG;
    }
    *api = c->o.password[0] ? PVS_API_VARS : PVS_API_DEVICELIST;
    return *api == PVS_API_VARS ? poll_vars(c, out, err) : poll_devicelist(c, out, err);
}

int pvs_client_learn_pin(const struct pvs_client_opts *o, char *pin, size_t pin_size,
                         struct pvs_error *err)
{
    memset(err, 0, sizeof *err);
    char shown[URL_SHOWN_SIZE];
    url_redact(o->url, shown, sizeof shown);
    if (!pvs_url_is_https(o->url)) {
        set_err(err, PVTAP_EINVAL, 0, "%s: not an https:// URL: nothing to pin", shown);
        return PVTAP_EINVAL;
    }
    struct pvs_client_opts probe = *o;
    probe.tls_pin[0] = '\0';
    probe.password[0] = '\0';
    char seen[PVS_PIN_SIZE] = "";
    CURL *h = curl_easy_init();
    if (!h) {
        set_err(err, PVTAP_ENOMEM, 0, "out of memory");
        return PVTAP_ENOMEM;
    }
    char url[sizeof o->url + 2];
    snprintf(url, sizeof url, "%s/", o->url);
    /* CONNECT_ONLY: the handshake and nothing else; NO_PIN makes libcurl
     * hash the server's key, log it and hang up before any request. */
    CURLcode cc = CURLE_OK;
    if (setup_common(h, &probe, seen) < 0 || curl_easy_setopt(h, CURLOPT_URL, url) != CURLE_OK ||
        curl_easy_setopt(h, CURLOPT_CONNECT_ONLY, 1L) != CURLE_OK)
        cc = CURLE_OUT_OF_MEMORY;
    else
        cc = curl_easy_perform(h);
    curl_easy_cleanup(h);
    if (seen[0] && (cc == CURLE_SSL_PINNEDPUBKEYNOTMATCH || cc == CURLE_OK)) {
        snprintf(pin, pin_size, "%s", seen);
        return 0;
    }
    if (cc == CURLE_OPERATION_TIMEDOUT) {
        set_err(err, PVTAP_ETIMEOUT, 0, "%s: no TLS handshake within the time-out", shown);
        return PVTAP_ETIMEOUT;
    }
    if (cc == CURLE_SSL_PINNEDPUBKEYNOTMATCH || cc == CURLE_OK) {
        set_err(err, PVTAP_EUNSUPPORTED, 0,
                "%s: this libcurl does not report the server's key; read it with openssl as "
                "the README (pvs-api, TLS) shows and set tls_sha256",
                shown);
        return PVTAP_EUNSUPPORTED;
    }
    set_err(err, PVTAP_EIO, 0, "%s: %s", shown, curl_easy_strerror(cc));
    return PVTAP_EIO;
}
