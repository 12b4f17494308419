"""Constructs of the users API stack, one per capability.

The values the stack and the function must agree on are defined once, in the function's
package (``lambda/users_api/definitions.py``), so the bundle ships them and the stack reads the
same file: the function's code folder is put on the import path here.
"""

import sys
from pathlib import Path

_FUNCTION_CODE = str(Path(__file__).resolve().parent.parent / "lambda")
if _FUNCTION_CODE not in sys.path:
    sys.path.append(_FUNCTION_CODE)
