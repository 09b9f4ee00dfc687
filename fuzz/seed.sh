#!/usr/bin/env bash
# Regenerates fuzz/seeds/ from tests/scenarios/*.json (see seed.py).
exec python3 "$(dirname "$0")/seed.py"
