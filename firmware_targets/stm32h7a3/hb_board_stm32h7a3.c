/*
 * NUCLEO-H7A3ZI-Q (MB1363, user manual UM2408) with the STM32H7A3ZI-Q (reference manual RM0455).
 *
 * Power: the "-Q" board feeds the core from the on-chip SMPS ("direct SMPS supply"). The
 * supply configuration in PWR_CR3 can be written once per power-on and must match the board:
 * a wrong one can leave the chip unreachable until it is connected under reset.
 * Clock: the core resets on HSI at 64 MHz. PLL1: HSI / M=16 = 4 MHz x N=140 = 560 MHz VCO
 * (wide range), / P=2 = 280 MHz CPU and AXI clock (HPRE /1), APB buses /2 = 140 MHz, as the
 * catalog clock. 280 MHz needs voltage scale VOS0 (reached through VOS1) and 6 flash wait
 * states.
 * Caches: instruction and data caches on (no DMA shares memory with the CPU here).
 * Serial: the STLINK-V3E virtual COM port is USART3 on PD8 (TX) / PD9 (RX), alternate function
 * 7 (UM2408); USART3's kernel clock is PCLK1 (140 MHz) after reset.
 *
 * NOT VERIFIED ON HARDWARE (built and checked with the ELF reader only; docs/hardware.md).
 */
#include <stdint.h>

#include "hb_stm32.h"

#define PWR_BASE 0x58024800u
#define PWR_CSR1 HB_REG32(PWR_BASE + 0x04u)
#define PWR_CR3 HB_REG32(PWR_BASE + 0x0Cu)
#define PWR_SRDCR HB_REG32(PWR_BASE + 0x18u)
#define PWR_CR3_SUPPLY_MASK 0x3Fu /* SMPSLEVEL, SMPSEXTHP, SMPSEN, LDOEN, BYPASS */
#define PWR_CR3_SMPSEN (1u << 2)
#define PWR_CSR1_ACTVOSRDY (1u << 13)
#define PWR_SRDCR_VOS_MASK (3u << 14)
#define PWR_SRDCR_VOS1 (2u << 14)
#define PWR_SRDCR_VOS0 (3u << 14) /* encoded the other way round than on the H743 */
#define PWR_SRDCR_VOSRDY (1u << 13)

#define RCC_BASE 0x58024400u
#define RCC_CR HB_REG32(RCC_BASE + 0x00u)
#define RCC_CFGR HB_REG32(RCC_BASE + 0x10u)
#define RCC_CDCFGR1 HB_REG32(RCC_BASE + 0x18u)
#define RCC_CDCFGR2 HB_REG32(RCC_BASE + 0x1Cu)
#define RCC_SRDCFGR HB_REG32(RCC_BASE + 0x20u)
#define RCC_PLLCKSELR HB_REG32(RCC_BASE + 0x28u)
#define RCC_PLLCFGR HB_REG32(RCC_BASE + 0x2Cu)
#define RCC_PLL1DIVR HB_REG32(RCC_BASE + 0x30u)
/* The H7A3 has a single core: its enable registers sit where the dual-core H7's per-core
 * copies (RCC_C1_xxx) are, 0x60 above the H743's shared ones (order of RCC_TypeDef). */
#define RCC_AHB4ENR HB_REG32(RCC_BASE + 0x140u)
#define RCC_APB1LENR HB_REG32(RCC_BASE + 0x148u)

#define RCC_CR_PLL1ON (1u << 24)
#define RCC_CR_PLL1RDY (1u << 25)
#define RCC_CFGR_SW_MASK 0x7u
#define RCC_CFGR_SW_PLL1 0x3u
#define RCC_CFGR_SWS_MASK (0x7u << 3)
#define RCC_CFGR_SWS_PLL1 (0x3u << 3)
#define RCC_PPRE_DIV2 0x4u /* APB prescaler code for /2 */
#define RCC_PLLCKSELR_SRC_MASK 0x3u /* 00: HSI */
#define RCC_PLLCKSELR_DIVM1_MASK (0x3Fu << 4)
#define RCC_PLLCKSELR_DIVM1(m) ((m) << 4)
#define RCC_PLLCFGR_PLL1_MASK 0xFu /* PLL1FRACEN, PLL1VCOSEL, PLL1RGE */
#define RCC_PLLCFGR_PLL1RGE_4_8MHZ (2u << 2)
#define RCC_PLLCFGR_DIVP1EN (1u << 16)
#define RCC_PLL1DIVR_VALUE(n, p, q, r) (((n)-1u) | (((p)-1u) << 9) | (((q)-1u) << 16) | (((r)-1u) << 24))
#define RCC_AHB4ENR_GPIOD (1u << 3)
#define RCC_AHB4ENR_GPIOG (1u << 6)
#define RCC_APB1LENR_USART3 (1u << 18)

#define FLASH_ACR HB_REG32(0x52002000u)
#define FLASH_ACR_LATENCY_MASK 0xFu
#define FLASH_LATENCY_280MHZ 6u

#define SCB_CCR HB_REG32(0xE000ED14u)
#define SCB_CCSIDR HB_REG32(0xE000ED80u)
#define SCB_CSSELR HB_REG32(0xE000ED84u)
#define SCB_ICIALLU HB_REG32(0xE000EF50u)
#define SCB_DCISW HB_REG32(0xE000EF60u)
#define SCB_CCR_DC (1u << 16)
#define SCB_CCR_IC (1u << 17)

#define GPIOD_BASE 0x58020C00u

#if HB_CPU_CLOCK_HZ != 280000000u
#error "this board file sets the core clock to 280 MHz: HB_CPU_CLOCK_HZ must be 280000000u"
#endif

static void enable_caches(void)
{
    uint32_t ccsidr;
    uint32_t sets;
    __asm volatile("dsb\n\tisb" ::: "memory");
    SCB_ICIALLU = 0u;
    __asm volatile("dsb\n\tisb" ::: "memory");
    SCB_CCR |= SCB_CCR_IC;

    /* Invalidate the whole L1 data cache by set and way, then turn it on. */
    SCB_CSSELR = 0u;
    __asm volatile("dsb" ::: "memory");
    ccsidr = SCB_CCSIDR;
    sets = (ccsidr >> 13) & 0x7FFFu;
    do {
        uint32_t ways = (ccsidr >> 3) & 0x3FFu;
        do {
            SCB_DCISW = ((sets << 5) & (0x1FFu << 5)) | ((ways << 30) & (3u << 30));
        } while (ways-- != 0u);
    } while (sets-- != 0u);
    __asm volatile("dsb" ::: "memory");
    SCB_CCR |= SCB_CCR_DC;
    __asm volatile("dsb\n\tisb" ::: "memory");
}

void hb_board_init(void)
{
    PWR_CR3 = (PWR_CR3 & ~PWR_CR3_SUPPLY_MASK) | PWR_CR3_SMPSEN;
    hb_wait_bits(&PWR_CSR1, PWR_CSR1_ACTVOSRDY, PWR_CSR1_ACTVOSRDY);
    /* Scale 0 can only be entered from scale 1 (the reset scale is 3). */
    PWR_SRDCR = (PWR_SRDCR & ~PWR_SRDCR_VOS_MASK) | PWR_SRDCR_VOS1;
    hb_wait_bits(&PWR_SRDCR, PWR_SRDCR_VOSRDY, PWR_SRDCR_VOSRDY);
    PWR_SRDCR = (PWR_SRDCR & ~PWR_SRDCR_VOS_MASK) | PWR_SRDCR_VOS0;
    hb_wait_bits(&PWR_SRDCR, PWR_SRDCR_VOSRDY, PWR_SRDCR_VOSRDY);

    FLASH_ACR = (FLASH_ACR & ~FLASH_ACR_LATENCY_MASK) | FLASH_LATENCY_280MHZ;
    hb_wait_bits(&FLASH_ACR, FLASH_ACR_LATENCY_MASK, FLASH_LATENCY_280MHZ);

    RCC_PLLCKSELR = (RCC_PLLCKSELR & ~(RCC_PLLCKSELR_SRC_MASK | RCC_PLLCKSELR_DIVM1_MASK))
                    | RCC_PLLCKSELR_DIVM1(16u);
    RCC_PLLCFGR = (RCC_PLLCFGR & ~RCC_PLLCFGR_PLL1_MASK) | RCC_PLLCFGR_PLL1RGE_4_8MHZ
                  | RCC_PLLCFGR_DIVP1EN;
    RCC_PLL1DIVR = RCC_PLL1DIVR_VALUE(140u, 2u, 4u, 2u);
    RCC_CR |= RCC_CR_PLL1ON;
    hb_wait_bits(&RCC_CR, RCC_CR_PLL1RDY, RCC_CR_PLL1RDY);

    /* Bus prescalers before the switch: CPU and AXI /1, every APB /2 (140 MHz maximum). */
    RCC_CDCFGR1 = (RCC_CDCFGR1 & ~((0xFu << 8) | (0x7u << 4) | 0xFu)) | (RCC_PPRE_DIV2 << 4);
    RCC_CDCFGR2 = (RCC_CDCFGR2 & ~((0x7u << 8) | (0x7u << 4))) | (RCC_PPRE_DIV2 << 8)
                  | (RCC_PPRE_DIV2 << 4);
    RCC_SRDCFGR = (RCC_SRDCFGR & ~(0x7u << 4)) | (RCC_PPRE_DIV2 << 4);
    RCC_CFGR = (RCC_CFGR & ~RCC_CFGR_SW_MASK) | RCC_CFGR_SW_PLL1;
    hb_wait_bits(&RCC_CFGR, RCC_CFGR_SWS_MASK, RCC_CFGR_SWS_PLL1);

    enable_caches();

    RCC_AHB4ENR |= RCC_AHB4ENR_GPIOD | RCC_AHB4ENR_GPIOG;
    RCC_APB1LENR |= RCC_APB1LENR_USART3;
    (void)RCC_APB1LENR;
}

void hb_board_uart_pins(void)
{
    hb_gpio_alternate(GPIOD_BASE, 8u, 7u); /* USART3_TX */
    hb_gpio_alternate(GPIOD_BASE, 9u, 7u); /* USART3_RX */
}
