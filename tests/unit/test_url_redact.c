/* url_redact: no credential of a URL survives into printed text. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "util/url_redact.h"

static void test_cases(void **state)
{
    (void)state;
    static const struct {
        const char *in, *want;
    } cases[] = {
        {"https://pvoutput.org/service/r2/", "https://pvoutput.org/service/r2/"},
        {"https://user:pw@pvoutput.org/service/r2/", "https://***@pvoutput.org/service/r2/"},
        {"http://pw-only@10.0.0.1:8080", "http://***@10.0.0.1:8080"},
        {"mqtt://u:p%40ss@broker:1883", "mqtt://***@broker:1883"},
        {"user:secretpw@broker.lan", "***@broker.lan"},
        {"broker.lan", "broker.lan"},
        {"https://u:pa/ss@h/x", "https://***@h/x"},
        {"https://h/r2?key=K1&sid=5", "https://h/r2?key=***&sid=5"},
        {"https://h/?APIKEY=K2;token=T&x=1#frag", "https://h/?APIKEY=***;token=***&x=1#frag"},
        {"https://h/?password=P&secret=S&api_key=A",
         "https://h/?password=***&secret=***&api_key=***"},
        {"https://u:p@h/?sid=5&flag", "https://***@h/?sid=5&flag"},
        /* any name holding key, token, pass, secret, sig, auth, session, cred */
        {"http://h/x?key=K&access_token=AT&X-Pvoutput-Apikey=XK&sig=S&passwd=P&n=1",
         "http://h/x?key=***&access_token=***&X-Pvoutput-Apikey=***&sig=***&passwd=***&n=1"},
        {"http://h/?AuthCode=A&sessionid=S&credential=C",
         "http://h/?AuthCode=***&sessionid=***&credential=***"},
        {"[::1]:8080", "[::1]:8080"},
        {"", ""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char out[256];
        url_redact(cases[i].in, out, sizeof out);
        if (strcmp(out, cases[i].want) != 0) {
            print_error("%s -> %s, want %s\n", cases[i].in, out, cases[i].want);
            fail();
        }
    }
}

/* A buffer too small cuts the text short but never shows the password. */
static void test_truncation_hides(void **state)
{
    (void)state;
    for (size_t size = 1; size < 40; size++) {
        char out[40];
        url_redact("https://alice:hunter2@h/?token=hunter3", out, size);
        assert_true(strlen(out) < size);
        assert_null(strstr(out, "hunter"));
    }
    char out[8];
    url_redact(NULL, out, sizeof out);
    assert_string_equal(out, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cases),
        cmocka_unit_test(test_truncation_hides),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
