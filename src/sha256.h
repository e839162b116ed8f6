/* sha256.h — SHA-256 (FIPS 180-4) for program-cache keys and entry checksums. */
#ifndef CLSDE_SHA256_H
#define CLSDE_SHA256_H

#include <stddef.h>
#include <stdint.h>

typedef struct clsde_sha256_ctx {
    uint32_t h[8];
    uint64_t len;      /* bytes hashed so far */
    uint8_t buf[64];
    size_t fill;
} clsde_sha256_ctx;

void clsde_sha256_init(clsde_sha256_ctx *s);
void clsde_sha256_update(clsde_sha256_ctx *s, const void *data, size_t n);
void clsde_sha256_final(clsde_sha256_ctx *s, uint8_t out[32]);
/* One call: out = SHA-256(data). */
void clsde_sha256(const void *data, size_t n, uint8_t out[32]);
/* Lower-case hex of 32 bytes into out[65]. */
void clsde_sha256_hex(const uint8_t digest[32], char out[65]);

#endif
