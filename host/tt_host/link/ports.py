"""Finding the board's serial port.

The Discovery board's ST-LINK/V2-1 exposes the MCU's USART1 as a USB CDC port
(``/dev/ttyACM*`` on Linux, ``COM*`` on Windows) with STMicroelectronics' USB vendor id.
"""

from __future__ import annotations

from serial.tools import list_ports
from serial.tools.list_ports_common import ListPortInfo

from tt_host.errors import PortSelectionError

#: STMicroelectronics' USB vendor id, used by every ST-LINK's virtual COM port.
STLINK_VID = 0x0483


def list_stlink_ports() -> list[ListPortInfo]:
    """Serial ports that belong to an ST-LINK probe, sorted by device name."""
    ports = [p for p in list_ports.comports() if p.vid == STLINK_VID]
    return sorted(ports, key=lambda p: p.device)


def describe(port: ListPortInfo) -> str:
    """One line for a port: device, product and serial number."""
    extra = ", ".join(x for x in (port.description, f"serial {port.serial_number}" if port.serial_number else "") if x)
    return f"{port.device} ({extra})" if extra else port.device


def resolve_port(port: str | None) -> str:
    """``port`` when given; otherwise the single ST-LINK port plugged in.

    Raises :class:`PortSelectionError` when there is none or several to choose from.
    """
    if port:
        return port
    candidates = list_stlink_ports()
    if len(candidates) == 1:
        return candidates[0].device
    if not candidates:
        raise PortSelectionError(
            "no ST-LINK serial port found: plug the board's ST-LINK USB connector (CN14) in, "
            "or pass --port (e.g. --port socket://127.0.0.1:PORT as printed by `tt-host emulate`)"
        )
    listing = "\n".join(f"  {describe(p)}" for p in candidates)
    raise PortSelectionError(f"{len(candidates)} ST-LINK serial ports found; choose one with --port:\n{listing}")
