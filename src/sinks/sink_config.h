/* Typed settings of each sink, validated from its config group by the sink's create(). */
#ifndef PVTAP_SINKS_SINK_CONFIG_H
#define PVTAP_SINKS_SINK_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

struct pvoutput_config {
    char api_key[128];   /* secret: sent only in the X-Pvoutput-Apikey header, never printed */
    long long system_id;
    char series[32];     /* which series is uploaded; default "sniff" */
    char url[512];       /* default https://pvoutput.org/service/r2/ */
    bool donation;       /* 100 statuses a batch, 90 days back */
    long long retry_min_s, retry_max_s;
    char ca_file[512];   /* extra CA bundle; default: the system store */
    bool cumulative;     /* c1=1: v1/v3 are lifetime values */
    long long timeout_s; /* one request's time limit (a hung server is an outage) */
};

struct mqtt_config {
    char host[256];
    long long port;
    char topic[128];
    char discovery_prefix[128];
    char series[32];
    char username[128];
    char password[128]; /* secret */
    char tls_ca[512];
};

struct http_config {
    char listen[128];  /* "ADDR:PORT" as given */
    char host[96];     /* parsed address ("127.0.0.1", "::1", "0.0.0.0") */
    uint16_t port;
    unsigned header_timeout_s; /* a request's headers must be in by then */
};

/* "127.0.0.1:8080", "[::1]:8080", "0.0.0.0:8080" -> host, port; PVTAP_EINVAL otherwise. */
enum { HTTP_HEADER_TIMEOUT_S = 10 };
int http_listen_parse(const char *text, char *host, size_t host_size, uint16_t *port);

#endif
