"""Old spellings of arguments, kept as deprecated aliases of the one word per concept.

The package spells each concept one way (docs/architecture.md, "Names"): the
argument naming a weight rule is ``rule``, a layer's size is ``width``. Where
an earlier release spelled it otherwise and users may rely on it, the
function accepts the old keyword through :func:`renamed_arguments`, which
maps it onto the new one and says so with a :class:`DeprecationWarning`.
"""

from __future__ import annotations

import functools
import warnings


def renamed_arguments(**old_to_new: str):
    """Decorator: accept each keyword ``old`` as the argument ``new``, with a warning.

    Passing both spellings is an error (one line naming both).
    """

    def wrap(fn):
        @functools.wraps(fn)
        def inner(*args, **kwargs):
            for old, new in old_to_new.items():
                if old in kwargs:
                    if new in kwargs:
                        raise TypeError(
                            f"{fn.__name__}() got both {new!r} and its old spelling {old!r}; "
                            f"pass {new!r} only"
                        )
                    warnings.warn(
                        f"{fn.__name__}(): the argument {old!r} is now called {new!r}",
                        DeprecationWarning,
                        stacklevel=2,
                    )
                    kwargs[new] = kwargs.pop(old)
            return fn(*args, **kwargs)

        return inner

    return wrap
