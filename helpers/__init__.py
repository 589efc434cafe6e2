"""Shared helpers of the CNN / augmentation / transfer-learning lab course.

Import ``helpers`` before ``keras``: it chooses the Keras backend first (TensorFlow where it is
installed, JAX where it is not; ``LAB_BACKEND`` overrides). Notebooks then start with
``cfg = helpers.setup(LESSON, params=PARAMS, datasets=[...])`` (docs/architecture.md).
"""

import sys

from helpers import runtime, settings

try:
    runtime.select_backend()
except (runtime.BackendError, settings.SettingError) as err:
    if sys.argv[:1] == ["-m"]:  # ``python -m helpers ...`` is importing its package: one line
        print(f"python -m helpers: {err}", file=sys.stderr)
        raise SystemExit(2) from None
    raise
runtime.mend_backend()

from helpers import magics  # noqa: E402  (after the backend is chosen)
from helpers.config import setup  # noqa: E402

magics.register()

__all__ = ["setup"]
