"""Stage packages that are also their entry point: `rexbert.curate(cfg, ...)`.

`from rexbert import curate` must give the stage's function, yet `rexbert.curate` is also the
package holding its parts (`rexbert.curate.config`, …). Giving the package module a class with
`__call__` (module `__class__` assignment is supported Python) keeps both: the package imports
as usual, and calling it calls the entry point, imported only on the first call.
"""

from __future__ import annotations

import sys
import types
from importlib import import_module


class StageModule(types.ModuleType):
    """A package module whose call runs its stage's entry point."""

    __entry__: str  # "module:function"

    def __call__(self, *args, **kwargs):
        module, _, function = self.__entry__.partition(":")
        return getattr(import_module(module), function)(*args, **kwargs)


def make_callable(package: str, entry: str) -> None:
    """Make the package module `package` callable as `entry` ("module:function")."""
    module = sys.modules[package]
    module.__class__ = StageModule
    module.__entry__ = entry
