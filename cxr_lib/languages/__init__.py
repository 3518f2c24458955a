"""The languages the package speaks: one module per language, one registry for the whole package.

Every module of this package other than ``registry`` and ``vocabulary`` defines one language as
``LANGUAGE`` (a :class:`~cxr_lib.languages.registry.Language`); importing the package registers them
all. Adding a language is adding such a module (see CONVENTIONS.md, "Adding a language").
"""

from __future__ import annotations

import importlib
import pkgutil

from cxr_lib.languages.registry import (
    DEFAULT_LANGUAGE,
    LANGUAGES,
    Language,
    check_languages,
    describe,
    get_language,
    is_right_to_left,
    language_code,
    register,
    unregister,
    version,
)
from cxr_lib.languages.vocabulary import Vocabulary

_MACHINERY = {"registry", "vocabulary"}

for _module in pkgutil.iter_modules(__path__):
    if _module.name not in _MACHINERY and not _module.name.startswith("_"):
        register(importlib.import_module(f"{__name__}.{_module.name}").LANGUAGE, check_phrases=False)

__all__ = [
    "DEFAULT_LANGUAGE", "LANGUAGES", "Language", "Vocabulary", "check_languages", "describe", "get_language",
    "is_right_to_left", "language_code", "register", "unregister", "version",
]
