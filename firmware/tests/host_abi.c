/* Layout facts of the runtime's public structs for the host bindings (tt_host.native), built
 * into the host library only: tests/test_native_abi.py asserts that every ctypes mirror has the
 * size of the struct it mirrors, so a field added on one side alone fails a test instead of
 * corrupting memory. */
#include <string.h>

#include "tt/executor.h"
#include "tt/kernels/kernels.h"

#define SIZE_OF(type) {#type, (uint32_t)sizeof(type)}

static const struct {
    const char *name;
    uint32_t size;
} SIZES[] = {
    SIZE_OF(tt_kernel_ctx_t),   SIZE_OF(tt_conv_geom_t),     SIZE_OF(tt_fc_geom_t),      SIZE_OF(tt_conv_quant_t),
    SIZE_OF(tt_add_quant_t),    SIZE_OF(tt_pool_quant_t),    SIZE_OF(tt_grad_quant_t),   SIZE_OF(tt_logit_quant_t),
    SIZE_OF(tt_rng_t),          SIZE_OF(tt_sgd_t),           SIZE_OF(tt_qas_t),          SIZE_OF(tt_weight_slice_t),
    SIZE_OF(tt_weights_view_t), SIZE_OF(tt_irb_geom_t),      SIZE_OF(tt_irb_quant_t),    SIZE_OF(tt_irb_progress_t),
    SIZE_OF(tt_irb_weights_t),  SIZE_OF(tt_step_result_t),   SIZE_OF(tt_executor_t),     SIZE_OF(tt_grad_s16_t),
    SIZE_OF(tt_channels_t),     SIZE_OF(tt_bwd_weight_params_t), SIZE_OF(tt_update_t),       SIZE_OF(tt_irb_rows_t),
    SIZE_OF(tt_mean_quant_t),   SIZE_OF(tt_mul_quant_t),     SIZE_OF(tt_mul_grad_t),     SIZE_OF(tt_hard_swish_quant_t),
    SIZE_OF(tt_hard_swish_grad_t), SIZE_OF(tt_requantize_quant_t), SIZE_OF(tt_pad_geom_t), SIZE_OF(tt_logistic_quant_t),
};

/* sizeof the named struct type ("tt_conv_geom_t"), 0 for a name not in the table. */
uint32_t tt_abi_sizeof(const char *type_name);

uint32_t tt_abi_sizeof(const char *type_name)
{
    for (size_t i = 0; i < sizeof SIZES / sizeof SIZES[0]; i++) {
        if (strcmp(SIZES[i].name, type_name) == 0) {
            return SIZES[i].size;
        }
    }
    return 0u;
}
