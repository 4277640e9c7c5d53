/* The web page's files (src/sinks/web/), embedded in the binary at build time by cmake/embed_web.cmake. */
#ifndef PVTAP_SINKS_WEB_ASSETS_H
#define PVTAP_SINKS_WEB_ASSETS_H

#include <stddef.h>

struct web_asset {
    const char *path;         /* "/index.html", "/app.js", "/style.css" */
    const char *content_type;
    const unsigned char *data; /* NUL-terminated past len */
    size_t len;
};

extern const struct web_asset web_assets[];
extern const size_t web_assets_count;

#endif
