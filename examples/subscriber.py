"""A subscriber that stores each crossing exactly once (paho-mqtt 2.x, standard library else).

    python examples/subscriber.py mqtt://127.0.0.1:1883 --db crossings.sqlite

Prints one line per new crossing. What makes it exactly-once (docs/mqtt.md, "Subscribers"):
a fixed client id with a persistent session (the broker keeps QoS 1 messages while it is
away), manual acknowledgement after the database commit (a crash before it means a
redelivery, never a loss) and a primary key on the crossing's identity (a redelivery or a
device's resend is ignored). A shared subscription lets several copies split the work.
"""

import argparse
import json
import sqlite3
import sys
from datetime import UTC, datetime
from urllib.parse import urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

SCHEMA = """CREATE TABLE IF NOT EXISTS crossing (
    device_id TEXT, outbox_id TEXT, seq INTEGER, epoch INTEGER, ts REAL, line TEXT,
    direction TEXT, class TEXT, PRIMARY KEY (device_id, outbox_id, seq, epoch))"""


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("url", help="mqtt://host:port")
    p.add_argument("--prefix", default="edge", help="the devices' mqtt.topic_prefix")
    p.add_argument("--group", default="reports", help="shared subscription group")
    p.add_argument("--client-id", default="reports-1", help="fixed: it names the session")
    p.add_argument("--db", default="crossings.sqlite")
    args = p.parse_args()
    db = sqlite3.connect(args.db)
    db.execute(SCHEMA)
    topic = f"$share/{args.group}/{args.prefix}/v1/+/+/events/+"

    def on_connect(client, _userdata, _flags, reason, _props):
        if reason.is_failure:
            print(f"refused: {reason}", file=sys.stderr)
        else:  # on every connect: a restarted broker may have lost a $share subscription
            client.subscribe(topic, qos=1)

    def on_subscribe(_client, _userdata, _mid, reasons, _props):
        print(f"subscribed to {topic}: {reasons[0]}", file=sys.stderr, flush=True)

    def on_message(client, _userdata, msg):
        try:
            body = json.loads(msg.payload)
            events = body["events"] if body.get("v") == 1 and body.get("type") == "events" else []
        except (ValueError, KeyError, TypeError):
            events = []  # not ours or malformed: acknowledge and drop
        with db:  # one transaction per message; the key makes repeats no-ops
            for e in events:
                row = (
                    e["device_id"],
                    e.get("outbox_id", ""),
                    e["seq"],
                    e["epoch"],
                    e["ts"],
                    e["line"],
                    e["direction"],
                    e["class"],
                )
                if db.execute(
                    "INSERT OR IGNORE INTO crossing VALUES (?,?,?,?,?,?,?,?)", row
                ).rowcount:
                    when = datetime.fromtimestamp(e["ts"], UTC).isoformat(timespec="seconds")
                    print(when, *row[:3], *row[5:], flush=True)
        client.ack(msg.mid, msg.qos)  # only now may the broker forget it

    url = urlsplit(args.url)
    client = mqtt.Client(
        mqtt.CallbackAPIVersion.VERSION2,
        client_id=args.client_id,
        protocol=mqtt.MQTTv5,
        manual_ack=True,
    )
    client.on_connect, client.on_subscribe = on_connect, on_subscribe
    client.on_message = on_message
    session = Properties(PacketTypes.CONNECT)
    session.SessionExpiryInterval = 7 * 86_400  # the broker keeps our messages for a week
    client.connect(url.hostname, url.port or 1883, clean_start=False, properties=session)
    client.loop_forever()


if __name__ == "__main__":
    main()
