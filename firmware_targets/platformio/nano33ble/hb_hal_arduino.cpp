/*
 * hb_hal.h for the Arduino Nano 33 BLE (Sense) on the Arduino Mbed OS core, as a sketch: the
 * core provides main(), which calls setup() once and loop() forever; loop() never returns
 * because hb_dut_run() serves the protocol forever.
 *
 * Serial line: the nRF52840's native USB as a CDC serial port (Serial). Baud rate means nothing
 *   on USB CDC; HB_UART_BAUD is passed to Serial.begin() for form's sake.
 * Timer: DWT->CYCCNT, one tick per core cycle at SystemCoreClock (64 MHz), named "dwt-cyccnt"
 *   (latency_source device-timer). The 32-bit counter wraps every 67 s; a 10 s Ticker
 *   interrupt reads it so that no wrap goes unseen (../../dwt_common/hb_cycle_extend.h).
 * Timestamp pin (energy mode): Arduino D7, idle high, pulled low for HB_TIMESTAMP_PULSE_US,
 *   as MLPerf Tiny's firmware for this board does.
 *
 * NOT VERIFIED ON HARDWARE (docs/hardware.md).
 */
#include <Arduino.h>
#include <mbed.h>

extern "C" {
#include "hb_cycle_extend.h"
#include "hb_dut.h"
#include "hb_hal.h"
}

#ifndef HB_UART_BAUD
#define HB_UART_BAUD 115200
#endif
#ifndef HB_TIMESTAMP_ARDUINO_PIN
#define HB_TIMESTAMP_ARDUINO_PIN D7
#endif
#ifndef HB_TIMESTAMP_PULSE_US
#define HB_TIMESTAMP_PULSE_US 100
#endif

static hb_cycle_extender s_cycles;
static mbed::Ticker s_wrap_watch;

extern "C" uint64_t hb_hal_ticks(void)
{
    /* Interrupts off: the Ticker callback updates the same state. */
    uint32_t primask = __get_PRIMASK();
    __disable_irq();
    uint64_t ticks = hb_cycle_extend(&s_cycles, DWT->CYCCNT);
    __set_PRIMASK(primask);
    return ticks;
}

static void watch_wraps(void)
{
    (void)hb_hal_ticks();
}

extern "C" void hb_hal_init(void)
{
    pinMode(HB_TIMESTAMP_ARDUINO_PIN, OUTPUT);
    digitalWrite(HB_TIMESTAMP_ARDUINO_PIN, HIGH); /* MLPerf Tiny times the falling edge */

    CoreDebug->DEMCR |= CoreDebug_DEMCR_TRCENA_Msk;
    DWT->CYCCNT = 0u;
    DWT->CTRL |= DWT_CTRL_CYCCNTENA_Msk;
    s_wrap_watch.attach(&watch_wraps, std::chrono::seconds(10));

    Serial.begin(HB_UART_BAUD);
    while (!Serial) {
        /* USB CDC: wait until the host opens the port, or the boot banner is lost. */
    }
}

extern "C" int hb_hal_getc(void)
{
    int c;
    while ((c = Serial.read()) < 0) {
    }
    return c;
}

extern "C" void hb_hal_write(const uint8_t *buf, size_t len)
{
    Serial.write(buf, len);
}

extern "C" uint32_t hb_hal_timer_hz(void)
{
    return SystemCoreClock;
}

extern "C" const char *hb_hal_timer_name(void)
{
    return "dwt-cyccnt";
}

extern "C" void hb_hal_timestamp_pulse(void)
{
    digitalWrite(HB_TIMESTAMP_ARDUINO_PIN, LOW);
    delayMicroseconds(HB_TIMESTAMP_PULSE_US);
    digitalWrite(HB_TIMESTAMP_ARDUINO_PIN, HIGH);
}

void setup()
{
    hb_hal_init();
}

void loop()
{
    hb_dut_run();
}
