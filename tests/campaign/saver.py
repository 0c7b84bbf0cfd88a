"""Registers patients one after another until killed; prints each id once its save returned.

    python saver.py            (FIELDKIT_HOME, FIELDKIT_USER, FIELDKIT_PASSPHRASE as for fieldkit)
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from fieldkit.records.services import Clinic
from fieldkit.store.home import Home
from fieldkit.store.session import unlock

store, user = unlock(Home(Path(os.environ["FIELDKIT_HOME"])), os.environ["FIELDKIT_USER"], os.environ["FIELDKIT_PASSPHRASE"])
clinic = Clinic(store, user)
for number in range(int(sys.argv[1]) if len(sys.argv) > 1 else 50):
    saved = clinic.register({"given_name": f"Saved{number}", "family_name": "Kill", "sex": "female"})
    print(saved.patient_id, flush=True)
store.close()
