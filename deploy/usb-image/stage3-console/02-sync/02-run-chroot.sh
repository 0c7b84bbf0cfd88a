#!/usr/bin/env bash
set -euo pipefail
systemctl enable fieldkit-sync.path
