#!/usr/bin/env python3
"""Test helper: AXL frames (4-byte big-endian length + body) over the Linux kernel's TCP, run inside a
network namespace with `ip netns exec`, next to a yggdrasil-go TUN device.

  client <addr> <port> <deadline_s> <frame>...   connect (retrying until the deadline while the overlay finds
                                                 the route), send each frame, shut down writing, read to EOF.
                                                 A frame is `hex:<hex body>` or `rand:<size>:<seed>`.
                                                 Prints {"connect_ms", "sent": [{size, sha256}], "reply_hex"}.
  server <addr> <port>                           accept one connection; answer every frame with a frame holding
                                                 the ASCII sha256 of its body; at EOF print {"frames": [...]}.
Standard library only. Prints one JSON line.
"""
import hashlib
import json
import random
import socket
import struct
import sys
import time


def body_of(spec: str) -> bytes:
    kind, _, rest = spec.partition(':')
    if kind == 'hex':
        return bytes.fromhex(rest)
    if kind == 'rand':
        size, seed = (int(x) for x in rest.split(':'))
        return random.Random(seed).randbytes(size)
    raise SystemExit(f'bad frame spec {spec!r}')


def read_exact(c: socket.socket, n: int) -> bytes:
    parts = []
    while n > 0:
        b = c.recv(min(n, 1 << 20))
        if not b:
            raise EOFError
        parts.append(b)
        n -= len(b)
    return b''.join(parts)


def client(addr: str, port: int, deadline_s: float, specs: list) -> None:
    t0 = time.monotonic()
    while True:
        try:
            c = socket.create_connection((addr, port), timeout=max(1.0, deadline_s - (time.monotonic() - t0)))
            break
        except OSError as e:
            if time.monotonic() - t0 > deadline_s:
                raise SystemExit(f'connect to [{addr}]:{port} failed until the deadline: {e}')
            time.sleep(0.2)
    connect_ms = (time.monotonic() - t0) * 1000
    c.settimeout(60)
    sent = []
    for spec in specs:
        body = body_of(spec)
        c.sendall(struct.pack('>I', len(body)) + body)
        sent.append({'size': len(body), 'sha256': hashlib.sha256(body).hexdigest()})
    c.shutdown(socket.SHUT_WR)
    reply = bytearray()
    while True:
        b = c.recv(1 << 20)
        if not b:
            break
        reply += b
    c.close()
    print(json.dumps({'connect_ms': round(connect_ms), 'sent': sent, 'reply_hex': reply.hex()}), flush=True)


def server(addr: str, port: int) -> None:
    s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, port))
    s.listen(1)
    print(json.dumps({'listening': port}), flush=True)
    c, _ = s.accept()
    c.settimeout(60)
    frames = []
    while True:
        try:
            n = struct.unpack('>I', read_exact(c, 4))[0]
        except EOFError:
            break
        digest = hashlib.sha256(read_exact(c, n)).hexdigest()
        frames.append({'size': n, 'sha256': digest})
        c.sendall(struct.pack('>I', len(digest)) + digest.encode())
    c.shutdown(socket.SHUT_WR)
    c.close()
    print(json.dumps({'frames': frames}), flush=True)


def main() -> None:
    mode, addr, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    if mode == 'client':
        client(addr, port, float(sys.argv[4]), sys.argv[5:])
    elif mode == 'server':
        server(addr, port)
    else:
        raise SystemExit(f'unknown mode {mode}')


if __name__ == '__main__':
    main()
