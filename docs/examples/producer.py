#!/usr/bin/env python3
"""Sends one message to Herald through RabbitMQ (the AMQP ingress) and prints Herald's answer.

    AMQP_URL=amqp://jwc:secret@mq.example.edu.cn:5672/%2F python3 producer.py [body.json | -]

The body is the same JSON as for POST /v1/messages. Without an argument the script sends the
demo exam reminder (category exam.reminder, which the demo source jwc may send) to 2024010101;
with a file name (or - for stdin) it sends that JSON instead.

Who sends: the connection's RabbitMQ user goes into the message's user_id property, which the
broker checks, and Herald maps to a source (PATCH /v1/sources/{key} {"amqpUser": "jwc"}).
Or set HERALD_KEY to a source API key (hk_...): it travels in the x-api-key header.

Settings (environment): AMQP_URL (default amqp://guest:guest@localhost:5672/%2F),
INGRESS_EXCHANGE (default herald.ingress), HERALD_KEY, MESSAGE_ID (default: a new UUID; it is
the idempotency key, so reuse it to retry safely), REPLY_TIMEOUT in seconds (default 10).

The message is persistent and published with publisher confirms (mandatory, so a missing
exchange or binding is an error, not a silent drop). Herald answers on an exclusive reply queue
(reply_to + correlation_id). On a connection error, a refused publish or no answer in time the
script tries again with the SAME message_id: Herald accepts it at most once and answers a retry
with the first message's id.

Prints the answer as one JSON line on stdout: {"id": ..., "status": "accepted"} or an RFC 9457
problem. Exit status: 0 accepted, 1 refused (see the problem), 2 no answer.
Needs Python 3 and pika 1.x (Debian: apt install python3-pika; else pip install pika).
"""
import json
import os
import sys
import time
import uuid

import pika

URL = os.environ.get("AMQP_URL", "amqp://guest:guest@localhost:5672/%2F")
EXCHANGE = os.environ.get("INGRESS_EXCHANGE", "herald.ingress")
API_KEY = os.environ.get("HERALD_KEY")
MESSAGE_ID = os.environ.get("MESSAGE_ID") or str(uuid.uuid4())
REPLY_TIMEOUT = float(os.environ.get("REPLY_TIMEOUT", "10"))

DEMO_BODY = {
    "category": "exam.reminder",
    "to": {"users": ["2024010101"]},
    "data": {
        "course": "植物生理学",
        "time": "2025-01-08 09:00–11:00",
        "room": "北区教学楼 A201",
        "seat": "17",
    },
}


def read_body():
    if len(sys.argv) < 2:
        return json.dumps(DEMO_BODY, ensure_ascii=False).encode("utf-8")
    if sys.argv[1] == "-":
        return sys.stdin.buffer.read()
    with open(sys.argv[1], "rb") as f:
        return f.read()


def routing_key(body):
    """The category as routing key: not needed by Herald, handy for taps on the exchange."""
    try:
        return str(json.loads(body).get("category", ""))
    except (ValueError, AttributeError):
        return ""


def send_once(params, body):
    """Publishes the message and waits for Herald's answer; returns (status, answer)."""
    connection = pika.BlockingConnection(params)
    try:
        channel = connection.channel()
        channel.confirm_delivery()
        reply_queue = channel.queue_declare(queue="", exclusive=True).method.queue
        correlation_id = str(uuid.uuid4())
        properties = pika.BasicProperties(
            content_type="application/json",
            delivery_mode=2,  # persistent
            message_id=MESSAGE_ID,
            correlation_id=correlation_id,
            reply_to=reply_queue,
            # RabbitMQ refuses a user_id that is not the connection's user: Herald can trust it.
            user_id=params.credentials.username,
            headers={"x-api-key": API_KEY} if API_KEY else None,
        )
        # Raises UnroutableError / NackError when the broker did not take the message.
        channel.basic_publish(
            exchange=EXCHANGE,
            routing_key=routing_key(body),
            body=body,
            properties=properties,
            mandatory=True,
        )
        for method, props, answer in channel.consume(
            reply_queue, auto_ack=True, inactivity_timeout=REPLY_TIMEOUT
        ):
            if method is None:
                raise TimeoutError(f"no answer within {REPLY_TIMEOUT:g} s")
            if props.correlation_id == correlation_id:
                status = int((props.headers or {}).get("status", 0))
                return status, json.loads(answer)
    finally:
        if connection.is_open:
            connection.close()


def main():
    body = read_body()
    params = pika.URLParameters(URL)
    for attempt in range(1, 6):
        try:
            status, answer = send_once(params, body)
            break
        except (pika.exceptions.AMQPError, TimeoutError) as err:
            print(
                f"attempt {attempt}: {type(err).__name__} {err}; retrying with message_id {MESSAGE_ID}",
                file=sys.stderr,
            )
            time.sleep(attempt)
    else:
        print("Herald did not answer", file=sys.stderr)
        return 2
    print(json.dumps(answer, ensure_ascii=False))
    if status == 202:
        print(f"Accepted as {answer['id']} (message_id {MESSAGE_ID})", file=sys.stderr)
        return 0
    print(f"Refused ({status} {answer.get('code')}): {answer.get('detail')}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
