"""Small hand-written Japanese records for the dedup tests."""

from __future__ import annotations

import polars as pl

COLUMNS = ("id", "source", "task", "instruction", "input", "output", "license", "group")


def record(id: str, instruction: str, output: str, *, input: str = "", task: str = "open_qa",
           source: str | None = None, group: str | None = None) -> dict:
    return {"id": id, "source": source or id.split(":")[0], "task": task, "instruction": instruction,
            "input": input, "output": output, "license": "CC-BY-SA-3.0", "group": group or id}


def frame(rows: list[dict]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema={name: pl.String for name in COLUMNS})


# A long-enough answer so that a few edited characters leave a high Jaccard.
FUJI_Q = "富士山の高さと、日本で一番高い山である理由を説明してください。"
FUJI_A = ("富士山の標高は3776メートルで、日本で最も高い山です。静岡県と山梨県にまたがる成層火山で、"
          "何度も噴火を繰り返して溶岩や火山灰が積み重なった結果、現在のような高く美しい円錐形になりました。")
KYOTO_Q = "京都が観光地として人気がある理由を教えてください。"
KYOTO_A = ("京都には千年以上都が置かれていたため、清水寺や金閣寺などの寺社、伝統的な町並み、祭りや"
           "和菓子の文化が今も残っており、国内外から多くの観光客が訪れます。")
