"""Boards and firmware tooling: the board descriptions (board.toml), building an image,
flashing it, running it in an emulator (QEMU or the host twin), and its memory footprint."""
