/* Force-included into firmware/src/main.c for the host twin only (boards/host/CMakeLists.txt).
 *
 * On a Cortex-M board the reset handler prepares memory and then calls the firmware's
 * main(). On the host the process entry is the board's own main() (startup.c): it reads
 * the command line (socket, flash file) before the firmware runs, so the firmware's
 * main() is renamed to tt_host_firmware_main() here instead of being edited for a board. */
#ifndef TT_HOST_FIRMWARE_MAIN_H
#define TT_HOST_FIRMWARE_MAIN_H

#define main tt_host_firmware_main

/* The prototype -Wmissing-prototypes wants now that this is no longer main(). */
int main(void);

#endif /* TT_HOST_FIRMWARE_MAIN_H */
