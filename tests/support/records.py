"""One schema record, numbered: the building block of the records, stage and splits tests."""


def record(i: int, **overrides) -> dict:
    base = {"id": f"fixture:{i}", "source": "fixture", "task": "open_qa", "instruction": f"質問{i}は何ですか。",
            "input": "", "output": f"答え{i}です。", "license": "CC-BY-4.0"}
    return base | overrides
