/* The registered source backends: the one list a new backend adds a line to. */
#include <stddef.h>
#include <string.h>

#include "pvtap_build.h"
#include "sources/source.h"

#define SOURCE(x) extern const struct source_ops x##_source_ops;
#include "sources/sources.def"
#undef SOURCE

const struct source_ops *const source_backends[] = {
#define SOURCE(x) &x##_source_ops,
#include "sources/sources.def"
#undef SOURCE
    NULL,
};

const struct source_ops *source_backend_find(const char *type)
{
    for (size_t i = 0; source_backends[i]; i++)
        if (strcmp(source_backends[i]->name, type) == 0)
            return source_backends[i];
    return NULL;
}
