/*
 * NUCLEO-L4R5ZI (MB1312, user manual UM2179) with the STM32L4R5ZI (reference manual RM0432).
 *
 * Clock: the core resets on MSI at 4 MHz. PLL: MSI 4 MHz / M=1 x N=60 = 240 MHz VCO, / R=2 =
 * 120 MHz SYSCLK = HCLK = PCLK1, the catalog clock of the board and the MLPerf Tiny reference
 * set-up. Above 80 MHz the regulator must be in Range 1 boost mode and flash needs 5 wait
 * states; the switch to >80 MHz goes through HCLK/2 for 1 us (RM0432, "Range 1 boost mode").
 * Serial: the ST-LINK virtual COM port is LPUART1 on PG7 (TX) / PG8 (RX), alternate function
 * 8 (UM2179). Port G pins 2..15 are powered by VDDIO2, which must be declared valid first.
 *
 * NOT VERIFIED ON HARDWARE (built and checked with the ELF reader only; docs/hardware.md).
 */
#include <stdint.h>

#include "hb_stm32.h"

#define RCC_BASE 0x40021000u
#define RCC_CR HB_REG32(RCC_BASE + 0x00u)
#define RCC_CFGR HB_REG32(RCC_BASE + 0x08u)
#define RCC_PLLCFGR HB_REG32(RCC_BASE + 0x0Cu)
#define RCC_AHB2ENR HB_REG32(RCC_BASE + 0x4Cu)
#define RCC_APB1ENR1 HB_REG32(RCC_BASE + 0x58u)
#define RCC_APB1ENR2 HB_REG32(RCC_BASE + 0x5Cu)
#define RCC_CCIPR HB_REG32(RCC_BASE + 0x88u)

#define RCC_CR_PLLON (1u << 24)
#define RCC_CR_PLLRDY (1u << 25)
#define RCC_CFGR_SW_MASK 0x3u
#define RCC_CFGR_SW_PLL 0x3u
#define RCC_CFGR_SWS_MASK (0x3u << 2)
#define RCC_CFGR_SWS_PLL (0x3u << 2)
#define RCC_CFGR_HPRE_MASK (0xFu << 4)
#define RCC_CFGR_HPRE_DIV2 (0x8u << 4)
#define RCC_PLLCFGR_SRC_MSI 0x1u
#define RCC_PLLCFGR_M(m) (((m)-1u) << 4)
#define RCC_PLLCFGR_N(n) ((n) << 8)
#define RCC_PLLCFGR_REN (1u << 24)
#define RCC_PLLCFGR_R_DIV2 (0u << 25)
#define RCC_AHB2ENR_GPIOF (1u << 5)
#define RCC_AHB2ENR_GPIOG (1u << 6)
#define RCC_APB1ENR1_PWR (1u << 28)
#define RCC_APB1ENR2_LPUART1 (1u << 0)
#define RCC_CCIPR_LPUART1SEL_MASK (0x3u << 10) /* 00: PCLK1 */

#define PWR_BASE 0x40007000u
#define PWR_CR2 HB_REG32(PWR_BASE + 0x04u)
#define PWR_CR5 HB_REG32(PWR_BASE + 0x80u)
#define PWR_CR2_IOSV (1u << 9)
#define PWR_CR5_R1MODE (1u << 8) /* 0: Range 1 boost mode */

#define FLASH_ACR HB_REG32(0x40022000u)
#define FLASH_ACR_LATENCY_MASK 0xFu
#define FLASH_ACR_PRFTEN (1u << 8)
#define FLASH_ACR_ICEN (1u << 9)
#define FLASH_ACR_DCEN (1u << 10)
#define FLASH_LATENCY_120MHZ 5u

#define GPIOG_BASE 0x48001800u

#if HB_CPU_CLOCK_HZ != 120000000u
#error "this board file sets the core clock to 120 MHz: HB_CPU_CLOCK_HZ must be 120000000u"
#endif

void hb_board_init(void)
{
    RCC_APB1ENR1 |= RCC_APB1ENR1_PWR;
    (void)RCC_APB1ENR1; /* read back: the enable takes effect before PWR is touched */
    PWR_CR5 &= ~PWR_CR5_R1MODE;

    FLASH_ACR = (FLASH_ACR & ~FLASH_ACR_LATENCY_MASK) | FLASH_LATENCY_120MHZ | FLASH_ACR_PRFTEN
                | FLASH_ACR_ICEN | FLASH_ACR_DCEN;
    hb_wait_bits(&FLASH_ACR, FLASH_ACR_LATENCY_MASK, FLASH_LATENCY_120MHZ);

    RCC_PLLCFGR = RCC_PLLCFGR_SRC_MSI | RCC_PLLCFGR_M(1u) | RCC_PLLCFGR_N(60u) | RCC_PLLCFGR_REN
                  | RCC_PLLCFGR_R_DIV2;
    RCC_CR |= RCC_CR_PLLON;
    hb_wait_bits(&RCC_CR, RCC_CR_PLLRDY, RCC_CR_PLLRDY);

    RCC_CFGR = (RCC_CFGR & ~RCC_CFGR_HPRE_MASK) | RCC_CFGR_HPRE_DIV2;
    RCC_CFGR = (RCC_CFGR & ~RCC_CFGR_SW_MASK) | RCC_CFGR_SW_PLL;
    hb_wait_bits(&RCC_CFGR, RCC_CFGR_SWS_MASK, RCC_CFGR_SWS_PLL);
    /* At least 1 us at HCLK = 60 MHz before the full 120 MHz (4 cycles per loop at most). */
    for (volatile uint32_t i = 0; i < 60u; ++i) {
    }
    RCC_CFGR &= ~RCC_CFGR_HPRE_MASK;

    PWR_CR2 |= PWR_CR2_IOSV;
    RCC_AHB2ENR |= RCC_AHB2ENR_GPIOF | RCC_AHB2ENR_GPIOG;
    RCC_CCIPR &= ~RCC_CCIPR_LPUART1SEL_MASK;
    RCC_APB1ENR2 |= RCC_APB1ENR2_LPUART1;
    (void)RCC_APB1ENR2;
}

void hb_board_uart_pins(void)
{
    hb_gpio_alternate(GPIOG_BASE, 7u, 8u); /* LPUART1_TX */
    hb_gpio_alternate(GPIOG_BASE, 8u, 8u); /* LPUART1_RX */
}
