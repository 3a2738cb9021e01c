"""150 slow clients holding their sockets do not lock anyone else out (`spaceqa serve`'s waitress options).

Half the clients connect and say nothing; half send the head of a POST /ask and then trickle its
body one byte every 1-2 s, so waitress's idle timeout never fires for them.  A new client must
still get /healthz and an /ask answer within 2 s each: that bound is the requirement itself, not
a speed check.  Waitress reads each request whole before a worker thread sees it, so the slow
clients cost sockets, never workers; what locked everyone out was the connection limit.
"""

from __future__ import annotations

import json
import socket
import threading
import time

from servers import raw_request, serve_in_thread

SLOW_CLIENTS = 150
WITHIN_S = 2.0
TRICKLE_EVERY_S = 1.5


def open_slow_clients(port: int) -> tuple[list[socket.socket], list[socket.socket]]:
    """``SLOW_CLIENTS`` connections: half idle, half having sent a POST /ask head and the first body byte."""
    idle, trickling = [], []
    for n in range(SLOW_CLIENTS):
        sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        if n % 2:
            head = b"POST /ask HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 4000\r\n\r\n{"
            sock.sendall(head)
            trickling.append(sock)
        else:
            idle.append(sock)
    return idle, trickling


def trickle(sockets: list[socket.socket], stop: threading.Event, sent: list[int]) -> None:
    """One more body byte on every socket each ``TRICKLE_EVERY_S``, until ``stop``; counts the rounds in ``sent``."""
    while not stop.wait(TRICKLE_EVERY_S):
        for sock in sockets:
            sock.sendall(b" ")
        sent[0] += 1


def timed(port: int, method: str, target: str, **kwargs):
    started = time.monotonic()
    response = raw_request(port, method, target, timeout=WITHIN_S, **kwargs)
    return response, time.monotonic() - started


def test_a_new_client_is_served_while_150_slow_clients_hold_their_sockets(tiny_app):
    with serve_in_thread(tiny_app) as port:
        idle, trickling = open_slow_clients(port)
        stop, sent = threading.Event(), [0]
        dripper = threading.Thread(target=trickle, args=(trickling, stop, sent), name="trickle", daemon=True)
        dripper.start()
        try:
            time.sleep(3)  # every slow client connected and dripping before the new one comes
            for _ in range(2):  # twice, seconds apart: the slow clients keep their hold throughout
                health, health_s = timed(port, "GET", "/healthz")
                assert health.status == 200 and health_s < WITHIN_S
                body = json.dumps({"question": "When was the core module of Mir launched?"}).encode()
                answer, answer_s = timed(port, "POST", "/ask", body=body, headers={"Content-Type": "application/json"})
                assert answer.status == 200 and answer_s < WITHIN_S, answer
                assert "answer" in json.loads(answer.body)
                time.sleep(TRICKLE_EVERY_S * 2)
            assert sent[0] >= 4 and dripper.is_alive()  # the slow bodies were still dripping, never refused
        finally:
            stop.set()
            dripper.join(timeout=10)
            for sock in idle + trickling:
                sock.close()
