/*
 * CRC-32 (IEEE 802.3: reflected polynomial 0xEDB88320, initial value and final XOR 0xFFFFFFFF),
 * the same checksum as zlib.crc32() and binascii.crc32() on the host.
 */
#ifndef HB_CRC32_H
#define HB_CRC32_H

#include <stddef.h>
#include <stdint.h>

#define HB_CRC32_INIT 0xFFFFFFFFu

/* Feeds len bytes into a running CRC state (start with HB_CRC32_INIT). */
uint32_t hb_crc32_update(uint32_t state, const uint8_t *data, size_t len);

/* Turns a running state into the final CRC-32 value. */
uint32_t hb_crc32_final(uint32_t state);

/* CRC-32 of one buffer. */
uint32_t hb_crc32(const uint8_t *data, size_t len);

#endif
