"""The peer side of bench/filter_bench.py: HojiChar's closest equivalent chain.

Runs under the HojiChar benchmark venv (bench/setup_hojichar_venv.sh), never
under the project's. Reads JSONL lines {"text": ...} (a record's instruction,
input and output joined by newlines: one document per record, which is kinder
to HojiChar than one per field), applies the chain document by document, and
prints one JSON line: records, kept, wall and CPU seconds (model loading
included, interpreter start excluded).

    python bench/hojichar_chain.py INPUT.jsonl LID_MODEL.ftz
"""

import json
import sys
import time

from hojichar import Compose, Document, document_filters
from hojichar.filters.language_identification import LanguageIdentificationByFastText


class AcceptJapaneseByFastTextFtz(LanguageIdentificationByFastText):
    """HojiChar's fastText language filter, loading the compressed lid.176.ftz shipped in a wheel.

    The parent's constructor downloads and checksums lid.176.bin, which this
    machine cannot fetch; its list-form ``predict`` call needs the original
    fasttext binding. Only those two steps are replaced: the decision in
    ``apply`` (label == ja and score >= 0.5) is HojiChar's own.
    """

    def __init__(self, model_path: str) -> None:
        document_filters.Filter.__init__(self)
        import fasttext

        self.language, self.lang_score_threshold = "ja", 0.5
        self.model = fasttext.load_model(model_path)

    def _predict_language(self, text: str) -> tuple[str, float]:
        labels, scores = self.model.predict(text.strip().replace("\n", " "), k=1)
        return labels[0].replace("__label__", ""), float(scores[0])


def build_chain(model_path: str) -> Compose:
    return Compose([
        document_filters.DocumentNormalizer(),                       # NFKC (ours: the normalize stage)
        document_filters.DocumentLengthFilter(min_doc_len=2, max_doc_len=20000),
        document_filters.DiscardAdultContentJa(),                    # NG words
        document_filters.DiscardDiscriminationContentJa(),
        document_filters.DiscardViolenceContentJa(),
        document_filters.DiscardAds(),
        document_filters.AcceptJapanese(),                           # script check
        AcceptJapaneseByFastTextFtz(model_path),                     # language ID
        document_filters.SingleCharacterRepetitionFilter(),          # repetition
        document_filters.CharRepetitionRatioFilter(),
        document_filters.DiscardTooManyEndingEllipsis(),             # noise
        document_filters.DiscardTooManySpecialToken(),
        document_filters.WordRepetitionRatioFilter(),                # word-level (MeCab via fugashi)
    ])


def main() -> None:
    input_path, model_path = sys.argv[1], sys.argv[2]
    with open(input_path, encoding="utf-8") as handle:
        texts = [json.loads(line)["text"] for line in handle]
    wall, cpu = time.perf_counter(), time.process_time()
    chain = build_chain(model_path)
    kept = sum(not chain.apply(Document(text)).is_rejected for text in texts)
    print(json.dumps({"records": len(texts), "kept": kept, "seconds": time.perf_counter() - wall,
                      "cpu_seconds": time.process_time() - cpu}))


if __name__ == "__main__":
    main()
