/*
 * Host HAL: the firmware runs as a process on the build machine. The serial line is
 * stdin/stdout (the deploy stage attaches both to a pty), and the timer is CLOCK_MONOTONIC in
 * nanoseconds, named "clock_monotonic" so that results are labelled host-clock, not device time.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "hb_hal.h"

static unsigned char s_rx[256];
static size_t s_rx_len;
static size_t s_rx_pos;

void hb_hal_init(void)
{
}

int hb_hal_getc(void)
{
    while (s_rx_pos == s_rx_len) {
        ssize_t got = read(STDIN_FILENO, s_rx, sizeof s_rx);
        if (got > 0) {
            s_rx_len = (size_t)got;
            s_rx_pos = 0;
        } else if (got < 0 && errno == EINTR) {
            continue;
        } else {
            /* End of file or a closed pty: nobody can talk to us any more. */
            exit(0);
        }
    }
    return s_rx[s_rx_pos++];
}

void hb_hal_write(const uint8_t *buf, size_t len)
{
    while (len > 0) {
        ssize_t put = write(STDOUT_FILENO, buf, len);
        if (put > 0) {
            buf += put;
            len -= (size_t)put;
        } else if (put < 0 && errno == EINTR) {
            continue;
        } else {
            exit(0);
        }
    }
}

uint64_t hb_hal_ticks(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec;
}

uint32_t hb_hal_timer_hz(void)
{
    return 1000000000u;
}

const char *hb_hal_timer_name(void)
{
    return "clock_monotonic";
}

/*
 * A host has no GPIO, so no probe can measure its energy. For tests of the energy path, the
 * environment variable HB_HOST_TIMESTAMP_PIN may name a file that stands in for the wire to
 * a probe's input: each pulse appends the CLOCK_MONOTONIC time of its edge in nanoseconds, one
 * line per pulse. Without it (the normal case) a pulse does nothing.
 */
void hb_hal_timestamp_pulse(void)
{
    static int pin_fd = -2; /* -2: not looked up yet, -1: no pin */
    char line[24];
    size_t length = 0;
    uint64_t now;
    char digits[20];
    int n = 0;

    if (pin_fd == -2) {
        const char *path = getenv("HB_HOST_TIMESTAMP_PIN");
        pin_fd = (path != NULL && path[0] != '\0') ? open(path, O_WRONLY | O_CREAT | O_APPEND, 0644) : -1;
    }
    if (pin_fd < 0) {
        return;
    }
    now = hb_hal_ticks();
    do {
        digits[n++] = (char)('0' + (int)(now % 10u));
        now /= 10u;
    } while (now != 0u);
    while (n > 0) {
        line[length++] = digits[--n];
    }
    line[length++] = '\n';
    /* One write per line with O_APPEND: a reader never sees half a line. */
    if (write(pin_fd, line, length) < 0) {
        pin_fd = -1;
    }
}
