#!/usr/bin/env python3
"""Test helper: the Linux-kernel side of the TCP interop test (run with `ip netns exec`).

Modes (each prints one JSON line per event on stdout; the last line is the result):
  server <addr> <port> <nbytes> <seed>   accept one connection, read to EOF (sha256), then send nbytes
                                          of seeded random data, shut down writing, wait for EOF, close.
  client <addr> <port> <nbytes> <seed>   connect, send nbytes, shut down writing, read to EOF, close.
  rst-server <addr> <port> <after>        accept, read `after` bytes, then close with SO_LINGER 0 (RST).
  victim <addr> <port>                    accept, read until the peer resets the connection.
Standard library only.
"""
import hashlib
import json
import random
import socket
import struct
import sys
import time


def emit(**kw) -> None:
    sys.stdout.write(json.dumps(kw) + '\n')
    sys.stdout.flush()


def listen(addr: str, port: int) -> socket.socket:
    s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, port))
    s.listen(4)
    emit(event='listening')
    return s


def read_all(c: socket.socket) -> tuple:
    h = hashlib.sha256()
    n = 0
    t0 = time.monotonic()
    while True:
        b = c.recv(262144)
        if not b:
            break
        h.update(b)
        n += len(b)
    return n, h.hexdigest(), time.monotonic() - t0


def send_all(c: socket.socket, nbytes: int, seed: int) -> tuple:
    rnd = random.Random(seed)
    h = hashlib.sha256()
    t0 = time.monotonic()
    left = nbytes
    while left > 0:
        chunk = rnd.randbytes(min(262144, left))
        h.update(chunk)
        c.sendall(chunk)
        left -= len(chunk)
    c.shutdown(socket.SHUT_WR)
    return nbytes, h.hexdigest(), time.monotonic() - t0


def main() -> None:
    mode, addr, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    if mode == 'server':
        nbytes, seed = int(sys.argv[4]), int(sys.argv[5])
        s = listen(addr, port)
        c, peer = s.accept()
        got, got_sha, recv_s = read_all(c)
        sent, sent_sha, send_s = send_all(c, nbytes, seed)
        # Wait for the peer's close after our FIN (it already sent its own FIN; this returns at once).
        c.settimeout(10)
        c.close()
        emit(event='done', received=got, receivedSha=got_sha, recvSecs=recv_s, sent=sent, sentSha=sent_sha, sendSecs=send_s)
    elif mode == 'client':
        nbytes, seed = int(sys.argv[4]), int(sys.argv[5])
        c = socket.create_connection((addr, port), timeout=15)
        emit(event='connected')
        sent, sent_sha, send_s = send_all(c, nbytes, seed)
        got, got_sha, recv_s = read_all(c)
        c.close()
        emit(event='done', received=got, receivedSha=got_sha, recvSecs=recv_s, sent=sent, sentSha=sent_sha, sendSecs=send_s)
    elif mode == 'rst-server':
        after = int(sys.argv[4])
        s = listen(addr, port)
        c, peer = s.accept()
        n = 0
        while n < after:
            b = c.recv(65536)
            if not b:
                break
            n += len(b)
        c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
        c.close()
        emit(event='done', received=n, resetSent=True)
    elif mode == 'victim':
        s = listen(addr, port)
        c, peer = s.accept()
        c.settimeout(15)
        n = 0
        err = None
        try:
            while True:
                b = c.recv(65536)
                if not b:
                    break
                n += len(b)
        except ConnectionResetError:
            err = 'ConnectionResetError'
        except OSError as e:
            err = type(e).__name__
        emit(event='done', received=n, error=err)
    else:
        raise SystemExit(f'unknown mode {mode}')


if __name__ == '__main__':
    main()
