/* reasons.h -- placement's explanations in words, from one table.
 *
 * Every filter verdict carries a stable reason code (the contract: scripts
 * test it) and the numbers behind it (detail); this module adds the
 * sentence a person reads, built here on the server so that the web UI, the
 * CLI and a script all show the same words: "not enough free memory (needs
 * 2 GiB, 1 GiB free of 32 GiB ...)".  The codes and their phrases are one
 * table in reasons.c; a code missing from it still gets a message (its
 * words with the underscores as spaces).
 */
#ifndef PV_PL_REASONS_H
#define PV_PL_REASONS_H

#include <jansson.h>

/* The phrase for a reason code ("the host is in maintenance mode"); for a
 * code not in the table, NULL. */
const char *pv_pl_reason_text(const char *code);

/* A filter verdict's message: the filter's figures from detail (borrowed),
 * led by the code's phrase when the filter refused (code non-NULL).  A new
 * JSON string. */
json_t *pv_pl_verdict_message(const char *filter, const char *code, const json_t *detail);

/* A weight's message: what it measures and its arithmetic. */
json_t *pv_pl_weight_message(const char *name, double value, double weight, double contribution);

/* {"code": "phrase", ...} for each code of counts ({"code": hosts, ...},
 * borrowed; NULL: {}): the words next to "rejected_by". */
json_t *pv_pl_reason_texts(const json_t *counts);

/* counts ({"code": hosts, ...}, borrowed) as one line into buf: "3 hosts:
 * not enough free memory (insufficient_memory); 1 host: ..." ("" for none),
 * cut at size -- for error messages and a VM's HA status. */
void pv_pl_rejections_text(const json_t *counts, char *buf, size_t size);

#endif
