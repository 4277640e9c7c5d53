/* The http sink's server (libmicrohttpd, its own thread): what config_http.c's hooks call. */
#ifndef PVTAP_SINKS_HTTP_SERVER_H
#define PVTAP_SINKS_HTTP_SERVER_H

struct http_config;
struct http_server;
struct reading;
struct sink_runtime;

/* Open a read-only store connection for the server thread, bind exactly
 * c->host:c->port and serve until http_server_stop(). c, rt and site_name
 * are borrowed for the server's life. *out: stop frees it. */
int http_server_start(const struct http_config *c, const struct sink_runtime *rt,
                      const char *site_name, struct http_server **out);
/* A live value for the page and /metrics (from the daemon's loop thread). */
void http_server_live(struct http_server *s, const struct reading *r);
/* Close the socket and every connection, join the thread, free. */
void http_server_stop(struct http_server *s);

#endif
