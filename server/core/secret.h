/* secret.h -- credentials at rest.  Connection passwords and tokens are
 * sealed with libsodium's secretbox (XSalsa20-Poly1305) under a 256-bit key
 * kept in DATA_DIR/secret.key (mode 0600, created on first start).  A
 * database copied without its key file yields no credentials. */
#ifndef PV_SECRET_H
#define PV_SECRET_H

#include <stddef.h>
#include "adapters/adapter.h"

int pv_secret_init(const char *data_dir, struct pv_error *err);
/* *out is malloc'd: nonce || box. */
int pv_secret_seal(const char *plain, unsigned char **out, size_t *outlen, struct pv_error *err);
/* *plain is malloc'd and NUL-terminated; free it with pv_secret_free. */
int pv_secret_open(const unsigned char *blob, size_t len, char **plain, struct pv_error *err);
/* Wipe and free what pv_secret_open returned. */
void pv_secret_free(char *plain);

#endif
