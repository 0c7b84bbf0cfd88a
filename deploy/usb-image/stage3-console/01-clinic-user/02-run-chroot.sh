#!/usr/bin/env bash
# The clinic user, whose login shell opens the clinic screen. No password: only tty1's autologin
# signs in as it; the clinic's own passphrase guards the records.
set -euo pipefail
user=${CLINIC_USER:?}
grep -qx /usr/local/bin/fieldkit-session /etc/shells || echo /usr/local/bin/fieldkit-session >> /etc/shells
if ! id "$user" >/dev/null 2>&1; then
    useradd --create-home --shell /usr/local/bin/fieldkit-session --comment "fieldkit clinic" "$user"
fi
passwd --lock "$user" >/dev/null
