"""The device link: byte transports (serial, TCP, loopback), the framed request/answer session
with its retries, and the serial-port discovery."""
