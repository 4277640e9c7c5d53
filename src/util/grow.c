/* Growable arrays: doubling reallocation with overflow checks. */
#include "util/grow.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/err.h"

int grow_array(void *itemsp, size_t *cap, size_t n, size_t elem_size, size_t first)
{
    if (n < *cap)
        return 0;
    void *items;
    memcpy(&items, itemsp, sizeof items);
    size_t want = *cap ? *cap * 2 : (first ? first : 1);
    if (want < *cap || want > SIZE_MAX / elem_size)
        return PVTAP_ENOMEM;
    void *p = realloc(items, want * elem_size);
    if (!p)
        return PVTAP_ENOMEM;
    memcpy(itemsp, &p, sizeof p);
    *cap = want;
    return 0;
}
