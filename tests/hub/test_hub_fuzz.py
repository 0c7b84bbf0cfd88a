"""Whatever an enrolled laptop sends, the hub answers with a refusal it can show, never a server
error, and stores nothing it cannot verify (security.md, T6: the API fuzzed against its contract).

Bodies are drawn three ways: raw bytes; well-framed JSON of any shape; and a real message with
one field replaced by any JSON value, which reaches past the frame checks into validation,
verification and storage.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import threading

import pytest
from hub_support import enrol_hub, running_hub
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sync_support import network

from fieldkit.store.journal import SCHEMA_VERSION
from fieldkit.sync import messages
from fieldkit.sync.forwarder import push
from fieldkit.sync.wire import FRAME

ROUTES = ["/v1/hello", "/v1/batch", "/v1/pull"]
REFUSALS = {400, 403, 409, 413}

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-2**70, max_value=2**70) | st.floats(allow_nan=False)
    | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner, max_size=5),
    max_leaves=20)


class HubThread:
    """A real hub on loopback, in a thread with its own event loop, for hypothesis's plain calls."""

    def __init__(self, data, url: str) -> None:
        self.data, self.url, self.ready = data, url, threading.Event()

    def __enter__(self) -> "HubThread":
        self.thread = threading.Thread(target=asyncio.run, args=(self._serve(),), daemon=True)
        self.thread.start()
        assert self.ready.wait(30), "hub did not start"
        return self

    async def _serve(self) -> None:
        self.loop, self.stop = asyncio.get_running_loop(), asyncio.Event()
        async with running_hub(self.data, self.url) as hub:
            self.hub = hub
            self.ready.set()
            await self.stop.wait()

    def __exit__(self, *exc) -> None:
        self.loop.call_soon_threadsafe(self.stop.set)
        self.thread.join(30)


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    """The hub already holds the laptop's entries: a mutation that still verifies adds nothing."""
    root = tmp_path_factory.mktemp("fuzz")
    [laptop] = network(root, 1)
    laptop.clinic.register({"given_name": "Lan", "family_name": "Phạm", "sex": "female"})
    enrol_hub(root / "hub", laptop)
    with HubThread(root / "hub", f"sqlite:///{root / 'hub' / 'hub.db'}") as running:
        asyncio.run(push(laptop.store, laptop.member, running.hub.url))
        running.laptop = laptop
        yield running
    laptop.store.close()


def framed(message: dict) -> bytes:
    """A plain frame written with the standard library, which (unlike orjson) writes any integer:
    another client might, and the hub must refuse it in words."""
    body = json.dumps(message).encode()
    return len(body).to_bytes(4, "big") + b"\x00" + body


def post(hub, path: str, body: bytes) -> tuple[int, str]:
    connection = http.client.HTTPSConnection("127.0.0.1", hub.hub.port, timeout=30,
                                             context=hub.laptop.member.context(server=False))
    try:
        connection.request("POST", path, body=body, headers={"Content-Type": FRAME})
        response = connection.getresponse()
        return response.status, response.read().decode(errors="replace")
    finally:
        connection.close()


def genuine(laptop) -> dict[str, dict]:
    """A real message for each route, as the forwarder would send it."""
    return {
        "/v1/hello": messages.dump(messages.Hello(
            protocol=messages.PROTOCOL, schema=SCHEMA_VERSION, network=laptop.member.network.id,
            device=laptop.device, clock=0, vector={})),
        "/v1/batch": messages.dump(messages.batch(laptop.store.outgoing({}, 100))),
        "/v1/pull": messages.dump(messages.Ack(vector={})),
    }


def mutated(message: dict, data) -> dict:
    """The message with one field, or one part of its first entry, replaced by any JSON value."""
    changed = dict(message)
    key = data.draw(st.sampled_from(sorted(changed)))
    if key == "entries" and changed[key] and data.draw(st.booleans()):
        entry = list(changed[key][0])
        entry[data.draw(st.integers(0, len(entry) - 1))] = data.draw(json_values)
        changed[key] = [entry, *changed[key][1:]]
    else:
        changed[key] = data.draw(json_values)
    return changed


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(route=st.sampled_from(ROUTES), how=st.sampled_from(["bytes", "json", "mutated"]), data=st.data())
def test_any_body_gets_a_refusal_or_an_answer_never_a_server_error(hub, route, how, data):
    before = hub.hub.storage.count()
    if how == "bytes":
        body = data.draw(st.binary(max_size=300))
    elif how == "json":
        body = framed(data.draw(st.dictionaries(st.text(max_size=10), json_values, max_size=6)))
    else:
        body = framed(mutated(genuine(hub.laptop)[route], data))
    status, text = post(hub, route, body)
    assert status in REFUSALS | {200}, (status, text)
    if status != 200:
        assert text.strip() and "\n" not in text.strip()  # one line the laptop can show
    assert hub.hub.storage.count() == before  # nothing stored that a laptop did not sign
