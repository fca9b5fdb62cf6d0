"""``python -m devstack``: the whole offer flow on the local dev stack (devstack/demo/, docs/demo.md)."""

import sys

from devstack.demo.cli import main

if __name__ == "__main__":
    sys.exit(main())
