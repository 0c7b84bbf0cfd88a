"""The security and fault campaign (security.md section 3): each threat's runs add a row of
figures, and the run ends with one table of them (the root conftest prints it)."""
