/* test_sha256.c — FIPS 180-4 test vectors, including a multi-block message. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "sha256.h"

static void hex_of(const char *msg, char out[65])
{
    uint8_t d[32];
    clsde_sha256(msg, strlen(msg), d);
    clsde_sha256_hex(d, out);
}

static void test_vectors(void **state)
{
    char h[65];
    (void)state;
    hex_of("", h);
    assert_string_equal(h, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    hex_of("abc", h);
    assert_string_equal(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    hex_of("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", h);
    assert_string_equal(h, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

static void test_incremental_equals_oneshot(void **state)
{
    char msg[1000];
    uint8_t a[32], b[32];
    clsde_sha256_ctx s;
    (void)state;
    for (int i = 0; i < 1000; i++) msg[i] = (char)(i * 7 + 3);
    clsde_sha256(msg, sizeof msg, a);
    clsde_sha256_init(&s);
    for (int i = 0; i < 1000; i += 37) clsde_sha256_update(&s, msg + i, i + 37 > 1000 ? 1000 - i : 37);
    clsde_sha256_final(&s, b);
    assert_memory_equal(a, b, 32);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vectors),
        cmocka_unit_test(test_incremental_equals_oneshot),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
