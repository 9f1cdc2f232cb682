"""The built-in losses. Importing this package registers every kernel, in catalogue order."""
# isort: skip_file

from losscli.core.losses import regression  # noqa: F401
from losscli.core.losses import regression_scores  # noqa: F401
from losscli.core.losses import binary  # noqa: F401
from losscli.core.losses import multiclass  # noqa: F401
from losscli.core.losses import structured  # noqa: F401
from losscli.core.losses import classification_figures  # noqa: F401
from losscli.core.losses import intervals  # noqa: F401
