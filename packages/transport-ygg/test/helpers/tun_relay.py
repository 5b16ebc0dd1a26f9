#!/usr/bin/env python3
"""Test helper: relay IPv6 packets between a TUN device and stdin/stdout.

Run inside a network namespace the test created:
    ip netns exec <ns> python3 tun_relay.py <ifname> <kernel-addr/64> <mtu>
It creates the TUN device (IFF_TUN | IFF_NO_PI), brings lo and the device up with the kernel-side
address, then prints "READY" on stderr. Packets read from the TUN device are written to stdout, packets
read from stdin are written to the device; both directions use a 4-byte big-endian length prefix.
Exits when stdin closes. Standard library only.
"""
import fcntl
import os
import struct
import subprocess
import sys
import threading

TUNSETIFF = 0x400454CA
IFF_TUN = 0x0001
IFF_NO_PI = 0x1000


def main() -> int:
    ifname, addr, mtu = sys.argv[1], sys.argv[2], sys.argv[3]
    fd = os.open('/dev/net/tun', os.O_RDWR)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack('16sH', ifname.encode(), IFF_TUN | IFF_NO_PI))
    for cmd in (['ip', 'link', 'set', 'lo', 'up'],
                ['ip', 'link', 'set', ifname, 'mtu', mtu],
                ['ip', '-6', 'addr', 'add', addr, 'dev', ifname, 'nodad'],
                ['ip', 'link', 'set', ifname, 'up']):
        subprocess.run(cmd, check=True)
    sys.stderr.write('READY\n')
    sys.stderr.flush()

    out = sys.stdout.buffer.raw if hasattr(sys.stdout.buffer, 'raw') else sys.stdout.buffer

    def tun_to_stdout() -> None:
        try:
            while True:
                pkt = os.read(fd, 65536)
                if not pkt:
                    break
                data = struct.pack('>I', len(pkt)) + pkt
                view = memoryview(data)
                while view:
                    n = os.write(1, view)
                    view = view[n:]
        except OSError:
            pass
        os._exit(0)

    threading.Thread(target=tun_to_stdout, daemon=True).start()

    inp = sys.stdin.buffer

    def read_exact(n: int) -> bytes:
        buf = b''
        while len(buf) < n:
            chunk = inp.read(n - len(buf))
            if not chunk:
                return b''
            buf += chunk
        return buf

    while True:
        hdr = read_exact(4)
        if not hdr:
            break
        (n,) = struct.unpack('>I', hdr)
        pkt = read_exact(n)
        if len(pkt) != n:
            break
        try:
            os.write(fd, pkt)
        except OSError as e:  # a malformed packet: the kernel refuses it; keep relaying
            sys.stderr.write(f'tun write failed: {e}\n')
    os._exit(0)


if __name__ == '__main__':
    sys.exit(main())
