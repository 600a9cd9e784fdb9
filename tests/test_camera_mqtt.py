"""``--mqtt``: a real Mosquitto broker (started here, on a free 127.0.0.1 port) and a real paho
subscriber receive the numbers the demo reads, its availability and Home Assistant discovery,
including across a broker restart in the middle of the run.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import socket
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from camera_servers import DemoProcess, MjpegCamera, digit_frame, free_port, random_model
from system_tools import Mosquitto, require_module

from camera_demo.mqtt import (
    PASSWORD_ENV,
    MqttPublisher,
    _sent_or_failed,
    discovery_config,
    discovery_prefix,
    node_id_for,
    parse_mqtt_url,
)
from camera_demo.pipeline import DigitReading, FrameReading
from camera_demo.sources import Frame, redact_url
from runtime.errors import DigitKitError

TOPIC = "digits/test"
AVAILABILITY = f"{TOPIC}/availability"
DISCOVERY = f"homeassistant/sensor/{node_id_for(TOPIC)}/number/config"


# ---------------------------------------------------------------- URL parsing (no broker)


def test_mqtt_urls():
    plain = parse_mqtt_url("mqtt://broker.lan/home/meter")
    assert (plain.host, plain.port, plain.topic, plain.tls) == (
        "broker.lan",
        1883,
        "home/meter",
        False,
    )
    secure = parse_mqtt_url("mqtts://ha:p%40ss@broker:8884/meter")
    assert (secure.port, secure.tls, secure.username, secure.password) == (8884, True, "ha", "p@ss")
    assert parse_mqtt_url("mqtts://broker/m").port == 8883
    from_env = parse_mqtt_url("mqtt://ha@broker/m", environ={PASSWORD_ENV: "secret"})
    assert from_env.password == "secret"
    assert "secret" not in from_env.redacted() and "p@ss" not in secure.redacted()
    for bad in (
        "http://b/t",
        "mqtt://b",
        "mqtt://b/",
        "mqtt://b/a/+",
        "mqtt://b/a/#",
        "mqtt://b:x/t",
        "mqtt://b:0/t",
        "mqtt://b/t?x=1",
    ):
        with pytest.raises(ValueError):
            parse_mqtt_url(bad)
    with pytest.raises(ValueError, match="'mqtt://b/a/#'"):  # named whole, not cut at the #
        parse_mqtt_url("mqtt://b/a/#")
    with pytest.raises(ValueError, match="no topic after the broker in 'mqtt://b:1883/'"):
        parse_mqtt_url("mqtt://b:1883/")


def test_a_discovery_prefix_with_a_wildcard_is_refused_at_start():
    # paho refuses every publish to a topic with a wildcard: the publisher thread died.
    assert discovery_prefix("homeassistant") == "homeassistant"
    assert discovery_prefix("") == ""  # no discovery config
    assert discovery_prefix("home/ha") == "home/ha"
    for bad in ("a/+", "#", "a/#/b", "/ha", "ha/", "a\0b"):
        with pytest.raises(argparse.ArgumentTypeError, match="without \\+ #"):
            discovery_prefix(bad)


def test_topics_that_do_not_fit_a_node_id_still_get_their_own():
    # Non-ASCII topics all became "digit_kit_", so their discovery configs overwrote each other.
    ids = {node_id_for(topic) for topic in ("счётчик", "счётчик/газ", "水道", "x" * 200, "x" * 201)}
    assert len(ids) == 5
    assert all(re.fullmatch(r"digit_kit_[A-Za-z0-9_-]{1,52}", node) for node in ids)
    assert node_id_for("home/meter") == "digit_kit_home_meter"  # ids already in use stay


def test_topics_that_read_alike_get_node_ids_of_their_own():
    # "home_meter", "home.meter" and "home meter" all became "digit_kit_home_meter", the node
    # id of "home/meter" too: two kits on one broker overwrote each other's discovery config.
    topics = ("home/meter", "home_meter", "home.meter", "home meter", "home//meter", "home/_meter")
    ids = [node_id_for(topic) for topic in topics]
    assert len(set(ids)) == len(topics)
    assert all(re.fullmatch(r"[A-Za-z0-9_-]+", node) for node in ids)
    # Stable from one start (or kit version) to the next: Home Assistant keys its entities on it.
    assert ids[:2] == ["digit_kit_home_meter", "digit_kit_home_meter__921156f925"]
    # A plain topic that reads like another's id and digest still has its own.
    assert node_id_for("home/meter/921156f925") != node_id_for("home_meter")
    assert node_id_for("gas-meter/1") == "digit_kit_gas-meter_1"


def test_a_long_topic_keeps_host_and_process_in_the_client_id(monkeypatch):
    # The id was cut at 64 characters after the host and process id: two processes with one
    # long topic shared a client id, and the broker dropped one whenever the other connected.
    monkeypatch.setattr(socket, "gethostname", lambda: "kitchen-pi")
    publisher = MqttPublisher(parse_mqtt_url(f"mqtt://127.0.0.1:1/{'meter/' * 20}gas"))
    assert len(publisher.client_id) <= 64
    assert publisher.client_id.endswith(f"-kitchen-pi-{os.getpid()}")
    assert publisher.client_id.startswith("digit_kit_meter_meter")


def test_a_topic_longer_than_mqtt_allows_is_refused_at_start():
    # paho's publisher thread died with a struct.error and the demo exited 0.
    longest = "t" * (65_535 - len("/availability"))
    assert parse_mqtt_url(f"mqtt://broker/{longest}").topic == longest
    with pytest.raises(ValueError, match="the topic is too long: 65,536 bytes"):
        parse_mqtt_url(f"mqtt://broker/{longest}t")
    with pytest.raises(ValueError, match="NUL"):
        parse_mqtt_url("mqtt://broker/a%00b")


def test_discovery_config_makes_a_home_assistant_sensor():
    config = discovery_config("home/meter", node_id_for("home/meter"), "1.0")
    assert node_id_for("home/meter") == "digit_kit_home_meter"
    assert config["state_topic"] == "home/meter"
    assert config["availability_topic"] == "home/meter/availability"
    assert config["unique_id"] == "digit_kit_home_meter_number"
    assert config["value_template"] == (
        "{{ (value_json.numbers if value_json.numbers is defined "
        "else [value_json.number]) | join(' ') }}"
    )
    assert config["device"]["identifiers"] == ["digit_kit_home_meter"]


# ---------------------------------------------------------------- what paho reports sent


def a_reading(index: int, number: str) -> tuple[Frame, FrameReading]:
    digits = tuple(
        DigitReading(int(c), 0.9, (40 + 60 * i, 40, 50, 80), i) for i, c in enumerate(number)
    )
    return Frame(index, np.zeros((4, 4), np.uint8)), FrameReading(index, digits)


class HeldPublishes:
    """Stands in for paho's ``publish``: queues each message (rc 0) and reports none sent
    until ``report`` says so, as paho's network thread does through ``on_publish``."""

    def __init__(self, client) -> None:
        self.client = client
        self.messages: list[tuple[str, object]] = []  # (topic, MQTTMessageInfo)
        self.report_at_once = False

    def __call__(self, topic, payload=None, qos=0, retain=False):
        from paho.mqtt.client import MQTTMessageInfo

        info = MQTTMessageInfo(len(self.messages) + 1)
        info.rc = 0
        self.messages.append((topic, info))
        if self.report_at_once:  # paho's thread sending it before publish returns
            self.report(info.mid)
        return info

    def report(self, mid: int) -> None:
        from paho.mqtt.packettypes import PacketTypes
        from paho.mqtt.properties import Properties
        from paho.mqtt.reasoncodes import ReasonCode

        success = ReasonCode(PacketTypes.PUBACK, identifier=0)
        self.client.on_publish(self.client, None, mid, success, Properties(PacketTypes.PUBACK))

    def wait_for(self, count: int) -> list[tuple[str, object]]:
        deadline = time.monotonic() + 5
        while len(self.messages) < count and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(self.messages) == count, self.messages
        return self.messages


def published_after(publisher: MqttPublisher, seconds: float) -> int:
    """``published`` once the publisher thread has had ``seconds`` to count what it would."""
    time.sleep(seconds)
    return publisher.status()["mqtt"]["published"]


def published_once(publisher: MqttPublisher, expected: int, timeout: float = 5.0) -> int:
    """``published`` as soon as it is ``expected``, or at the timeout."""
    deadline = time.monotonic() + timeout
    while publisher.status()["mqtt"]["published"] != expected and time.monotonic() < deadline:
        time.sleep(0.01)
    return publisher.status()["mqtt"]["published"]


def test_published_counts_the_readings_paho_reports_sent_not_those_handed_to_it():
    # It counted every reading paho accepted into its queue: a connection that dropped before
    # paho wrote them (paho then drops them) or a broker not reading still counted as published.
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.reasoncodes import ReasonCode

    publisher = MqttPublisher(parse_mqtt_url("mqtt://127.0.0.1:1/digits/test"))
    held = HeldPublishes(publisher._client)
    publisher._client.publish = held
    connack = ReasonCode(PacketTypes.CONNACK, identifier=0)
    publisher._thread.start()  # the publisher thread alone: no network
    try:
        publisher._on_connect(None, None, None, connack, None)
        publisher.observe(*a_reading(0, "42"), {}, 10.0)
        online, config, first = held.wait_for(3)
        assert [online[0], config[0], first[0]] == [AVAILABILITY, DISCOVERY, TOPIC]
        assert published_after(publisher, 0.2) == 0  # handed over, not reported sent
        held.report(online[1].mid)
        held.report(config[1].mid)
        assert published_after(publisher, 0.2) == 0  # counts readings only
        held.report(first[1].mid)
        assert published_once(publisher, 1) == 1

        held.report_at_once = True  # paho's thread may report before publish returns
        publisher.observe(*a_reading(1, "7"), {}, 10.0)
        held.wait_for(4)
        assert published_once(publisher, 2) == 2

        held.report_at_once = False
        publisher.observe(*a_reading(2, "8"), {}, 10.0)
        held.wait_for(5)
        dropped = ReasonCode(PacketTypes.DISCONNECT, identifier=0)
        publisher._on_disconnect(None, None, None, dropped, None)
        publisher._on_connect(None, None, None, connack, None)  # paho dropped the unsent one
        *_, again = held.wait_for(8)  # availability, discovery and the latest, again
        assert published_after(publisher, 0.2) == 2
        held.report(again[1].mid)
        assert published_once(publisher, 3) == 3
    finally:
        publisher.connected = False  # no goodbye to wait for
        publisher.close()


# ---------------------------------------------------------------- with a broker


@dataclass
class Message:
    at: float  # time.time() when received
    topic: str
    payload: str
    retain: bool


class Subscriber:
    """A paho client that records every message on ``topics``, resubscribing after reconnects."""

    def __init__(self, port: int, topics: list[str]) -> None:
        require_module("paho.mqtt", "mqtt")
        import paho.mqtt.client as mqtt

        self.messages: list[Message] = []
        self._lock = threading.Lock()
        client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id=f"test-{os.getpid()}-{port}"
        )
        client.on_connect = lambda c, u, f, reason, p: c.subscribe([(t, 1) for t in topics])
        client.on_message = self._on_message
        client.reconnect_delay_set(1, 1)
        client.connect_async("127.0.0.1", port)
        client.loop_start()
        self.client = client

    def _on_message(self, client, userdata, message) -> None:
        with self._lock:
            self.messages.append(
                Message(time.time(), message.topic, message.payload.decode(), bool(message.retain))
            )

    def on(self, topic: str) -> list[Message]:
        with self._lock:
            return [m for m in self.messages if m.topic == topic]

    def wait_for(self, topic: str, predicate, timeout: float) -> Message:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for message in self.on(topic):
                if predicate(message):
                    return message
            time.sleep(0.05)
        raise AssertionError(f"no matching message on {topic} in {timeout} s: {self.on(topic)}")

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def broker(tmp_path):
    server = Mosquitto(free_port(), tmp_path).start()
    yield server
    server.stop()


@pytest.fixture
def subscriber(broker):
    client = Subscriber(broker.port, [TOPIC, AVAILABILITY, "homeassistant/#"])
    deadline = time.monotonic() + 10
    while not client.client.is_connected() and time.monotonic() < deadline:
        time.sleep(0.05)
    yield client
    client.close()


@pytest.fixture(scope="module")
def plumbing_model(tmp_path_factory) -> Path:
    return random_model(tmp_path_factory.mktemp("model") / "random.tflite")


def changes(jsonl: Path) -> list[dict]:
    return [json.loads(line) for line in jsonl.read_text().splitlines()]


def states(subscriber: Subscriber) -> list[dict]:
    return [json.loads(m.payload) for m in subscriber.on(TOPIC)]


def mqtt_demo(model: Path, source: str, port: int, jsonl: Path, *extra: str) -> DemoProcess:
    return DemoProcess(
        [
            "--model",
            str(model),
            "--source",
            source,
            "--headless",
            "--jsonl",
            str(jsonl),
            "--changes-only",
            "--mqtt",
            f"mqtt://127.0.0.1:{port}/{TOPIC}",
            *extra,
        ]
    )


def test_changes_availability_and_discovery_reach_a_subscriber(
    plumbing_model, broker, subscriber, tmp_path
):
    frames = [digit_frame("42")] * 8 + [digit_frame("7")] * 8
    jsonl = tmp_path / "changes.jsonl"
    with (
        MjpegCamera(frames, fps=25) as camera,
        mqtt_demo(plumbing_model, camera.url, broker.port, jsonl, "--threshold", "0") as demo,
    ):
        subscriber.wait_for(TOPIC, lambda m: True, 30)
        deadline = time.monotonic() + 30
        while len(states(subscriber)) < 4 and time.monotonic() < deadline:
            time.sleep(0.05)
        code, elapsed = demo.signal_and_wait(signal.SIGTERM)
    assert code == 0 and elapsed < 2.0, demo.stderr
    assert "MQTT connected to mqtt://127.0.0.1:" in demo.stderr

    written = [(r["frame"], r["number"]) for r in changes(jsonl)]
    received = [(s["frame"], s["number"]) for s in states(subscriber)]
    assert len(received) >= 4
    assert received[0] == written[0] and received[-1] == written[-1]  # the last one too, at stop
    iterator = iter(written)
    assert all(item in iterator for item in received)  # in order; a change may be skipped
    payload = states(subscriber)[-1]
    assert set(payload) >= {"number", "digits", "time", "frame"}
    assert all(set(d) == {"digit", "confidence", "accepted", "box"} for d in payload["digits"])

    availability = [m.payload for m in subscriber.on(AVAILABILITY)]
    assert availability[0] == "online" and availability[-1] == "offline"
    config = json.loads(subscriber.wait_for(DISCOVERY, lambda m: True, 5).payload)
    assert config["state_topic"] == TOPIC and config["availability_topic"] == AVAILABILITY
    assert config["unique_id"] == f"{node_id_for(TOPIC)}_number"


def test_the_last_will_says_offline_when_the_reader_dies(
    plumbing_model, broker, subscriber, tmp_path
):
    with (
        MjpegCamera([digit_frame("5")], fps=25) as camera,
        mqtt_demo(plumbing_model, camera.url, broker.port, tmp_path / "c.jsonl") as demo,
    ):
        subscriber.wait_for(AVAILABILITY, lambda m: m.payload == "online", 30)
        demo.kill()  # SIGKILL: no goodbye; the broker publishes the will
        subscriber.wait_for(AVAILABILITY, lambda m: m.payload == "offline", 10)


def test_published_follows_what_a_real_broker_was_sent(broker, subscriber):
    publisher = MqttPublisher(parse_mqtt_url(f"mqtt://127.0.0.1:{broker.port}/{TOPIC}")).start()
    try:
        for index, number in enumerate(["1", "12", "123"]):
            publisher.observe(*a_reading(index, number), {}, 10.0)
            subscriber.wait_for(TOPIC, lambda m, n=number: json.loads(m.payload)["number"] == n, 10)
        assert published_once(publisher, 3) == 3
        assert publisher.status()["mqtt"]["connected"]
    finally:
        publisher.close()


def retained(port: int, topic: str, timeout: float = 5.0) -> str | None:
    """The retained message on ``topic``, as a new subscriber gets it."""
    client = Subscriber(port, [topic])
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            found = client.on(topic)
            if found:
                return found[-1].payload
            time.sleep(0.05)
        return None
    finally:
        client.close()


@pytest.mark.slow
def test_numbers_from_a_video_reach_a_subscriber_across_a_broker_restart(
    tflite_models, mnist, broker, subscriber, tmp_path
):
    from camera_demo import synth

    video = tmp_path / "sample.mp4"
    synth.write_video(video, mnist.x_test, mnist.y_test, 240, seed=5, hold=8)
    jsonl = tmp_path / "changes.jsonl"
    model = Path(tflite_models["int8"])
    # --max-fps 16: a new page every half second, for 15 s.
    with mqtt_demo(model, str(video), broker.port, jsonl, "--max-fps", "16") as demo:
        subscriber.wait_for(TOPIC, lambda m: True, 30)
        time.sleep(2.0)
        broker.stop()
        down = time.time()
        time.sleep(2.5)  # the demo keeps reading; the numbers change meanwhile
        broker.start()
        up = time.time()
        assert demo.wait(90) == 0, demo.stderr
    written = changes(jsonl)
    assert "MQTT connection to" in demo.stderr and "MQTT reconnected" in demo.stderr

    received = [(m.at, json.loads(m.payload)) for m in subscriber.on(TOPIC)]
    before = [s for at, s in received if at < down]
    after = [s for at, s in received if at > up]
    assert len(before) >= 2 and after
    # Every message is a change the demo read, in order.
    iterator = iter([(r["frame"], r["number"]) for r in written])
    assert all((s["frame"], s["number"]) in iterator for _, s in received)
    # Changes happened while the broker was away, and the newest of them (or a later one)
    # is what the subscriber got first once both were back.
    during = [r for r in written if down < r["time"] < up]
    assert during, "no change while the broker was down: the test proves nothing"
    assert after[0]["frame"] >= during[-1]["frame"]
    assert after[0]["frame"] > before[-1]["frame"]
    # At the end, the broker's retained value is the last number read, and the reader is offline.
    assert after[-1]["number"] == written[-1]["number"]
    assert json.loads(retained(broker.port, TOPIC))["frame"] == written[-1]["frame"]
    assert retained(broker.port, AVAILABILITY) == "offline"
    onlines = [m for m in subscriber.on(AVAILABILITY) if m.payload == "online" and m.at > up]
    assert onlines, "the availability was not announced again after the restart"
    assert subscriber.on(DISCOVERY)[-1].at > up  # discovery re-sent for a broker that forgot it
    # The demo read real digits: many changes it published are numbers of the video
    truths = {t.number for t in synth.load_truth(synth.truth_path(video))}
    # (Measured 0.51 with the 6-epoch test model: a misread digit publishes a change too.)
    assert sum(s["number"] in truths for _, s in received) >= 0.4 * len(received)


def test_a_missing_system_program_skips_or_fails_in_ci(monkeypatch):
    import system_tools

    monkeypatch.setitem(
        system_tools.PROGRAMS, "no-such-broker", ("/nonexistent/no-such-broker", "no-such-pkg")
    )
    monkeypatch.delenv(system_tools.REQUIRE_ENV, raising=False)
    with pytest.raises(pytest.skip.Exception, match="apt-get install no-such-pkg"):
        system_tools.require("no-such-broker")
    monkeypatch.setenv(system_tools.REQUIRE_ENV, "1")
    with pytest.raises(pytest.fail.Exception, match="requires the system tests to run"):
        system_tools.require("no-such-broker")


def test_errors_and_logs_never_show_a_password():
    with pytest.raises(ValueError) as info:
        parse_mqtt_url("mqtt://ha:s3cret@broker:99999/meter")
    assert "s3cret" not in str(info.value) and "ha:***@broker" in str(info.value)
    camera = "http://admin:p%40ss@cam.lan/videostream.cgi?user=admin&pwd=s3cret"
    assert redact_url(camera) == "http://admin:***@cam.lan/videostream.cgi?user=***&pwd=***"
    for password in ("p@ss/w0rd", "a?b@c#d", "x@y@z"):
        shown = redact_url(f"rtsp://admin:{password}@cam.lan:554/live")
        assert shown == "rtsp://admin:***@cam.lan:554/live", shown


def test_a_broker_refusing_again_and_again_is_said_now_and_then(caplog):
    """A wrong password retried every 30 s for days: the 1st, 10th and every 100th refusal."""
    from paho.mqtt.reasoncodes import ReasonCode

    publisher = MqttPublisher(parse_mqtt_url("mqtt://ha:wrong@127.0.0.1:1/meter"))
    refused = ReasonCode(2, identifier=135)  # CONNACK "Not authorized"
    with caplog.at_level("WARNING", logger="camera_demo"):
        for _ in range(120):
            publisher._on_connect(None, None, None, refused, None)
    said = [record.getMessage() for record in caplog.records]
    assert len(said) == 3 and all("Not authorized" in text for text in said)
    assert "(100 attempts: " in said[-1] and "wrong" not in " ".join(said)


def test_a_broker_that_never_answers_the_handshake_is_said(caplog):
    """A port that accepts the connection but never answers (a wrong port, a proxy): paho
    disconnects without ever having connected, which was said nowhere but /api/health."""
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.reasoncodes import ReasonCode

    publisher = MqttPublisher(parse_mqtt_url("mqtt://127.0.0.1:1/meter"))
    unanswered = ReasonCode(PacketTypes.DISCONNECT, identifier=141)  # "Keep alive timeout"
    with caplog.at_level("WARNING", logger="camera_demo"):
        publisher._on_disconnect(None, None, None, unanswered, None)
        publisher.connected = True
        publisher._on_disconnect(None, None, None, unanswered, None)
    said = [record.getMessage() for record in caplog.records]
    assert len(said) == 2
    assert "did not answer the MQTT handshake (1 attempt: Keep alive timeout)" in said[0]
    assert "connection to mqtt://127.0.0.1:1/meter lost (Keep alive timeout)" in said[1]


def test_paho_1_x_is_named_not_a_traceback(monkeypatch):
    """Debian's python3-paho-mqtt (1.x) seen through --system-site-packages has no
    CallbackAPIVersion."""
    import types

    import paho.mqtt

    old_client = types.ModuleType("paho.mqtt.client")
    monkeypatch.setitem(sys.modules, "paho.mqtt.client", old_client)
    monkeypatch.setattr(paho.mqtt, "client", old_client, raising=False)
    with pytest.raises(DigitKitError, match=r"needs paho-mqtt 2\.x, found .*pip install"):
        MqttPublisher(parse_mqtt_url("mqtt://127.0.0.1/meter"))


def test_a_goodbye_paho_could_not_send_ends_the_wait_for_it():
    """The connection can close between ``connected`` and the goodbye's publish: paho then
    raises from ``is_published`` (not connected), which must not escape ``close``."""

    class Info:
        def __init__(self, outcome) -> None:
            self.outcome = outcome

        def is_published(self) -> bool:
            if isinstance(self.outcome, Exception):
                raise self.outcome
            return self.outcome

    assert _sent_or_failed(Info(RuntimeError("Message publish failed: no connection")))
    assert _sent_or_failed(Info(ValueError("Message is not queued due to ERR_QUEUE_SIZE")))
    assert _sent_or_failed(Info(True)) and not _sent_or_failed(Info(False))
