/* Growable arrays: room for one more element, doubling, without the realloc boilerplate. */
#ifndef PVTAP_UTIL_GROW_H
#define PVTAP_UTIL_GROW_H

#include <stddef.h>

/* Ensure the array that *itemsp points to (*cap elements of elem_size bytes,
 * n in use) has room for element n: when full it grows to twice its size
 * (first when empty). itemsp is the address of any object pointer (it is
 * read and written with memcpy, so no pointer type is punned). Returns 0, or
 * PVTAP_ENOMEM with the array untouched. */
int grow_array(void *itemsp, size_t *cap, size_t n, size_t elem_size, size_t first);

/* The usual call: GROW(&r->v, &r->cap, r->n, 64). */
#define GROW(itemsp, capp, n, first) grow_array((itemsp), (capp), (n), sizeof **(itemsp), (first))

#endif
