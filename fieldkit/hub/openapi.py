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


TEXT = {"text/plain": {"schema": {"type": "string"}}}
USER = {"name": "X-Fieldkit-User", "in": "header", "required": True, "schema": {"type": "string"},
        "description": "The id of the user signed in on the calling laptop, who must be a supervisor in the role "
                       "history the hub holds (the laptop, proven by its certificate, vouches for its user)"}
FILTERS = {"name": "filters", "in": "query", "style": "form", "explode": True,
           "schema": {"type": "object", "additionalProperties": {"type": "string"}},
           "description": "Any other parameter keeps the rows whose column is that value (a month as YYYY-MM; "
                          "`from`/`to` as YYYY-MM-DD; \"not recorded\" for a blank)"}


def _read(summary: str, parameters: list, ok: dict, extra: dict | None = None) -> dict:
    """A GET for a supervisor on an enrolled laptop."""
    responses = {"200": ok, "400": {"description": "a parameter the report does not take", "content": TEXT},
                 "401": {"description": "no client certificate, or no X-Fieldkit-User", "content": TEXT},
                 "403": {"description": "a laptop or user revoked, or a user who is not a supervisor",
                         "content": TEXT}}
    return {"get": {"summary": summary, "parameters": [USER, *parameters], "responses": responses | (extra or {}),
                    "security": [{"mutualTLS": []}]}}


REPORT = {"type": "object", "required": ["report", "unit", "parameters", "generated_at", "columns", "rows", "total",
                                         "stale_devices"]}
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
        "/v1/reports": _read("The reports: id, version, title, unit, columns, filters, groupings", [],
                             {"description": "a JSON list, one object per report version",
                              "content": {"application/json": {"schema": {"type": "array"}}}}),
        "/v1/reports/{report}": _read(
            "A report: its line list, or its counts by a grouping (`by`) or by month (`over=month`)",
            [{"name": "report", "in": "path", "required": True, "schema": {"type": "string"},
              "description": "id@version, or id for its latest version"},
             {"name": "by", "in": "query", "schema": {"type": "string"}},
             {"name": "over", "in": "query", "schema": {"type": "string", "enum": ["month"]}},
             {"name": "format", "in": "query", "schema": {"type": "string", "enum": ["json", "csv", "xlsx"]}},
             {"name": "csv", "in": "query", "schema": {"type": "string", "enum": ["excel", "data"]},
              "description": "excel: UTF-8 BOM, formula-like text escaped; data: plain"},
             {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 0},
              "description": "line-list rows; JSON gives 1000 unless told"},
             FILTERS],
            {"description": "the report, naming its version, parameters, generation time, unit, total and the "
                            "laptops not heard from lately",
             "content": {"application/json": {"schema": REPORT}, "text/csv": {"schema": {"type": "string"}},
                         "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet":
                             {"schema": {"type": "string", "format": "binary"}}}}),
        "/v1/export/dhis2": _read(
            "One month's indicators as a DHIS2 aggregate data value set, by code (idScheme=CODE)",
            [{"name": "period", "in": "query", "required": True, "schema": {"type": "string"},
              "description": "the month, YYYY-MM (or YYYYMM)"},
             {"name": "format", "in": "query", "schema": {"type": "string", "enum": ["json", "csv"]}}],
            {"description": "dataValueSets JSON, or DHIS2's CSV (post it with ?idScheme=CODE)",
             "content": {"application/json": {"schema": {"type": "object"}}, "text/csv": {"schema": {"type": "string"}}}}),
        "/v1/export/fhir": _read(
            "Everything the hub holds as a FHIR R4 Bundle, streamed",
            [{"name": "since", "in": "query", "schema": {"type": "string"},
              "description": "only what changed after this date and time, or after the X-Fieldkit-Next-Since an "
                             "earlier export answered with"},
             {"name": "type", "in": "query", "schema": {"type": "string", "enum": ["collection", "transaction"]}}],
            {"description": "a Bundle", "content": {"application/fhir+json": {"schema": {"type": "object"}}},
             "headers": {"X-Fieldkit-Next-Since": {"description": "what to give as `since` next time (JSON)",
                                                   "schema": {"type": "string"}}}},
            {"503": {"description": "this hub keeps no replica (no key for one)", "content": TEXT}}),
        "/health": {"get": {"summary": "Liveness and storage reachability (no certificate needed)",
                            "responses": {"200": {"description": "{status, storage, entries, network}"},
                                          "503": {"description": "the storage does not answer"}}}},
        "/openapi.json": {"get": {"summary": "This description",
                                  "responses": {"200": {"description": "OpenAPI 3.1"}}}},
    },
}
