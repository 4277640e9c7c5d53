/* The registered sinks: the one list a new sink adds a line to. */
#include <stddef.h>
#include <string.h>

#include "sinks/sink.h"

#define SINK(x) extern const struct sink_ops x##_sink_ops;
#include "sinks/sinks.def"
#undef SINK

const struct sink_ops *const sink_backends[] = {
#define SINK(x) &x##_sink_ops,
#include "sinks/sinks.def"
#undef SINK
    NULL,
};

const struct sink_ops *sink_backend_find(const char *name)
{
    for (size_t i = 0; sink_backends[i]; i++)
        if (strcmp(sink_backends[i]->name, name) == 0)
            return sink_backends[i];
    return NULL;
}
