"""`make local` / `make watch` / `make local-down`: LocalStack with the stack deployed.

python -m e2e.harness up      start LocalStack, deploy, try it; when up already: deploy what changed
python -m e2e.harness watch   serve every saved change under lambda/ at once, until Ctrl-C
python -m e2e.harness down    stop it and remove its state

Each bad path ends in one sentence on stderr and exit status 1 (130 after Ctrl-C).
"""

from __future__ import annotations

import sys
from collections.abc import Callable

from e2e.harness import local
from e2e.harness.modes import HarnessError

COMMANDS: dict[str, Callable[[], None]] = {
    "up": local.up,
    "watch": local.watch,
    "down": local.down,
}


def main(argv: list[str]) -> int:
    if len(argv) != 1 or argv[0] not in COMMANDS:
        print(__doc__, file=sys.stderr)
        return 2
    try:
        COMMANDS[argv[0]]()
    except HarnessError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except local.Interrupted as interrupted:
        print(f"\n{interrupted}", file=sys.stderr)
        return 130
    except KeyboardInterrupt:
        session = local.Session.load()
        still = (
            f"LocalStack is still up at {session.endpoint}; `make local-down` stops it."
            if session is not None
            else "nothing is left running."
        )
        print(f"\nInterrupted: {still}", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
