"""The OpenAPI description of the hub's HTTP interface, served at /openapi.json."""

FRAME = {"description": "A sync protocol frame: 4-byte big-endian length, 1 flag byte (0 plain, 1 zlib), JSON "
                        "message (see fieldkit/sync/messages.py)",
         "content": {"application/vnd.fieldkit.frame": {"schema": {"type": "string", "format": "binary"}}}}
REFUSAL = {"description": "An `error` frame saying why, in one line", "content": FRAME["content"]}


def _sync(summary: str, sends: str, answers: str, extra: dict | None = None) -> dict:
    responses = {"200": {"description": answers, "content": FRAME["content"]},
                 "400": REFUSAL | {"description": "malformed frame or message, or another protocol version"},
                 "401": {"description": "no client certificate"},
                 "403": REFUSAL | {"description": "not enrolled in this network, revoked, or a batch that fails "
                                                 "verification (tampered, unsigned, a role not allowed)"},
                 "413": REFUSAL | {"description": "body over 8 MiB"},
                 "503": REFUSAL | {"description": "busy or slow: send again after Retry-After seconds"}}
    return {"post": {"summary": summary, "requestBody": {"required": True, **FRAME, "description": sends},
                     "responses": responses | (extra or {}), "security": [{"mutualTLS": []}]}}


OPENAPI = {
    "openapi": "3.1.0",
    "info": {"title": "fieldkit hub", "version": "1",
             "description": "Laptops forward journal entries the hub lacks and pull what they lack. Every sync "
                            "route needs the laptop's network certificate (mutual TLS)."},
    "components": {"securitySchemes": {"mutualTLS": {"type": "mutualTLS"}}},
    "paths": {
        "/v1/hello": _sync("Say what the laptop holds; learn what the hub holds", "a `hello` message",
                           "the hub's `hello`: its version vector, and the hash of each origin's entry there",
                           {"409": REFUSAL | {"description": "two laptops write as one origin (a cloned laptop, or "
                                                            "one restored from an old copy): nothing exchanged"}}),
        "/v1/batch": _sync("Upload entries the hub lacks", "a `batch` message",
                           "an `ack`: the hub's vector after storing the batch (re-sending is harmless)",
                           {"409": REFUSAL | {"description": "a gap or broken hash chain: resume from the vector "
                                                            "of the last ack"}}),
        "/v1/pull": _sync("Download entries the laptop lacks", "an `ack` message holding the laptop's vector",
                          "a `batch` of what the laptop lacks, or `done`"),
        "/v1/devices": {"get": {"summary": "The device registry: last contact, vector, entries held, revoked, "
                                           "entries held back since a revocation",
                                "security": [{"mutualTLS": []}],
                                "responses": {"200": {"description": "a JSON list, one object per laptop"}}}},
        "/health": {"get": {"summary": "Liveness and storage reachability (no certificate needed)",
                            "responses": {"200": {"description": "{status, storage, entries, network}"},
                                          "503": {"description": "the storage does not answer"}}}},
        "/openapi.json": {"get": {"summary": "This description",
                                  "responses": {"200": {"description": "OpenAPI 3.1"}}}},
    },
}
