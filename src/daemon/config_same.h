/* Are two libconfig settings the same configuration (for a reload: what changed)? */
#ifndef PVTAP_DAEMON_CONFIG_SAME_H
#define PVTAP_DAEMON_CONFIG_SAME_H

#include <libconfig.h>
#include <stdbool.h>

/* Same type and value, recursively; a group's members by name in any
 * order, a list's or array's elements in order. Two NULLs (both absent)
 * are the same. Where a value came from (file, line) does not matter. */
bool config_setting_same(const config_setting_t *a, const config_setting_t *b);

/* The member named key of root in both trees, compared as above. */
bool config_member_same(const config_t *a, const config_t *b, const char *key);

#endif
