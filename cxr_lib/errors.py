"""Exceptions for expected failures: each message says what is wrong and how to fix it.

The CLI prints a :class:`CxrError` as one line and exits non-zero, and a notebook shows it as one
line; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations


class CxrError(Exception):
    """Base class for errors a user can fix (bad input, missing data or model, bad settings)."""

    exit_code = 2

    def _render_traceback_(self) -> list[str]:
        """What IPython shows for it in a notebook: the one line, no traceback (IPython's hook for
        exceptions that format themselves; the cell still fails and a run stops there)."""
        return [f"{type(self).__name__}: {self}"]


class DataError(CxrError):
    """A data file or folder is missing, unreadable or not in the expected layout."""


class DataNotFoundError(DataError):
    """No data file was found in any of the places searched."""


class SplitError(CxrError):
    """An unknown split name, image size or index."""


class HRUnavailableError(DataError):
    """No high-resolution reference exists for a test index."""


class CaseSetError(CxrError):
    """An unknown case set, or a case-set file that cannot be used."""


class CheckpointError(CxrError):
    """A model checkpoint folder is missing, partial or does not match what was asked."""


class PredictionsError(CxrError):
    """A predictions table does not match the split it claims to describe."""


class UpscaleError(CxrError):
    """An unknown upscaling method, a bad image, or an unusable super-resolution model."""


class ModelLoadError(CxrError):
    """A model could not be loaded (gated, not cached, wrong kind of folder)."""


class GenerationError(CxrError):
    """Generation failed for a reason the user can act on (e.g. out of memory)."""


class EmptyAnswerError(GenerationError):
    """The model answered with empty or pad-only text (the mark of a Gemma 3 model run in float16)."""


class ParameterError(CxrError):
    """A parameter is unknown, of the wrong type or out of range."""


class PromptError(ParameterError):
    """An unknown prompt strategy or language, or an empty prompt."""


class ResultsError(CxrError):
    """The results folder cannot be written or read."""


class ImageInputError(CxrError):
    """An image file or array that cannot be used as a chest X-ray input."""


class ServerError(CxrError):
    """The app cannot be served (port taken, unusable host)."""


class TokenizerUnavailableError(CxrError):
    """Gemma 3's tokenizer files could not be fetched, or a cached copy does not match its checksum."""


class EndpointError(CxrError):
    """An OpenAI-compatible server cannot be used: unreachable, wrong model, refused input, missing API key."""


class DisagreementError(EndpointError):
    """A server's outputs differ from the in-process model's on more images than allowed."""


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message (for one-line errors), or "no detail"."""
    text = str(exc).strip().splitlines()
    return text[0] if text else "no detail"
