"""``--mqtt``: each change of the numbers read published to an MQTT broker, with Home Assistant discovery.

Topics, for ``--mqtt mqtt://broker/home/meter``:

- ``home/meter``: the reading as JSON (``number``, ``numbers``, ``digits``, ``time``,
  ``frame``), retained, published when the numbers read change;
- ``home/meter/availability``: ``online`` / ``offline`` (retained; ``offline`` is also the
  last will, which the broker publishes if the demo dies without saying goodbye);
- ``homeassistant/sensor/<node_id>/number/config``: Home Assistant MQTT discovery (retained),
  so the number appears as a sensor with no set-up.

The reading loop only hands a change over (``observe``: a compare, and on a change a small
dict under a lock). A publisher thread sends it; paho-mqtt's own thread (``loop_start``) does
the network and reconnects with back-off while the demo keeps reading. Only the newest
change waits while the broker is away, and it is published when the connection comes back
(with the availability and the discovery config, since a restarted broker may have lost its
retained messages).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import re
import socket
import ssl
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from camera_demo.output import frame_record
from camera_demo.pipeline import FrameReading
from camera_demo.resources import Closable
from camera_demo.sources import Frame, host_and_port, redact_url
from runtime.errors import DigitKitError

log = logging.getLogger("camera_demo")

PASSWORD_ENV = "DIGIT_KIT_MQTT_PASSWORD"
DISCOVERY_PREFIX = "homeassistant"
# The state goes out at QoS 0 and is re-sent after every (re)connection. At QoS 1 paho would
# re-send, after a reconnection, messages that were in flight when the connection dropped:
# older values that could land after the newest and become the retained one.
STATE_QOS = 0
GOODBYE_QOS = 1  # the will and the clean-stop "offline": acknowledged, so a stop can wait for it
KEEPALIVE_S = 30
RECONNECT_MIN_S = 1
RECONNECT_MAX_S = 30
CONNECT_TIMEOUT_S = 5.0
GOODBYE_WAIT_S = 0.5  # how long a clean stop waits for "offline" to reach the broker
MAX_QUEUED = 100  # paho's own queue of unsent messages, bounded
# MQTT's wildcards, and NUL, which no topic may hold
_NOT_IN_TOPICS = "+#\0"
# A topic is a length-prefixed UTF-8 string: at most 65,535 bytes (MQTT 3.1.1, 1.5.3)
_MAX_TOPIC_BYTES = 65_535
_AVAILABILITY = "/availability"
_NODE_ID_CHARACTERS = 40
_CLIENT_ID_CHARACTERS = 64
_HOST_CHARACTERS = 24
# Topics that read back from their node id: levels of ASCII letters, digits and -, apart by /
_PLAIN_TOPIC = re.compile(r"[A-Za-z0-9-]+(?:/[A-Za-z0-9-]+)*")


@dataclass(frozen=True)
class MqttTarget:
    """A parsed ``mqtt://`` / ``mqtts://`` URL."""

    host: str
    port: int
    topic: str
    tls: bool
    username: str | None = None
    password: str | None = None

    def redacted(self) -> str:
        """The URL for logs, without the password."""
        scheme = "mqtts" if self.tls else "mqtt"
        user = f"{self.username}@" if self.username else ""
        return f"{scheme}://{user}{host_and_port(self.host, self.port)}/{self.topic}"


def discovery_prefix(text: str) -> str:
    """An argparse type for ``--mqtt-discovery-prefix``: '' (no discovery) or a topic prefix
    without wildcards (a wildcard in a topic makes paho refuse every publish to it)."""
    if text and (
        text.startswith("/") or text.endswith("/") or any(c in text for c in _NOT_IN_TOPICS)
    ):
        raise argparse.ArgumentTypeError(
            f"expected a topic prefix such as homeassistant, without + # or a leading or "
            f"trailing /, got {text!r}"
        )
    return text


def parse_mqtt_url(text: str, environ: dict[str, str] | None = None) -> MqttTarget:
    """Parse ``mqtt[s]://[user[:password]@]host[:port]/topic``; raise ``ValueError`` if malformed.

    Without a password in the URL, one is taken from ``$DIGIT_KIT_MQTT_PASSWORD`` (so it need
    not appear in the process list).
    """
    environ = os.environ if environ is None else environ
    parts = urlsplit(text.strip())
    if parts.scheme not in ("mqtt", "mqtts"):
        raise ValueError(
            f"expected mqtt://[user:pass@]host[:port]/topic or mqtts://..., got {redact_url(text)!r}"
        )
    try:
        port = parts.port
    except ValueError:
        raise ValueError(f"bad port in {redact_url(text)!r}") from None
    if port == 0:  # urlsplit's 0 is a port no broker listens on, not "the default port"
        raise ValueError(f"bad port in {redact_url(text)!r}: port 0")
    if not parts.hostname:
        raise ValueError(f"no broker host in {redact_url(text)!r}")
    if "#" in text:  # urlsplit would take it for a fragment and quote the topic cut short
        raise ValueError(f"the topic may not hold the wildcards + and #, got {redact_url(text)!r}")
    topic = unquote(parts.path.lstrip("/"))
    if not topic:
        raise ValueError(
            f"no topic after the broker in {redact_url(text)!r}: give one, as in "
            "mqtt://broker/home/meter"
        )
    if topic.endswith("/") or any(c in topic for c in _NOT_IN_TOPICS):
        raise ValueError(
            f"expected a topic without the wildcards + # or a NUL character after the host, as "
            f"in mqtt://broker/home/meter, "
            f"got {topic!r}"
        )
    size = len(f"{topic}{_AVAILABILITY}".encode("utf-8", "surrogateescape"))
    if size > _MAX_TOPIC_BYTES:
        raise ValueError(
            f"the topic is too long: {size:,} bytes with its {_AVAILABILITY} subtopic, MQTT "
            f"allows {_MAX_TOPIC_BYTES:,}"
        )
    if parts.query:
        raise ValueError(f"unexpected ?query in {redact_url(text)!r}")
    tls = parts.scheme == "mqtts"
    username = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password is not None else None
    if username and password is None:
        password = environ.get(PASSWORD_ENV) or None
    return MqttTarget(
        parts.hostname, port or (8883 if tls else 1883), topic, tls, username, password
    )


def node_id_for(topic: str) -> str:
    """A Home Assistant node id derived from the topic (discovery allows ``[a-zA-Z0-9_-]``),
    the same at every start, and never the same for two topics.

    A plain topic (``home/meter``: ASCII letters, digits and ``-`` between single ``/``, up to
    40 characters) is its node id with ``/`` as ``_``. Any other topic gets a digest of itself
    too, after ``__``, which no plain topic's id holds: ``home_meter``, ``home.meter`` or
    ``/home/meter`` would all read ``home_meter``, and two kits with such topics overwrote each
    other's discovery config.
    """
    readable = re.sub(r"[^A-Za-z0-9_-]+", "_", topic).strip("_")
    if _PLAIN_TOPIC.fullmatch(topic) and len(readable) <= _NODE_ID_CHARACTERS:
        return f"digit_kit_{readable}"
    digest = hashlib.sha256(topic.encode("utf-8", "surrogateescape")).hexdigest()[:10]
    return f"digit_kit_{readable[:_NODE_ID_CHARACTERS]}__{digest}"


def discovery_config(topic: str, node_id: str, version: str) -> dict:
    """The Home Assistant MQTT discovery payload of the number sensor."""
    return {
        "name": "Number",
        "unique_id": f"{node_id}_number",
        "state_topic": topic,
        # The numbers as written, apart by a space: one number for a meter, "305 61" for a page.
        # A retained payload from before numbers were grouped has only "number".
        "value_template": (
            "{{ (value_json.numbers if value_json.numbers is defined "
            "else [value_json.number]) | join(' ') }}"
        ),
        "json_attributes_topic": topic,
        "availability_topic": f"{topic}{_AVAILABILITY}",
        "payload_available": "online",
        "payload_not_available": "offline",
        "icon": "mdi:numeric",
        "device": {
            "identifiers": [node_id],
            "name": f"digit-kit {topic}",
            "manufacturer": "digit-kit",
            "model": "handwritten digit reader",
            "sw_version": version,
        },
        "origin": {"name": "digit-kit", "sw_version": version},
    }


def reading_payload(frame: Frame, reading: FrameReading) -> dict:
    """The JSON published on a change: number, numbers, digits (confidence, accepted, box),
    time, frame."""
    record = frame_record(reading, {}, frame.name)
    record.pop("ms", None)
    return record


def _version(distribution: str = "digit-kit") -> str:
    try:
        from importlib.metadata import version

        return version(distribution)
    except Exception:  # not installed as a distribution (a plain checkout)
        return "unknown"


def _sent_or_failed(info: Any) -> bool:
    """Whether a publish has completed, or never will: paho raises for one it could not queue
    or send (the connection closed after ``connected`` was last seen true)."""
    try:
        return bool(info.is_published())
    except (RuntimeError, ValueError):
        return True


class MqttPublisher(Closable):
    """Publishes changes of the numbers read to ``target.topic``; ``observe`` never blocks."""

    def __init__(
        self,
        target: MqttTarget,
        ca_file: Path | None = None,
        discovery_prefix: str = DISCOVERY_PREFIX,
    ) -> None:
        try:
            import paho.mqtt.client as mqtt
        except ImportError as exc:
            raise DigitKitError(
                "--mqtt needs paho-mqtt 2.x: pip install 'digit-kit[mqtt]'"
            ) from exc
        if not hasattr(mqtt, "CallbackAPIVersion"):  # 1.x, e.g. Debian's python3-paho-mqtt
            raise DigitKitError(
                f"--mqtt needs paho-mqtt 2.x, found {_version('paho-mqtt')} (a system package seen "
                "through --system-site-packages?): pip install 'digit-kit[mqtt]'"
            )
        self.target = target
        self.availability_topic = f"{target.topic}{_AVAILABILITY}"
        self.node_id = node_id_for(target.topic)
        self.discovery_topic = (
            f"{discovery_prefix}/sensor/{self.node_id}/number/config" if discovery_prefix else None
        )
        self._discovery = json.dumps(discovery_config(target.topic, self.node_id, _version()))
        self._cond = threading.Condition()
        self._pending: str | None = None  # the newest unpublished change (JSON)
        self._latest: str | None = None  # the newest change, published or not
        self._last_shown: str | None = None
        self._connections = 0  # successful connections so far
        self._announced = 0  # connections whose availability/discovery/latest were sent
        self.connected = False
        self.published = 0  # readings paho reported sent (on_publish), not just handed to it
        # Messages handed to paho and not yet reported sent (mid -> whether a reading), and
        # mids paho reported before ``publish`` returned them to this thread.
        self._sent_lock = threading.Lock()
        self._unsent: dict[int, bool] = {}
        self._sent_early: set[int] = set()
        self._closing = threading.Event()

        self._client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=self.client_id)
        if target.username:
            self._client.username_pw_set(target.username, target.password)
        if target.tls:
            if ca_file is not None and not ca_file.is_file():
                raise DigitKitError(f"--mqtt-ca {ca_file}: no such file")
            try:
                # ca_certs=None: the system's CA store, like a browser.
                self._client.tls_set(
                    ca_certs=str(ca_file) if ca_file else None, cert_reqs=ssl.CERT_REQUIRED
                )
            except (ssl.SSLError, OSError) as exc:
                raise DigitKitError(f"--mqtt-ca {ca_file}: not a usable CA file ({exc})") from exc
        self._client.will_set(self.availability_topic, "offline", qos=GOODBYE_QOS, retain=True)
        self._client.reconnect_delay_set(RECONNECT_MIN_S, RECONNECT_MAX_S)
        self._client.connect_timeout = CONNECT_TIMEOUT_S
        self._client.max_queued_messages_set(MAX_QUEUED)
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_connect_fail = self._on_connect_fail
        self._client.on_publish = self._on_publish
        self._failures = 0
        self._thread = threading.Thread(
            target=self._publish_loop, name="mqtt-publisher", daemon=True
        )

    # ------------------------------------------------------------ the reading loop's side

    def observe(
        self, frame: Frame, reading: FrameReading, timings_ms: dict[str, float], fps: float
    ) -> None:
        """Called for every frame: hands a change of the numbers read to the publisher thread."""
        if reading.shown == self._last_shown:
            return
        self._last_shown = reading.shown
        payload = json.dumps(reading_payload(frame, reading), separators=(",", ":"))
        with self._cond:
            self._pending = self._latest = payload
            self._cond.notify()

    # ------------------------------------------------------------ paho's thread

    def _on_connect(
        self, client: Any, userdata: Any, flags: Any, reason: Any, properties: Any
    ) -> None:
        if reason.is_failure:
            self._connection_failed("refused the connection", reason)
            return
        with self._sent_lock:
            # paho dropped the QoS 0 messages the last connection had not sent: never reported.
            # Reports of messages this thread never learned (a QoS 1 goodbye refused for want
            # of a connection, sent later) must not match a new message's reused id.
            self._unsent.clear()
            self._sent_early.clear()
        with self._cond:
            self.connected = True
            self._connections += 1
            self._failures = 0
            self._cond.notify()
        again = "re" if self._connections > 1 else ""
        log.info("MQTT %sconnected to %s", again, self.target.redacted())

    def _on_disconnect(
        self, client: Any, userdata: Any, flags: Any, reason: Any, properties: Any
    ) -> None:
        with self._cond:
            was_connected, self.connected = self.connected, False
        if self._closing.is_set():
            return
        if not was_connected:  # the socket opened, but no broker answered the MQTT handshake
            self._connection_failed("did not answer the MQTT handshake", reason)
            return
        log.warning(
            "MQTT connection to %s lost (%s); reconnecting with back-off, reading goes on",
            self.target.redacted(),
            reason,
        )

    def _on_publish(
        self, client: Any, userdata: Any, mid: int, reason: Any, properties: Any
    ) -> None:
        # QoS 0 (the readings): paho wrote the message to the connection; QoS 1: the broker
        # acknowledged it.
        with self._sent_lock:
            if mid in self._unsent:
                if self._unsent.pop(mid):
                    self.published += 1
            else:
                self._sent_early.add(mid)

    def _on_connect_fail(self, client: Any, userdata: Any) -> None:
        # paho calls this inside its ``except OSError``: the error says why (a refused
        # connection, a name not resolved, a certificate not verified).
        self._connection_failed("unreachable", sys.exc_info()[1] or "no reason given")

    def _connection_failed(self, what: str, reason: object) -> None:
        """Count a failed connection and say so at the 1st, 10th and every 100th in a row, so
        that a broker away (or a password wrong) for days does not fill the journal."""
        self._failures += 1
        if self._failures in (1, 10) or self._failures % 100 == 0:
            log.warning(
                "MQTT broker %s %s (%d attempt%s: %s); retrying every %d s at most, reading goes on",
                self.target.redacted(),
                what,
                self._failures,
                "" if self._failures == 1 else "s",
                reason,
                RECONNECT_MAX_S,
            )

    # ------------------------------------------------------------ the publisher thread

    def _publish_loop(self) -> None:
        while not self._closing.is_set():
            with self._cond:
                while not self._closing.is_set() and not (
                    self.connected
                    and (self._pending is not None or self._announced < self._connections)
                ):
                    self._cond.wait(0.5)
                if self._closing.is_set():
                    return
                announce = self._announced < self._connections
                self._announced = self._connections
                payload = self._latest if announce else self._pending
                self._pending = None
            if announce:
                self._publish(self.availability_topic, "online", STATE_QOS)
                if self.discovery_topic:
                    self._publish(self.discovery_topic, self._discovery, STATE_QOS)
            if payload is not None:
                info = self._publish(self.target.topic, payload, STATE_QOS, reading=True)
                if info.rc != 0:  # lost the connection meanwhile: the next one sends the latest
                    log.debug("MQTT publish not queued (rc %s)", info.rc)

    def _publish(self, topic: str, payload: str, qos: int, reading: bool = False) -> Any:
        """Hand a retained message to paho; ``published`` counts a reading once paho reports
        it sent. Returns paho's ``MQTTMessageInfo``."""
        info = self._client.publish(topic, payload, qos=qos, retain=True)
        if info.rc != 0:  # not sent now (paho keeps a QoS 1 message for the next connection)
            return info
        with self._sent_lock:
            if info.mid in self._sent_early:  # paho's thread was quicker than this one
                self._sent_early.discard(info.mid)
                if reading:
                    self.published += 1
            else:
                self._unsent[info.mid] = reading
        return info

    # ------------------------------------------------------------ life cycle

    def start(self) -> MqttPublisher:
        """Connect in the background (the demo does not wait for the broker) and start publishing."""
        self._client.connect_async(self.target.host, self.target.port, keepalive=KEEPALIVE_S)
        self._client.loop_start()
        self._thread.start()
        log.info(
            "MQTT: publishing changes to %s on %s%s",
            self.target.topic,
            self.target.redacted(),
            f" (Home Assistant discovery: {self.discovery_topic})" if self.discovery_topic else "",
        )
        return self

    @property
    def client_id(self) -> str:
        """The MQTT client id: the node id, host and process, at most ``_CLIENT_ID_CHARACTERS``;
        the node id is what gets shortened, so two processes never share an id (a broker
        drops the older connection of a shared one)."""
        where = f"-{socket.gethostname()[:_HOST_CHARACTERS]}-{os.getpid()}"
        return self.node_id[: _CLIENT_ID_CHARACTERS - len(where)] + where

    def status(self) -> dict:
        """For ``/api/health``: ``published`` counts the readings paho reported sent."""
        return {"mqtt": {"connected": self.connected, "published": self.published}}

    def close(self) -> None:
        """Publish the last change and ``offline`` (if connected), disconnect, stop paho's thread.

        Takes about a second at most, broker or not.
        """
        self._closing.set()
        with self._cond:
            self._cond.notify_all()
        self._thread.join(0.3)
        with self._cond:
            last, self._pending = self._pending, None
        was_connected = self.connected
        if was_connected:
            if last is not None and not self._thread.is_alive():
                self._publish(self.target.topic, last, STATE_QOS, reading=True)
            # Acknowledged at QoS 1, and sent after the state on the same connection.
            info = self._publish(self.availability_topic, "offline", GOODBYE_QOS)
            deadline = time.monotonic() + GOODBYE_WAIT_S
            while not _sent_or_failed(info) and self.connected and time.monotonic() < deadline:
                time.sleep(0.01)
        self._client.disconnect()
        # loop_stop joins paho's thread, which may sit in a connect attempt or a back-off sleep:
        # bound the wait, and do not wait at all when there was no connection to close.
        stopper = threading.Thread(target=self._client.loop_stop, daemon=True)
        stopper.start()
        stopper.join(0.5 if was_connected else 0.0)
