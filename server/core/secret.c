/* secret.c -- sealing of credentials at rest (see secret.h). */
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "server/core/secret.h"

/* Start-up configuration: loaded once before threads start. */
static unsigned char key[crypto_secretbox_KEYBYTES];
static int have_key;

int pv_secret_init(const char *data_dir, struct pv_error *err)
{
    char path[1024];
    int fd;
    ssize_t n;

    snprintf(path, sizeof path, "%s/secret.key", data_dir);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT) {
        crypto_secretbox_keygen(key);
        fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd < 0 || write(fd, key, sizeof key) != (ssize_t)sizeof key || fsync(fd) != 0) {
            int e = errno;
            if (fd >= 0)
                close(fd);
            return pv_fail(err, secret_key_error, "cannot create %s: %s",
                                path, strerror(e));
        }
        close(fd);
        have_key = 1;
        return 0;
    }
    if (fd < 0)
        return pv_fail(err, secret_key_error, "cannot read %s: %s", path,
                            strerror(errno));
    n = read(fd, key, sizeof key);
    close(fd);
    if (n != (ssize_t)sizeof key)
        return pv_fail(err, secret_key_error,
                            "%s is not a %zu-byte key", path, sizeof key);
    have_key = 1;
    return 0;
}

int pv_secret_seal(const char *plain, unsigned char **out, size_t *outlen, struct pv_error *err)
{
    size_t plen = strlen(plain);
    size_t len = crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES + plen;
    unsigned char *b;

    *out = NULL;
    if (!have_key)
        return pv_fail(err, secret_key_error, "no secret key loaded");
    b = malloc(len);
    if (!b)
        return pv_fail(err, out_of_memory, "out of memory");
    randombytes_buf(b, crypto_secretbox_NONCEBYTES);
    crypto_secretbox_easy(b + crypto_secretbox_NONCEBYTES, (const unsigned char *)plain, plen, b,
                          key);
    *out = b;
    *outlen = len;
    return 0;
}

int pv_secret_open(const unsigned char *blob, size_t len, char **plain, struct pv_error *err)
{
    size_t plen;
    char *p;

    *plain = NULL;
    if (!have_key || len < crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES)
        return pv_fail(err, secret_unreadable,
                            "stored credentials cannot be read");
    plen = len - crypto_secretbox_NONCEBYTES - crypto_secretbox_MACBYTES;
    p = malloc(plen + 1);
    if (!p)
        return pv_fail(err, out_of_memory, "out of memory");
    if (crypto_secretbox_open_easy((unsigned char *)p, blob + crypto_secretbox_NONCEBYTES,
                                   len - crypto_secretbox_NONCEBYTES, blob, key) != 0) {
        free(p);
        return pv_fail(err, secret_unreadable,
                            "stored credentials do not match this data directory's key");
    }
    p[plen] = '\0';
    *plain = p;
    return 0;
}

void pv_secret_free(char *plain)
{
    if (plain) {
        sodium_memzero(plain, strlen(plain));
        free(plain);
    }
}
