#!/usr/bin/env python3
"""Counting accuracy (WAPE) on every public clip: ``python scripts/evaluate.py [--detect-fps 5]``.

The same as ``edge-counter evaluate``; see ``edge/evaluate.py``.
"""

import sys

from edge.cli import main

if __name__ == "__main__":
    sys.exit(main(["evaluate", *sys.argv[1:]]))
