/* A QEMU TCG plugin that cuts the power of the emulated board at an exact instruction.
 *
 *   -plugin FILE.so,arm=0xADDR,cut=N        exit QEMU at once (_exit, no cleanup) when N guest
 *                                           instructions have run since the first execution
 *                                           of ADDR, before the next one runs
 *   -plugin FILE.so,arm=0xADDR,mark=0xADDR,out=PATH
 *                                           measure: each time MARK runs after ARM, write the
 *                                           instructions run since ARM to PATH
 *
 * ARM and MARK are guest addresses of instructions (a function's entry, say); arm=0 counts
 * from the first instruction. A killed QEMU leaves a file-backed guest RAM exactly as the
 * guest's stores left it, which is what a power cut leaves in flash.
 *
 * Debian's QEMU 7.2 ships the plugin loader but not its header, so the few declarations of
 * the plugin ABI used here (version 1, include/qemu/qemu-plugin.h of QEMU 7.2) are written out
 * below. Every instruction gets a callback: slower than counting whole translation blocks, but
 * a block may hold a run of flash stores, and the cut must be able to fall between any two. */
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* --- the part of QEMU 7.2's plugin ABI this plugin uses ------------------------------------ */
typedef uint64_t qemu_plugin_id_t;
typedef struct qemu_info_t qemu_info_t; /* only passed through */
struct qemu_plugin_tb;
struct qemu_plugin_insn;
enum qemu_plugin_cb_flags { QEMU_PLUGIN_CB_NO_REGS, QEMU_PLUGIN_CB_R_REGS, QEMU_PLUGIN_CB_RW_REGS };
typedef void (*qemu_plugin_vcpu_tb_trans_cb_t)(qemu_plugin_id_t id, struct qemu_plugin_tb *tb);
typedef void (*qemu_plugin_vcpu_udata_cb_t)(unsigned int vcpu_index, void *userdata);

void qemu_plugin_register_vcpu_tb_trans_cb(qemu_plugin_id_t id, qemu_plugin_vcpu_tb_trans_cb_t cb);
void qemu_plugin_register_vcpu_insn_exec_cb(struct qemu_plugin_insn *insn, qemu_plugin_vcpu_udata_cb_t cb,
                                            enum qemu_plugin_cb_flags flags, void *userdata);
size_t qemu_plugin_tb_n_insns(const struct qemu_plugin_tb *tb);
struct qemu_plugin_insn *qemu_plugin_tb_get_insn(const struct qemu_plugin_tb *tb, size_t idx);
uint64_t qemu_plugin_insn_vaddr(const struct qemu_plugin_insn *insn);

#define QEMU_PLUGIN_EXPORT __attribute__((visibility("default")))
QEMU_PLUGIN_EXPORT int qemu_plugin_version = 1;
/* ------------------------------------------------------------------------------------------ */

/* The exit status of a cut: the driver tells a cut from any other end of QEMU by it. */
#define CUT_EXIT_STATUS 86

static uint64_t arm_at, mark_at, cut_after = UINT64_MAX;
static bool armed, measuring;
static uint64_t executed; /* instructions run since armed */
static int out_fd = -1;

static void on_arm(unsigned int vcpu, void *udata)
{
    (void)vcpu;
    (void)udata;
    armed = true;
}

static void on_mark(unsigned int vcpu, void *udata)
{
    (void)vcpu;
    (void)udata;
    if (armed && out_fd >= 0) {
        char line[32];
        const int n = snprintf(line, sizeof line, "%20" PRIu64 "\n", executed);
        if (pwrite(out_fd, line, (size_t)n, 0) != n) {
            _exit(1);
        }
    }
}

/* Runs before each instruction: the cut falls before instruction number cut_after + 1. */
static void on_insn(unsigned int vcpu, void *udata)
{
    (void)vcpu;
    (void)udata;
    if (!armed) {
        return;
    }
    if (executed == cut_after) {
        _exit(CUT_EXIT_STATUS);
    }
    executed++;
}

static void on_translate(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
    (void)id;
    const size_t n = qemu_plugin_tb_n_insns(tb);
    for (size_t i = 0; i < n; i++) {
        struct qemu_plugin_insn *insn = qemu_plugin_tb_get_insn(tb, i);
        const uint64_t at = qemu_plugin_insn_vaddr(insn);
        /* Registered first, so they run before this instruction's count. */
        if (at == arm_at && !armed) {
            qemu_plugin_register_vcpu_insn_exec_cb(insn, on_arm, QEMU_PLUGIN_CB_NO_REGS, NULL);
        }
        if (measuring && at == mark_at) {
            qemu_plugin_register_vcpu_insn_exec_cb(insn, on_mark, QEMU_PLUGIN_CB_NO_REGS, NULL);
        }
        qemu_plugin_register_vcpu_insn_exec_cb(insn, on_insn, QEMU_PLUGIN_CB_NO_REGS, NULL);
    }
}

static bool parse_u64(const char *text, uint64_t *value)
{
    char *end;
    *value = strtoull(text, &end, 0);
    return *text != '\0' && *end == '\0';
}

QEMU_PLUGIN_EXPORT int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info, int argc, char **argv)
{
    (void)info;
    const char *out = NULL;
    for (int i = 0; i < argc; i++) {
        const char *eq = strchr(argv[i], '=');
        const char *value = eq != NULL ? eq + 1 : "";
        const size_t key = eq != NULL ? (size_t)(eq - argv[i]) : strlen(argv[i]);
        bool ok = true;
        if (key == 3 && strncmp(argv[i], "arm", 3) == 0) {
            ok = parse_u64(value, &arm_at);
        } else if (key == 3 && strncmp(argv[i], "cut", 3) == 0) {
            ok = parse_u64(value, &cut_after);
        } else if (key == 4 && strncmp(argv[i], "mark", 4) == 0) {
            ok = parse_u64(value, &mark_at);
            measuring = ok;
        } else if (key == 3 && strncmp(argv[i], "out", 3) == 0) {
            out = value;
        } else {
            ok = false;
        }
        if (!ok) {
            fprintf(stderr, "qemu_cut_plugin: bad argument %s\n", argv[i]);
            return -1;
        }
    }
    if (measuring) {
        out_fd = out != NULL ? open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644) : -1;
        if (out_fd < 0) {
            fprintf(stderr, "qemu_cut_plugin: mark needs a writable out=PATH\n");
            return -1;
        }
    }
    armed = arm_at == 0;
    qemu_plugin_register_vcpu_tb_trans_cb(id, on_translate);
    return 0;
}
