"""The container's HEALTHCHECK: exit 0 when the hub's GET /health answers {"status": "ok"}.

/health needs no client certificate. The hub's own certificate is the clinic network's (Ed25519),
which only laptops check; this probe runs inside the container on loopback, so it does not.
"""

import json
import os
import ssl
import sys
import urllib.request

port = os.environ.get("FIELDKIT_HUB_PORT", "7400")
context = ssl.create_default_context()
context.check_hostname = False
context.verify_mode = ssl.CERT_NONE
try:
    with urllib.request.urlopen(f"https://127.0.0.1:{port}/health", context=context, timeout=5) as response:
        status = json.load(response).get("status")
except Exception as exc:  # noqa: BLE001 - any failure is "unhealthy", said in one line
    sys.exit(f"unhealthy: {exc}")
sys.exit(0 if status == "ok" else f"unhealthy: status {status}")
