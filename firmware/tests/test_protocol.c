/* The golden vectors of protocol/tt_protocol/vectors.py: each input, fed to a fresh
 * endpoint, must produce exactly the expected wire bytes, whether the bytes arrive one
 * at a time, all at once, or in uneven chunks. */
#include "host_port.h"
#include "protocol_vectors.h"
#include "tt/proto.h"
#include "tt_test.h"

static uint8_t out[16384];
static size_t out_len;

static void capture(void *ctx, const uint8_t *data, size_t len)
{
    (void)ctx;
    if (out_len + len <= sizeof out) {
        memcpy(out + out_len, data, len);
    }
    out_len += len;
}

static const tt_board_info_t board = {
    .name = TT_VECTOR_BOARD_NAME,
    .sram_bytes = TT_VECTOR_SRAM_BYTES,
    .flash_bytes = TT_VECTOR_FLASH_BYTES,
    .core_clock_hz = TT_VECTOR_CORE_CLOCK_HZ,
};

/* The arena the vectors' board reports; 8-byte aligned like tt_arena(). */
static uint64_t arena[TT_VECTOR_ARENA_BYTES / 8u];

/* Each vector starts from a fresh device: erased flash (no package, no store record). */
static void run_vector(const tt_protocol_vector_t *v, size_t chunk)
{
    static uint8_t rx[TT_MAX_FRAME_BYTES];
    static uint8_t tx[TT_MAX_FRAME_BYTES];
    static tt_trainer_t trainer;
    tt_proto_t proto;
    tt_host_flash_reset();
    tt_trainer_init(&trainer, (uint8_t *)arena, (uint32_t)sizeof arena, tt_port_flash_layout());
    tt_proto_init(&proto, rx, tx, capture, NULL, &board, &trainer);
    out_len = 0;
    for (size_t i = 0; i < v->input_len; i += chunk) {
        const size_t n = v->input_len - i < chunk ? v->input_len - i : chunk;
        tt_proto_feed(&proto, v->input + i, n);
    }
    CHECK(tt_test_bytes_equal(v->name, out, out_len, v->expected, v->expected_len), "vector %s, chunk %zu",
          v->name, chunk);
}

int main(void)
{
    static const size_t chunks[] = {1, 3, 64, 100000};
    CHECK(tt_port_tick_hz() == TT_VECTOR_TICK_HZ, "the vectors assume the host port's tick rate");
    for (size_t i = 0; i < sizeof tt_protocol_vectors / sizeof tt_protocol_vectors[0]; i++) {
        for (size_t c = 0; c < sizeof chunks / sizeof chunks[0]; c++) {
            run_vector(&tt_protocol_vectors[i], chunks[c]);
        }
    }
    return tt_test_report("protocol");
}
