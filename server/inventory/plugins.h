/* plugins.h -- the adapter loader.  At start-up every *.so in the adapter
 * directory is dlopen'ed and asked for its table (pv_adapter_entry); a table
 * with another ABI version, no name, or a name already taken is refused with
 * a log line saying why, and the daemon goes on without it. */
#ifndef PV_PLUGINS_H
#define PV_PLUGINS_H

#include <jansson.h>
#include "adapters/adapter.h"

int pv_plugins_load(const char *dir);
struct pv_config;
/* Hand each loaded adapter its "TYPE.KEY" settings (configure()); an
 * adapter that refuses them is an error the daemon cannot start with.  A
 * setting for a type no adapter serves is logged and ignored. */
int pv_plugins_configure(const struct pv_config *cfg, struct pv_error *err);
/* The adapter for a connection type, or NULL. */
const struct pv_adapter *pv_plugins_find(const char *type);
/* The connection types of the loaded adapters into out[] (at most max, in
 * load order); their count.  The strings live as long as the daemon. */
size_t pv_plugins_types(const char **out, size_t max);
/* Does the adapter for type have every capability bit of cap?  0 when no
 * adapter serves type. */
int pv_plugins_has(const char *type, uint64_t cap);
/* [{"name", "title", "version", "abi", "capabilities": [...], "credentials",
 *   "url_schemes": [...], "file"}] */
json_t *pv_plugins_json(void);
/* Names of capability bits, for the API and error messages. */
const char *pv_cap_name(uint64_t cap);
void pv_plugins_unload(void);

#endif
