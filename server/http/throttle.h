/* throttle.h -- failed-login throttling, per user and per client address:
 * exponential back-off after a few free failures (429 + Retry-After at the
 * API).  Policy: config keys login_free_failures and login_max_wait_seconds
 * (docs/install.md, Security). */
#ifndef PV_THROTTLE_H
#define PV_THROTTLE_H

void pv_throttle_configure(int free_failures, int max_wait_seconds);
/* Seconds until key may try again; 0: now. */
int pv_throttle_wait(const char *key);
/* A failure of key, which gets free_extra more free failures than the
 * configured count (an address is shared by many users); returns the
 * seconds it must now wait (0: none yet). */
int pv_throttle_fail(const char *key, int free_extra);
/* A success: key starts over. */
void pv_throttle_clear(const char *key);

#endif
