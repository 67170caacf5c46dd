"""Environment variables set for a block of code and put back after it."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager


@contextmanager
def temporary_environment(values: Mapping[str, str], unset: Iterable[str] = ()) -> Iterator[None]:
    """``values`` in this process's environment and the variables ``unset`` out of it for the
    block; after it, also when it fails (or when setting them fails halfway), every one of them as
    it was before: set to its old value, or unset."""
    names = (*unset, *values)
    saved = {name: os.environ.get(name) for name in names}
    try:
        for name in unset:
            os.environ.pop(name, None)
        os.environ.update(values)
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
