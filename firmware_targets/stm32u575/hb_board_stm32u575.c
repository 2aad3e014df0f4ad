/*
 * NUCLEO-U575ZI-Q (MB1549, user manual UM2861) with the STM32U575ZI-Q (reference manual RM0456).
 *
 * Clock: the core resets on MSIS at 4 MHz in voltage range 4. PLL1: MSIS 4 MHz / M=1 x N=80 =
 * 320 MHz VCO, / R=2 = 160 MHz SYSCLK = HCLK = PCLK1/2/3, the catalog clock. 160 MHz needs
 * voltage range 1, the EPOD booster (above 55 MHz; its clock is the PLL1 input, 4 MHz, within
 * its 4..16 MHz range with PLL1MBOOST /1) and 4 flash wait states; the switch to PLL1 goes
 * through HCLK/2 for 1 us. The instruction cache (ICACHE) is turned on.
 * Serial: the STLINK-V3E virtual COM port is USART1 on PA9 (TX) / PA10 (RX), alternate
 * function 7 (UM2861); USART1's kernel clock is PCLK2 after reset.
 *
 * NOT VERIFIED ON HARDWARE (built and checked with the ELF reader only; docs/hardware.md).
 */
#include <stdint.h>

#include "hb_stm32.h"

#define RCC_BASE 0x46020C00u
#define RCC_CR HB_REG32(RCC_BASE + 0x00u)
#define RCC_CFGR1 HB_REG32(RCC_BASE + 0x1Cu)
#define RCC_CFGR2 HB_REG32(RCC_BASE + 0x20u)
#define RCC_CFGR3 HB_REG32(RCC_BASE + 0x24u)
#define RCC_PLL1CFGR HB_REG32(RCC_BASE + 0x28u)
#define RCC_PLL1DIVR HB_REG32(RCC_BASE + 0x34u)
#define RCC_AHB2ENR1 HB_REG32(RCC_BASE + 0x8Cu)
#define RCC_AHB3ENR HB_REG32(RCC_BASE + 0x94u)
#define RCC_APB2ENR HB_REG32(RCC_BASE + 0xA4u)
#define RCC_CCIPR1 HB_REG32(RCC_BASE + 0xE0u)

#define RCC_CR_PLL1ON (1u << 24)
#define RCC_CR_PLL1RDY (1u << 25)
#define RCC_CFGR1_SW_MASK 0x3u
#define RCC_CFGR1_SW_PLL1 0x3u
#define RCC_CFGR1_SWS_MASK (0x3u << 2)
#define RCC_CFGR1_SWS_PLL1 (0x3u << 2)
#define RCC_CFGR2_HPRE_DIV2 0x8u
#define RCC_PLL1CFGR_SRC_MSIS 0x1u
#define RCC_PLL1CFGR_RGE_4_8MHZ (0u << 2)
#define RCC_PLL1CFGR_M(m) (((m)-1u) << 8)
#define RCC_PLL1CFGR_MBOOST_DIV1 (0u << 12)
#define RCC_PLL1CFGR_REN (1u << 18)
#define RCC_PLL1DIVR_VALUE(n, p, q, r) (((n)-1u) | (((p)-1u) << 9) | (((q)-1u) << 16) | (((r)-1u) << 24))
#define RCC_AHB2ENR1_GPIOA (1u << 0)
#define RCC_AHB2ENR1_GPIOF (1u << 5)
#define RCC_AHB3ENR_PWR (1u << 2)
#define RCC_APB2ENR_USART1 (1u << 14)
#define RCC_CCIPR1_USART1SEL_MASK 0x3u /* 00: PCLK2 */

#define PWR_VOSR HB_REG32(0x46020800u + 0x0Cu)
#define PWR_VOSR_BOOSTRDY (1u << 14)
#define PWR_VOSR_VOSRDY (1u << 15)
#define PWR_VOSR_VOS_MASK (3u << 16)
#define PWR_VOSR_VOS_RANGE1 (3u << 16)
#define PWR_VOSR_BOOSTEN (1u << 18)

#define FLASH_ACR HB_REG32(0x40022000u)
#define FLASH_ACR_LATENCY_MASK 0xFu
#define FLASH_ACR_PRFTEN (1u << 8)
#define FLASH_LATENCY_160MHZ 4u

#define ICACHE_CR HB_REG32(0x40030400u)
#define ICACHE_CR_EN (1u << 0)

#define GPIOA_BASE 0x42020000u

#if HB_CPU_CLOCK_HZ != 160000000u
#error "this board file sets the core clock to 160 MHz: HB_CPU_CLOCK_HZ must be 160000000u"
#endif

void hb_board_init(void)
{
    RCC_AHB3ENR |= RCC_AHB3ENR_PWR;
    (void)RCC_AHB3ENR;
    PWR_VOSR = (PWR_VOSR & ~PWR_VOSR_VOS_MASK) | PWR_VOSR_VOS_RANGE1;
    hb_wait_bits(&PWR_VOSR, PWR_VOSR_VOSRDY, PWR_VOSR_VOSRDY);

    /* The booster takes its clock from the PLL1 source: configure it before BOOSTEN. */
    RCC_PLL1CFGR = RCC_PLL1CFGR_SRC_MSIS | RCC_PLL1CFGR_RGE_4_8MHZ | RCC_PLL1CFGR_M(1u)
                   | RCC_PLL1CFGR_MBOOST_DIV1 | RCC_PLL1CFGR_REN;
    PWR_VOSR |= PWR_VOSR_BOOSTEN;
    hb_wait_bits(&PWR_VOSR, PWR_VOSR_BOOSTRDY, PWR_VOSR_BOOSTRDY);

    RCC_PLL1DIVR = RCC_PLL1DIVR_VALUE(80u, 2u, 2u, 2u);
    RCC_CR |= RCC_CR_PLL1ON;
    hb_wait_bits(&RCC_CR, RCC_CR_PLL1RDY, RCC_CR_PLL1RDY);

    FLASH_ACR = (FLASH_ACR & ~FLASH_ACR_LATENCY_MASK) | FLASH_LATENCY_160MHZ | FLASH_ACR_PRFTEN;
    hb_wait_bits(&FLASH_ACR, FLASH_ACR_LATENCY_MASK, FLASH_LATENCY_160MHZ);
    /* Onto PLL1 through HCLK/2 for at least 1 us, as ST's HAL does above 80 MHz, so that
     * the current drawn does not jump in one step; then every bus at /1. */
    RCC_CFGR2 = RCC_CFGR2_HPRE_DIV2; /* AHB /2, APB1 and APB2 /1 */
    RCC_CFGR3 = 0u;                  /* APB3 /1 */
    RCC_CFGR1 = (RCC_CFGR1 & ~RCC_CFGR1_SW_MASK) | RCC_CFGR1_SW_PLL1;
    hb_wait_bits(&RCC_CFGR1, RCC_CFGR1_SWS_MASK, RCC_CFGR1_SWS_PLL1);
    for (volatile uint32_t i = 0; i < 80u; ++i) {
    }
    RCC_CFGR2 = 0u;

    ICACHE_CR |= ICACHE_CR_EN;

    RCC_AHB2ENR1 |= RCC_AHB2ENR1_GPIOA | RCC_AHB2ENR1_GPIOF;
    RCC_CCIPR1 &= ~RCC_CCIPR1_USART1SEL_MASK;
    RCC_APB2ENR |= RCC_APB2ENR_USART1;
    (void)RCC_APB2ENR;
}

void hb_board_uart_pins(void)
{
    hb_gpio_alternate(GPIOA_BASE, 9u, 7u);  /* USART1_TX */
    hb_gpio_alternate(GPIOA_BASE, 10u, 7u); /* USART1_RX */
}
