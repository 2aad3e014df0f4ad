/*
 * The portable DUT core. See hb_dut.h for the build options and docs/protocol.md for the protocol.
 *
 * Plain MLPerf Tiny commands behave as the reference firmware (mlcommons/tiny benchmark/api)
 * does, with three deliberate differences, all documented in docs/protocol.md:
 *   - every inference re-copies the loaded input into the arena, so "infer N W" with N+W > 1
 *     never runs on an input that the previous inference clobbered;
 *   - over-long commands, "db" data beyond a full buffer and "results" before any inference
 *     get an e-[...] reply instead of silent truncation or stale data;
 *   - "infer" refuses to run until the whole input has been loaded.
 *
 * HB_DUT_PLAIN_MLPERF=1 builds the plain MLPerf Tiny mode: firmware that behaves as the
 * reference does where a host can tell, so that hilbench can test its handling of third-party
 * firmware on its own: no hb extensions (no m-hb- lines, "hb" is an unknown command), results
 * printed with a truncating %0.3f (as many embedded printf implementations do), and the input
 * copied into the arena once per "infer" command, so that a model whose arena reuses the
 * input's bytes runs its second and later inferences on a clobbered input.
 *
 * In both modes, "db" and "results" follow the MLPerf Tiny reference firmware of the model's id
 * (HB_MODEL_DB_FORMAT, HB_MODEL_RESULTS below), so that the benchmark's runner can drive it.
 */
#include "hb_dut.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "hb_crc32.h"
#include "hb_hal.h"
#include "hb_model_api.h"
#include "hb_model_config.h"

#ifndef HB_DUT_ENERGY_MODE
#define HB_DUT_ENERGY_MODE 0
#endif
#ifndef HB_DUT_CMD_SIZE
#define HB_DUT_CMD_SIZE 80
#endif
#ifndef HB_DUT_MAX_TICKS
#define HB_DUT_MAX_TICKS 128
#endif
#ifndef HB_DUT_PLAIN_MLPERF
#define HB_DUT_PLAIN_MLPERF 0
#endif
#ifndef HB_DUT_TARGET_NAME
#define HB_DUT_TARGET_NAME "unspecified"
#endif

/* What "db" takes and "results" prints: the generated hb_model_config.h says, per MLPerf Tiny
 * model id, as that id's reference firmware does (hilbench/mlperf_wire.py has the table).
 * The binary loads ("hb bulk", "hb file") and "hb raw" always carry the tensors. */
#define HB_DB_INPUT_TENSOR 0
#define HB_DB_UINT8_PIXELS 1     /* int8 input = pixel - 128 (vww01, ic01) */
#define HB_DB_FLOAT32_FEATURES 2 /* int8 input = round(x / scale) + zero point (ad01) */
#define HB_RESULTS_OUTPUT_TENSOR 0
#define HB_RESULTS_ANOMALY_SCORE 1 /* mean squared error of the output against the features */
#ifndef HB_MODEL_DB_FORMAT
#define HB_MODEL_DB_FORMAT HB_DB_INPUT_TENSOR
#endif
#ifndef HB_MODEL_RESULTS
#define HB_MODEL_RESULTS HB_RESULTS_OUTPUT_TENSOR
#endif
#ifndef HB_MODEL_RESULTS_TRAILING_COMMA
#define HB_MODEL_RESULTS_TRAILING_COMMA 0
#endif
#if HB_MODEL_RESULTS == HB_RESULTS_ANOMALY_SCORE && HB_MODEL_OUTPUT_BYTES != HB_MODEL_INPUT_BYTES
#error "an anomaly score compares an int8 output with the input element by element: sizes differ"
#endif
#if HB_MODEL_DB_FORMAT == HB_DB_FLOAT32_FEATURES
#define HB_DUT_DB_BYTES (HB_MODEL_INPUT_BYTES * 4u)
#else
#define HB_DUT_DB_BYTES HB_MODEL_INPUT_BYTES
#endif

/* The profile string the MLPerf Tiny runner expects from a performance-mode DUT. */
#define HB_DUT_FW_VERSION "ULPMark for tinyML Firmware V0.0.1"
#define HB_DUT_DEFAULT_WARMUP 10u /* "infer N" without W, as the reference firmware */
#define HB_DUT_RAW_BYTES_PER_LINE 32u
#define HB_DUT_TICKS_PER_LINE 16u
#define HB_DUT_MAX_TOKENS 4

#if defined(__GNUC__) || defined(__clang__)
#define HB_ALIGN16 __attribute__((aligned(16)))
#else
#define HB_ALIGN16
#endif

/* A zero-sized array is not C99: keep at least one byte. */
#define HB_AT_LEAST_ONE(n) ((n) > 0 ? (n) : 1)

static uint8_t s_arena[HB_AT_LEAST_ONE(HB_MODEL_ARENA_BYTES)] HB_ALIGN16;
/* The input as loaded by "db" or "hb bulk": all input tensors back to back, in model order. */
static uint8_t s_input[HB_AT_LEAST_ONE(HB_MODEL_INPUT_BYTES)];
static uint32_t s_input_expected; /* bytes announced by "db load N", "hb bulk N" or "hb file N" */
static uint32_t s_input_loaded;   /* bytes received so far */
static int s_input_ready;         /* s_input holds a whole input */
#if HB_MODEL_DB_FORMAT == HB_DB_INPUT_TENSOR
#define s_db s_input /* "db" loads the tensor itself */
#else
/* What "db" received, before it becomes the tensor in s_input. */
static uint8_t s_db[HB_AT_LEAST_ONE(HB_DUT_DB_BYTES)] HB_ALIGN16;
#endif
#if HB_MODEL_RESULTS == HB_RESULTS_ANOMALY_SCORE
/* The real-valued input the score compares the output with: the features "db" received, or
 * the dequantized tensor of a binary load. */
static float s_input_real[HB_AT_LEAST_ONE(HB_MODEL_INPUT_BYTES)];
#endif
static int s_have_results;        /* the arena holds the outputs of a finished inference */
static uint64_t s_ticks[HB_DUT_MAX_TICKS];
static uint32_t s_ticks_count;  /* timed inferences in the last "infer" */
static uint32_t s_ticks_stored; /* min(s_ticks_count, HB_DUT_MAX_TICKS) */
static uint64_t s_window_ticks; /* ticks between the two timestamps around the timed inferences */

/* ---------------------------------------------------------------- output formatting */

static char s_out[128];
static size_t s_out_len;

static void out_flush(void)
{
    if (s_out_len > 0) {
        hb_hal_write((const uint8_t *)s_out, s_out_len);
        s_out_len = 0;
    }
}

static void out_char(char c)
{
    if (s_out_len == sizeof(s_out)) {
        out_flush();
    }
    s_out[s_out_len++] = c;
}

static void out_str(const char *s)
{
    while (*s != '\0') {
        out_char(*s++);
    }
}

/* Ends a reply line and sends it, so the host sees whole lines as soon as they are ready. */
static void out_eol(void)
{
    out_str("\r\n");
    out_flush();
}

static void out_line(const char *s)
{
    out_str(s);
    out_eol();
}

static void out_u64(uint64_t value)
{
    char digits[20];
    int n = 0;
    do {
        digits[n++] = (char)('0' + (int)(value % 10u));
        value /= 10u;
    } while (value != 0u);
    while (n > 0) {
        out_char(digits[--n]);
    }
}

static void out_hex_byte(uint8_t value)
{
    static const char k_hex[] = "0123456789abcdef";
    out_char(k_hex[value >> 4]);
    out_char(k_hex[value & 0x0Fu]);
}

static void out_hex32(uint32_t value)
{
    int shift;
    for (shift = 24; shift >= 0; shift -= 8) {
        out_hex_byte((uint8_t)(value >> shift));
    }
}

/*
 * Prints value as printf("%0.3f") does with glibc: the product value * 1000 is exact in double
 * (24-bit mantissa times a 10-bit constant), and exact halves round to even.
 */
static void out_float3(float value)
{
    double scaled = (double)value * 1000.0;
    uint64_t whole;
    double fraction;

    if (value != value) {
        out_str("nan");
        return;
    }
    if (scaled < 0.0) {
        out_char('-');
        scaled = -scaled;
    }
    if (scaled >= 1.8e19) { /* beyond uint64: not a value a quantized model can produce */
        out_str("inf");
        return;
    }
    whole = (uint64_t)scaled;
    fraction = scaled - (double)whole;
#if HB_DUT_PLAIN_MLPERF
    (void)fraction; /* truncated toward zero: 0.0039 prints as 0.003 */
#else
    if (fraction > 0.5 || (fraction == 0.5 && (whole & 1u) != 0u)) {
        whole += 1u;
    }
#endif
    out_u64(whole / 1000u);
    out_char('.');
    out_char((char)('0' + (int)((whole / 100u) % 10u)));
    out_char((char)('0' + (int)((whole / 10u) % 10u)));
    out_char((char)('0' + (int)(whole % 10u)));
}

static void out_error(const char *message)
{
    out_str("e-[");
    out_str(message);
    out_char(']');
    out_eol();
}

/* ---------------------------------------------------------------- timing */

static uint64_t ticks_to_us(uint64_t ticks)
{
    uint64_t hz = hb_hal_timer_hz();
    /* Split to avoid overflowing ticks * 1e6 with a fast timer. */
    return (ticks / hz) * 1000000u + ((ticks % hz) * 1000000u) / hz;
}

/* MLPerf Tiny th_timestamp(): print device time in performance mode, pulse the pin in energy
 * mode. Returns the device time in ticks, which 'hb ticks' reports with a checksum. */
static uint64_t timestamp(void)
{
    uint64_t now = hb_hal_ticks();
#if HB_DUT_ENERGY_MODE
    hb_hal_timestamp_pulse();
#else
    out_str("m-lap-us-");
    out_u64(ticks_to_us(now));
    out_eol();
#endif
    return now;
}

/* ---------------------------------------------------------------- model glue */

static uint32_t total_bytes(const hb_tensor_desc_t *tensors, uint32_t count)
{
    uint32_t total = 0;
    uint32_t i;
    for (i = 0; i < count; ++i) {
        total += tensors[i].bytes;
    }
    return total;
}

/* Copies the loaded input into the arena. Done before every inference (the model may reuse
 * the input's bytes for intermediate tensors), except in plain MLPerf mode, which copies once
 * per "infer" command as the reference's th_load_tensor() does. */
static void copy_input_to_arena(void)
{
    uint32_t offset = 0;
    uint32_t i;
    for (i = 0; i < hb_model_num_inputs; ++i) {
        memcpy(&s_arena[hb_model_inputs[i].arena_offset], &s_input[offset], hb_model_inputs[i].bytes);
        offset += hb_model_inputs[i].bytes;
    }
}

/* Runs one inference; returns the model's status and stores the invoke's duration in ticks. */
static int infer_once(uint64_t *ticks)
{
    uint64_t start;
    int status;
#if !HB_DUT_PLAIN_MLPERF
    copy_input_to_arena();
#endif
    start = hb_hal_ticks();
    status = hb_model_invoke(s_arena);
    *ticks = hb_hal_ticks() - start;
    return status;
}

static float dequantize(const hb_tensor_desc_t *tensor, const uint8_t *data, uint32_t index)
{
    int32_t q;
    switch (tensor->dtype) {
    case HB_DTYPE_INT8:
        q = ((const int8_t *)data)[index];
        break;
    case HB_DTYPE_UINT8:
        q = data[index];
        break;
    case HB_DTYPE_INT16: {
        int16_t v;
        memcpy(&v, data + 2u * index, sizeof v);
        q = v;
        break;
    }
    case HB_DTYPE_INT32:
        memcpy(&q, data + 4u * index, sizeof q);
        break;
    case HB_DTYPE_FLOAT32:
    default: {
        float f;
        memcpy(&f, data + 4u * index, sizeof f);
        return f;
    }
    }
    /* Same arithmetic as the MLPerf Tiny reference th_results(): float(q - zero_point) * scale. */
    return (float)(q - tensor->zero_point) * tensor->scale;
}

static uint32_t dtype_size(hb_dtype_t dtype)
{
    switch (dtype) {
    case HB_DTYPE_INT8:
    case HB_DTYPE_UINT8:
        return 1u;
    case HB_DTYPE_INT16:
        return 2u;
    default:
        return 4u;
    }
}

#if HB_MODEL_DB_FORMAT == HB_DB_FLOAT32_FEATURES
/* QuantizeFloatToInt8 of the reference firmware: round(x / scale) + zero point, clamped, with
 * C's round() (halves away from zero) on the float quotient. Done in double, where adding 0.5
 * to a float is exact. */
static int8_t quantize_int8(float value, const hb_tensor_desc_t *tensor)
{
    double scaled = (double)(value / tensor->scale);
    double magnitude = scaled < 0.0 ? -scaled : scaled;
    int32_t q;
    if (magnitude > 1000.0) { /* far outside int8: clamp before converting */
        magnitude = 1000.0;
    }
    q = (int32_t)(magnitude + 0.5);
    q = (scaled < 0.0 ? -q : q) + tensor->zero_point;
    return (int8_t)(q < -128 ? -128 : (q > 127 ? 127 : q));
}
#endif

/* th_load_tensor() of the reference firmware: the "db" bytes become the input tensor. */
static void input_from_db(void)
{
#if HB_MODEL_DB_FORMAT == HB_DB_UINT8_PIXELS
    uint32_t i;
    for (i = 0; i < HB_MODEL_INPUT_BYTES; ++i) {
        s_input[i] = (uint8_t)(s_db[i] - 128u); /* int8 = pixel - 128, two's complement */
    }
#elif HB_MODEL_DB_FORMAT == HB_DB_FLOAT32_FEATURES
    uint32_t i;
    for (i = 0; i < HB_MODEL_INPUT_BYTES; ++i) {
        memcpy(&s_input_real[i], &s_db[4u * i], sizeof(float));
        s_input[i] = (uint8_t)quantize_int8(s_input_real[i], &hb_model_inputs[0]);
    }
#endif
    s_input_ready = 1;
}

/* A binary load carried the tensor itself: its real values are its dequantization. */
static void input_from_tensor(void)
{
#if HB_MODEL_RESULTS == HB_RESULTS_ANOMALY_SCORE
    uint32_t i;
    for (i = 0; i < HB_MODEL_INPUT_BYTES; ++i) {
        s_input_real[i] = dequantize(&hb_model_inputs[0], s_input, i);
    }
#endif
    s_input_ready = 1;
}

#if HB_MODEL_RESULTS == HB_RESULTS_ANOMALY_SCORE
/* m-results-[score]: ad01's th_results(), the mean over the elements of (dequantized output -
 * real input)^2, summed in float in element order. */
static void print_results(void)
{
    const hb_tensor_desc_t *tensor = &hb_model_outputs[0];
    float sum = 0.0f;
    uint32_t i;
    for (i = 0; i < HB_MODEL_INPUT_BYTES; ++i) {
        float diff = dequantize(tensor, &s_arena[tensor->arena_offset], i) - s_input_real[i];
        sum += diff * diff;
    }
    out_str("m-results-[");
    out_float3(sum / (float)HB_MODEL_INPUT_BYTES);
    out_char(']');
    out_eol();
}
#else
/* m-results-[v0,v1,...]: every element of every output tensor, dequantized, in model order
 * (with a ',' after the last one too where the reference firmware prints it so). */
static void print_results(void)
{
    uint32_t t;
    uint32_t i;
    int first = 1;
    out_str("m-results-[");
    for (t = 0; t < hb_model_num_outputs; ++t) {
        const hb_tensor_desc_t *tensor = &hb_model_outputs[t];
        uint32_t count = tensor->bytes / dtype_size(tensor->dtype);
        for (i = 0; i < count; ++i) {
            if (!first) {
                out_char(',');
            }
            first = 0;
            out_float3(dequantize(tensor, &s_arena[tensor->arena_offset], i));
        }
    }
#if HB_MODEL_RESULTS_TRAILING_COMMA
    out_char(',');
#endif
    out_char(']');
    out_eol();
}
#endif

/* ---------------------------------------------------------------- argument parsing */

/* Parses a decimal number made of digits only; returns 0 on anything else or above max. */
static int parse_u32(const char *text, uint32_t max, uint32_t *value)
{
    uint64_t result = 0;
    if (text == NULL || *text == '\0') {
        return 0;
    }
    for (; *text != '\0'; ++text) {
        if (*text < '0' || *text > '9') {
            return 0;
        }
        result = result * 10u + (uint64_t)(*text - '0');
        if (result > max) {
            return 0;
        }
    }
    *value = (uint32_t)result;
    return 1;
}

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

static int parse_hex32(const char *text, uint32_t *value)
{
    uint32_t result = 0;
    int n = 0;
    for (; *text != '\0'; ++text, ++n) {
        int digit = hex_digit(*text);
        if (digit < 0 || n == 8) {
            return 0;
        }
        result = (result << 4) | (uint32_t)digit;
    }
    if (n == 0) {
        return 0;
    }
    *value = result;
    return 1;
}

/* ---------------------------------------------------------------- commands */

static void cmd_name(void)
{
    out_line("m-name-dut-[" HB_DUT_TARGET_NAME "]");
}

static void cmd_profile(void)
{
    out_line("m-profile-[" HB_DUT_FW_VERSION "]");
    out_str("m-model-[");
    out_str(hb_model_name);
    out_char(']');
    out_eol();
#if !HB_DUT_PLAIN_MLPERF
    /* hilbench extensions: a plain MLPerf Tiny DUT has none of these lines. */
#if HB_HAL_HOST_FILE
    out_line("m-hb-caps-[raw-output,cycles,bulk-crc,quiet-infer,host-file]");
#else
    out_line("m-hb-caps-[raw-output,cycles,bulk-crc,quiet-infer]");
#endif
    out_str("m-hb-timer-[");
    out_str(hb_hal_timer_name());
    out_char(',');
    out_u64(hb_hal_timer_hz());
    out_char(']');
    out_eol();
    out_str("m-hb-model-[input-bytes=");
    out_u64(HB_MODEL_INPUT_BYTES);
    out_str(",output-bytes=");
    out_u64(HB_MODEL_OUTPUT_BYTES);
    out_str(",max-ticks=");
    out_u64(HB_DUT_MAX_TICKS);
    out_str(",cmd-size=");
    out_u64(HB_DUT_CMD_SIZE);
    out_char(']');
    out_eol();
#endif
}

/* 'help' prints prose for a person at a terminal. No line may contain "m-" or "e-[": a host
 * reads those as the start of a reply and drops what stands in front as line noise, so
 * "warm-up" would reach it as a reply 'm-up ...'. */
static void cmd_help(void)
{
    out_line(HB_DUT_FW_VERSION);
    out_line("help         : Print this information");
    out_line("name         : Print the name of the device");
    out_line("timestamp    : Print a timestamp (pulse the timestamp pin in energy mode)");
    out_line("profile      : Print the profile, model and hilbench capabilities");
    out_line("db load N    : Expect N input bytes");
    out_line("db HH[HH]*   : Load hex bytes until N bytes");
    out_line("db print     : Print the loaded bytes as hex");
    out_line("infer N [W]  : Run W warmup inferences (default 10), then N timed ones");
    out_line("results      : Print the dequantized outputs of the last inference");
#if !HB_DUT_PLAIN_MLPERF
    out_line("hb bulk N C  : Receive N raw input bytes whose CRC-32 is C (8 hex digits)");
    out_line("hb infer N W : As infer N W, without the results line");
    out_line("hb raw       : Print the raw output bytes of the last inference as hex");
    out_line("hb ticks     : Print the ticks of each timed inference of the last infer");
#if HB_HAL_HOST_FILE
    out_line("hb file N C  : Read N input bytes whose CRC-32 is C from the host file " HB_HAL_HOST_FILE_NAME);
    out_line("hb raw file  : Write the raw output bytes to the host file " HB_HAL_HOST_OUTPUT_FILE_NAME);
#endif
#endif
}

static void cmd_db(char **tokens, int count)
{
    if (count < 2) {
        out_error("Command 'db' requires a subcommand");
    } else if (strcmp(tokens[1], "load") == 0) {
        uint32_t n;
        if (count < 3) {
            out_error("Command 'db load' requires the # of bytes");
        } else if (!parse_u32(tokens[2], 0xFFFFFFFFu, &n) || n == 0u) {
            out_error("Command 'db load' must be >0 bytes");
        } else if (n > HB_DUT_DB_BYTES) {
            out_str("e-[db load ");
            out_u64(n);
            out_str(" exceeds the model input of ");
            out_u64(HB_DUT_DB_BYTES);
            out_str(" bytes]");
            out_eol();
        } else {
            s_input_expected = n;
            s_input_loaded = 0;
            s_input_ready = 0;
            out_str("m-[Expecting ");
            out_u64(n);
            out_str(" bytes]");
            out_eol();
        }
    } else if (strcmp(tokens[1], "print") == 0) {
        uint32_t i;
        for (i = 0; i < s_input_expected; ++i) {
            out_str(i % 8u == 0u ? "m-buffer-" : "-");
            out_hex_byte(s_db[i]);
            if ((i + 1u) % 8u == 0u || i + 1u == s_input_expected) {
                out_eol();
            }
        }
    } else {
        const char *hex = tokens[1];
        size_t digits = strlen(hex);
        size_t i;
        if (s_input_expected == 0u) {
            out_error("No buffer: send 'db load N' first");
            return;
        }
        if (s_input_loaded == s_input_expected) {
            out_error("Buffer full: send 'db load N' to start a new input");
            return;
        }
        if ((digits & 1u) != 0u) {
            out_error("Insufficent number of hex digits");
            return;
        }
        for (i = 0; i < digits; i += 2u) {
            int high = hex_digit(hex[i]);
            int low = hex_digit(hex[i + 1u]);
            if (high < 0 || low < 0) {
                out_str("e-[Invalid hex digit '");
                out_char(hex[i]);
                out_char(hex[i + 1u]);
                out_str("']");
                out_eol();
                return;
            }
            s_db[s_input_loaded++] = (uint8_t)((high << 4) | low);
            if (s_input_loaded == s_input_expected) {
                /* As the reference firmware: digits after the last byte are ignored. */
                if (s_input_loaded == HB_DUT_DB_BYTES) {
                    input_from_db();
                }
                out_line("m-load-done");
                return;
            }
        }
    }
}

/* "infer N W" (print_results 1), and "hb infer N W" with tokens and count from "infer" on
 * (print_results 0): the same inferences, without the m-results line, whose dequantized text
 * takes longer on a serial line than a small model's inference when the output is large. */
static void cmd_infer(char **tokens, int count, int print_results_line)
{
    uint32_t n = 1u;
    uint32_t warmup = HB_DUT_DEFAULT_WARMUP;
    uint32_t i;
    uint64_t ticks;
    uint64_t window_start;

    if (count >= 2 && (!parse_u32(tokens[1], 0x7FFFFFFFu, &n) || n == 0u)) {
        out_error("Inference iterations must be >0");
        return;
    }
    if (count >= 3 && !parse_u32(tokens[2], 0x7FFFFFFFu, &warmup)) {
        out_error("Inference warmup must be >=0");
        return;
    }
    if (!s_input_ready) {
        out_str("e-[Input not loaded: have ");
        out_u64(s_input_loaded);
        out_str(" of ");
        out_u64(s_input_expected > HB_MODEL_INPUT_BYTES ? HB_DUT_DB_BYTES : HB_MODEL_INPUT_BYTES);
        out_str(" bytes]");
        out_eol();
        return;
    }

    s_have_results = 0;
    s_ticks_count = 0;
    s_ticks_stored = 0;
#if HB_DUT_PLAIN_MLPERF
    copy_input_to_arena();
#endif
    out_str("m-warmup-start-");
    out_u64(warmup);
    out_eol();
    for (i = 0; i < warmup; ++i) {
        if (infer_once(&ticks) != 0) {
            out_error("Model invoke failed");
            return;
        }
    }
    out_line("m-warmup-done");
    out_str("m-infer-start-");
    out_u64(n);
    out_eol();
    window_start = timestamp();
    for (i = 0; i < n; ++i) {
        if (infer_once(&ticks) != 0) {
            out_error("Model invoke failed");
            return;
        }
        if (i < HB_DUT_MAX_TICKS) {
            s_ticks[i] = ticks;
            s_ticks_stored = i + 1u;
        }
    }
    s_window_ticks = timestamp() - window_start;
    s_ticks_count = n;
    s_have_results = 1;
    out_line("m-infer-done");
    if (print_results_line) {
        print_results();
    }
}

static void cmd_results(void)
{
    if (!s_have_results) {
        out_error("No results: run 'infer' first");
        return;
    }
    print_results();
}

#if !HB_DUT_PLAIN_MLPERF
/* "hb raw" prints the output bytes as hex lines; "hb raw file" (twins with the host-file
 * channel) writes them to the host file HB_HAL_HOST_OUTPUT_FILE_NAME instead. Both end with the
 * same m-hb-raw-done line, whose CRC-32 the host checks against the bytes it got. */
static void cmd_hb_raw(int to_host_file)
{
    uint32_t t;
    uint32_t i;
    uint32_t on_line = 0;
    uint32_t total = 0;
    uint32_t crc = HB_CRC32_INIT;
#if HB_HAL_HOST_FILE
    const uint8_t *parts[HB_AT_LEAST_ONE(HB_MODEL_NUM_OUTPUTS)];
    uint32_t lengths[HB_AT_LEAST_ONE(HB_MODEL_NUM_OUTPUTS)];
#endif

    if (!s_have_results) {
        out_error("No results: run 'infer' first");
        return;
    }
    for (t = 0; t < hb_model_num_outputs; ++t) {
        const uint8_t *data = &s_arena[hb_model_outputs[t].arena_offset];
        crc = hb_crc32_update(crc, data, hb_model_outputs[t].bytes);
        total += hb_model_outputs[t].bytes;
#if HB_HAL_HOST_FILE
        if (to_host_file) {
            parts[t] = data;
            lengths[t] = hb_model_outputs[t].bytes;
            continue;
        }
#else
        (void)to_host_file;
#endif
        for (i = 0; i < hb_model_outputs[t].bytes; ++i) {
            if (on_line == 0u) {
                out_str("m-hb-raw-[");
            }
            out_hex_byte(data[i]);
            if (++on_line == HB_DUT_RAW_BYTES_PER_LINE) {
                out_char(']');
                out_eol();
                on_line = 0;
            }
        }
    }
    if (on_line != 0u) {
        out_char(']');
        out_eol();
    }
#if HB_HAL_HOST_FILE
    if (to_host_file && hb_hal_host_file_write(parts, lengths, hb_model_num_outputs) != 0) {
        out_error("hb raw file: cannot write the host file " HB_HAL_HOST_OUTPUT_FILE_NAME);
        return;
    }
#endif
    out_str("m-hb-raw-done-[bytes=");
    out_u64(total);
    out_str(",crc32=");
    out_hex32(hb_crc32_final(crc));
    out_char(']');
    out_eol();
}

/* Adds a number to a CRC-32 as 8 bytes, little endian. */
static uint32_t crc32_u64(uint32_t crc, uint64_t value)
{
    uint8_t bytes[8];
    int i;
    for (i = 0; i < 8; ++i) {
        bytes[i] = (uint8_t)(value >> (8 * i));
    }
    return hb_crc32_update(crc, bytes, sizeof bytes);
}

/* The ticks travel as decimal text, where one flipped digit is still a number: the CRC-32 over
 * every figure of the reply lets the host tell a damaged line from a slow inference. */
static void cmd_hb_ticks(void)
{
    uint32_t i;
    uint32_t crc = HB_CRC32_INIT;
    if (!s_have_results) {
        out_error("No ticks: run 'infer' first");
        return;
    }
    for (i = 0; i < s_ticks_stored; ++i) {
        out_str(i % HB_DUT_TICKS_PER_LINE == 0u ? "m-hb-ticks-[" : ",");
        out_u64(s_ticks[i]);
        if ((i + 1u) % HB_DUT_TICKS_PER_LINE == 0u || i + 1u == s_ticks_stored) {
            out_char(']');
            out_eol();
        }
    }
    crc = crc32_u64(crc, s_ticks_count);
    crc = crc32_u64(crc, s_ticks_stored);
    crc = crc32_u64(crc, hb_hal_timer_hz());
    crc = crc32_u64(crc, s_window_ticks);
    for (i = 0; i < s_ticks_stored; ++i) {
        crc = crc32_u64(crc, s_ticks[i]);
    }
    out_str("m-hb-ticks-done-[n=");
    out_u64(s_ticks_count);
    out_str(",stored=");
    out_u64(s_ticks_stored);
    out_str(",hz=");
    out_u64(hb_hal_timer_hz());
    out_str(",window=");
    out_u64(s_window_ticks);
    out_str(",crc32=");
    out_hex32(hb_crc32_final(crc));
    out_char(']');
    out_eol();
}

/* Starts a checked load ("hb bulk N C", "hb file N C"): parses a byte count of 1..input bytes
 * and a CRC-32 in hex, then empties the input buffer for n new bytes. Replies with the error
 * and returns 0 when the arguments are wrong (the loaded input then stays as it was). */
static int begin_checked_load(const char *command, char **tokens, int count, uint32_t *n,
                              uint32_t *expected_crc)
{
    if (count < 4) {
        out_str("e-[Command '");
        out_str(command);
        out_str("' requires the # of bytes and their CRC-32 in hex]");
        out_eol();
        return 0;
    }
    if (!parse_u32(tokens[2], 0xFFFFFFFFu, n) || *n == 0u || *n > HB_MODEL_INPUT_BYTES) {
        out_str("e-[");
        out_str(command);
        out_str(": byte count must be 1..");
        out_u64(HB_MODEL_INPUT_BYTES);
        out_char(']');
        out_eol();
        return 0;
    }
    if (!parse_hex32(tokens[3], expected_crc)) {
        out_str("e-[");
        out_str(command);
        out_str(": CRC-32 must be 1 to 8 hex digits]");
        out_eol();
        return 0;
    }
    s_input_expected = *n;
    s_input_loaded = 0;
    s_input_ready = 0;
    return 1;
}

/* Accepts the n bytes now in s_input if their CRC-32 is the announced one. */
static void finish_checked_load(uint32_t n, uint32_t expected_crc)
{
    uint32_t crc = hb_crc32_final(hb_crc32_update(HB_CRC32_INIT, s_input, n));
    if (crc != expected_crc) {
        out_str("e-[CRC-32 mismatch: expected ");
        out_hex32(expected_crc);
        out_str(", received bytes give ");
        out_hex32(crc);
        out_str("; input discarded]");
        out_eol();
        return;
    }
    s_input_loaded = n;
    if (n == HB_MODEL_INPUT_BYTES) {
        input_from_tensor();
    }
    out_line("m-load-done");
}

/* Receives the raw bytes of a bulk load straight from the serial line, then checks the CRC. */
static void cmd_hb_bulk(char **tokens, int count)
{
    uint32_t n;
    uint32_t expected_crc;
    uint32_t i;

    if (!begin_checked_load("hb bulk", tokens, count, &n, &expected_crc)) {
        return;
    }
    /* The host sends the bytes only after this line, so an error above never leaves it
     * streaming binary data into the command parser. */
    out_str("m-hb-bulk-ready-[");
    out_u64(n);
    out_char(']');
    out_eol();
    for (i = 0; i < n; ++i) {
        s_input[i] = (uint8_t)hb_hal_getc();
    }
    finish_checked_load(n, expected_crc);
}

#if HB_HAL_HOST_FILE
/* "hb file N C": the input from the host file instead of the serial line (twins only); the
 * same byte count and CRC-32 checks as "hb bulk", so both loads end in the same state. */
static void cmd_hb_file(char **tokens, int count)
{
    uint32_t n;
    uint32_t expected_crc;

    if (!begin_checked_load("hb file", tokens, count, &n, &expected_crc)) {
        return;
    }
    if (hb_hal_host_file_read(s_input, n) != 0) {
        out_str("e-[hb file: cannot read ");
        out_u64(n);
        out_str(" bytes from the host file " HB_HAL_HOST_FILE_NAME "; input discarded]");
        out_eol();
        return;
    }
    finish_checked_load(n, expected_crc);
}
#endif

static void cmd_hb(char **tokens, int count)
{
    if (count < 2) {
        out_error("Command 'hb' requires a subcommand: bulk, infer, raw or ticks");
    } else if (strcmp(tokens[1], "raw") == 0) {
        if (count < 3) {
            cmd_hb_raw(0);
#if HB_HAL_HOST_FILE
        } else if (strcmp(tokens[2], "file") == 0) {
            cmd_hb_raw(1);
#endif
        } else {
            out_str("e-[Unknown hb raw option: ");
            out_str(tokens[2]);
            out_char(']');
            out_eol();
        }
    } else if (strcmp(tokens[1], "infer") == 0) {
        cmd_infer(tokens + 1, count - 1, 0);
    } else if (strcmp(tokens[1], "ticks") == 0) {
        cmd_hb_ticks();
    } else if (strcmp(tokens[1], "bulk") == 0) {
        cmd_hb_bulk(tokens, count);
#if HB_HAL_HOST_FILE
    } else if (strcmp(tokens[1], "file") == 0) {
        cmd_hb_file(tokens, count);
#endif
    } else {
        out_str("e-[Unknown hb subcommand: ");
        out_str(tokens[1]);
        out_char(']');
        out_eol();
    }
}

#endif /* !HB_DUT_PLAIN_MLPERF */

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Splits the command in place on whitespace; returns the number of tokens (at most max). */
static int tokenize(char *command, char **tokens, int max)
{
    int count = 0;
    while (*command != '\0' && count < max) {
        while (is_space(*command)) {
            *command++ = '\0';
        }
        if (*command == '\0') {
            break;
        }
        tokens[count++] = command;
        while (*command != '\0' && !is_space(*command)) {
            ++command;
        }
    }
    return count;
}

static void dispatch(char *command)
{
    char *tokens[HB_DUT_MAX_TOKENS];
    int count = tokenize(command, tokens, HB_DUT_MAX_TOKENS);

    if (count == 0) {
        out_error("Empty command");
    } else if (strcmp(tokens[0], "name") == 0) {
        cmd_name();
    } else if (strcmp(tokens[0], "timestamp") == 0) {
        (void)timestamp();
    } else if (strcmp(tokens[0], "profile") == 0) {
        cmd_profile();
    } else if (strcmp(tokens[0], "help") == 0) {
        cmd_help();
    } else if (strcmp(tokens[0], "db") == 0) {
        cmd_db(tokens, count);
    } else if (strcmp(tokens[0], "infer") == 0) {
        cmd_infer(tokens, count, 1);
    } else if (strcmp(tokens[0], "results") == 0) {
        cmd_results();
#if !HB_DUT_PLAIN_MLPERF
    } else if (strcmp(tokens[0], "hb") == 0) {
        cmd_hb(tokens, count);
#endif
    } else {
        out_str("e-[Unknown command: ");
        out_str(tokens[0]);
        out_char(']');
        out_eol();
    }
    out_line("m-ready");
}

void hb_dut_run(void)
{
    static char command[HB_DUT_CMD_SIZE + 1];
    size_t length = 0;
    int overflow = 0;

#if HB_DUT_ENERGY_MODE
    out_line("m-timestamp-mode-energy");
#else
    out_line("m-timestamp-mode-performance");
#endif
    (void)timestamp();
    /* The generated config and tensor tables must agree: say so rather than load wrongly. */
    if (total_bytes(hb_model_inputs, hb_model_num_inputs) != HB_MODEL_INPUT_BYTES) {
        out_error("Model config mismatch: HB_MODEL_INPUT_BYTES differs from the input tensors");
    }
    if (total_bytes(hb_model_outputs, hb_model_num_outputs) != HB_MODEL_OUTPUT_BYTES) {
        out_error("Model config mismatch: HB_MODEL_OUTPUT_BYTES differs from the output tensors");
    }
    out_line("m-init-done");
    out_line("m-ready");

    for (;;) {
        int c = hb_hal_getc();
        if (c == '%') {
            if (overflow) {
                out_str("e-[Command longer than ");
                out_u64(HB_DUT_CMD_SIZE);
                out_str(" characters]");
                out_eol();
                out_line("m-ready");
            } else {
                command[length] = '\0';
                dispatch(command);
            }
            length = 0;
            overflow = 0;
        } else if (length < HB_DUT_CMD_SIZE) {
            command[length++] = (char)c;
        } else {
            overflow = 1;
        }
    }
}
