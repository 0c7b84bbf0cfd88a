"""The hub's read-only pages for programme managers, in a browser: https://HUB:7401/ui/.

They listen on a port of their own, next to the laptops' (`pages_port`, by default the laptops'
port plus one; `fieldkit hub serve` prints the address), because no browser takes the laptops'
port's Ed25519 certificate (certificate.py). Operators (operators.py) are accounts of the hub
alone, made on its machine with `fieldkit hub operator add NAME`; they sign in with a password
(Argon2id) and get a session (sessions.py) in a `__Host-` cookie. The pages (pages.py) show the
laptops registry and the reports (hub/reports.py), with a chart drawn as SVG on the hub (chart.py):
no JavaScript, and nothing they show can be changed from them.
"""
