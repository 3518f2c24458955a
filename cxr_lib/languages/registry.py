"""The languages the package speaks, by code: one :class:`Language` each, in :data:`LANGUAGES`.

A language is everything that differs between languages, in one place: its code and English name
(shown in menus and help texts), the line a prompt adds to ask for answers in it, the direction it
is written in, and the label reader's words for it (:class:`~cxr_lib.languages.vocabulary.Vocabulary`).
Prompt building, the app's menu, the ``cxr`` help texts, the notebooks' parameter check and the
label reader all read this registry; :func:`register` and :func:`unregister` change it at run time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

from cxr_lib.errors import PromptError
from cxr_lib.languages.vocabulary import Vocabulary

#: The language of a prompt that names none (its prompt adds no line).
DEFAULT_LANGUAGE = "en"
#: Where a language that gives no ``order`` goes in menus: after the others, by name.
LAST = 1000


@dataclass(frozen=True)
class Language:
    """One language: how it is named and asked for, and how the label reader reads it."""

    code: str  # ISO 639-1, lower case ("ar")
    name: str  # its English name ("Arabic"), as menus and the prompt line say it
    prompt_line: str  # what a prompt adds to ask for answers in it ("Please answer in Arabic."; "" for none)
    vocabulary: Vocabulary = field(default_factory=Vocabulary)
    direction: str = "ltr"  # "rtl" for a language written right to left
    order: int = LAST  # its place in menus (lower first; ties by name)

    def check(self, phrases: bool = True) -> list[str]:
        """Problems with this definition, as lines (empty when it is usable); ``phrases``: also compile
        every phrase of its vocabulary (the slow part)."""
        problems = []
        if not (isinstance(self.code, str) and self.code.isalpha() and self.code.islower() and len(self.code) <= 3):
            problems.append(f"code {self.code!r} must be a lower-case ISO 639 code such as 'fr'")
        if not (isinstance(self.name, str) and self.name.strip()):
            problems.append("name must be the language's English name")
        if self.direction not in ("ltr", "rtl"):
            problems.append(f"direction {self.direction!r} must be 'ltr' or 'rtl'")
        return problems + (self.vocabulary.check() if phrases else [])


#: Code → language, in menu order. Change it with :func:`register` / :func:`unregister` only.
LANGUAGES: dict[str, Language] = {}
_changes = [0]


def register(language: Language, *, replace: bool = False, check_phrases: bool = True) -> Language:
    """Add ``language`` (or replace the one with its code when ``replace``); :class:`PromptError` when
    its definition has a problem or its code or name is taken. ``check_phrases=False`` skips compiling
    each phrase (the package's own languages, whose tests check them, so that importing stays quick)."""
    problems = language.check(phrases=check_phrases)
    if problems:
        raise PromptError(f"language {language.code!r} cannot be registered: {'; '.join(problems)}")
    taken = [other for code, other in LANGUAGES.items()
             if code != language.code and other.name.lower() == language.name.lower()]
    if (language.code in LANGUAGES and not replace) or taken:
        raise PromptError(f"a language with code {language.code!r} or name {language.name!r} is already registered: "
                          "pick another, or pass replace=True")
    entries = {code: lang for code, lang in LANGUAGES.items() if code != language.code}
    entries[language.code] = language
    LANGUAGES.clear()
    LANGUAGES.update(sorted(entries.items(), key=lambda item: (item[1].order, item[1].name)))
    _changes[0] += 1
    return language


def unregister(code: str) -> Language:
    """Remove and return the language with ``code``; :class:`PromptError` when there is none."""
    if code not in LANGUAGES:
        raise PromptError(f"no language with code {code!r} is registered: choose one of {describe()}")
    _changes[0] += 1
    return LANGUAGES.pop(code)


def version() -> int:
    """A number that changes whenever the registry does (for caches built from it)."""
    return _changes[0]


def describe() -> str:
    """The registered languages as text for help and error messages: ``en (English), fr (French), …``."""
    return ", ".join(f"{code} ({language.name})" for code, language in LANGUAGES.items())


def get_language(language: str) -> Language:
    """The language given by code (``"ar"``) or English name (``"Arabic"``), case-insensitive;
    :class:`PromptError` naming the choices when there is none."""
    if isinstance(language, str):
        text = language.strip().lower()
        if text in LANGUAGES:
            return LANGUAGES[text]
        for candidate in LANGUAGES.values():
            if candidate.name.lower() == text:
                return candidate
    raise PromptError(f"unknown language {language!r}: choose one of {describe()}")


def language_code(language: str) -> str:
    """The code of a language given by code or name (see :func:`get_language`)."""
    return get_language(language).code


def check_languages(languages: Iterable[str] | None) -> list[str]:
    """The codes of ``languages`` (codes or names; ``None``: every registered language), in order;
    :class:`PromptError` for an unknown one or an empty list."""
    if languages is None:
        return list(LANGUAGES)
    if isinstance(languages, str) or not isinstance(languages, Iterable):
        raise PromptError(f"languages must be a list of codes or names, got {languages!r}: choose from {describe()}")
    codes = [language_code(language) for language in languages]
    if not codes:
        raise PromptError(f"the list of languages is empty: choose from {describe()}")
    return codes


def is_right_to_left(language: str) -> bool:
    """Whether a language (code or name) is written right to left; False for an unknown one."""
    try:
        return get_language(language).direction == "rtl"
    except PromptError:
        return False
