/*
 * Host HAL: the firmware runs as a process on the build machine. The serial line is
 * stdin/stdout (the deploy stage attaches both to a pty), and the timer is CLOCK_MONOTONIC in
 * nanoseconds, named "clock_monotonic" so that results are labelled host-clock, not device time.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
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

void hb_hal_timestamp_pulse(void)
{
    /* No timestamp pin on a host: energy is not measured here. */
}
