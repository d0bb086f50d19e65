"""The quality filters on hand-written records, with the real lid.176 model and Sudachi dictionary.

Each test runs the whole default chain (``filter_records`` with the built-in
params) and checks the reason a record gets, so a rule is tested as the stage
applies it: field- and task-aware, first failing rule wins.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from jinstruct.filters import filter_records
from jinstruct.records import SCHEMA_FIELDS, TEXT_FIELDS

JA_ANSWER = "富士山は静岡県と山梨県の境にある日本一高い山で、標高は三千七百七十六メートルです。"


def rec(index: int = 0, *, task: str = "open_qa", instruction: str = "日本で一番高い山はどこですか？",
        input: str = "", output: str = JA_ANSWER, source: str = "fixture") -> dict:
    return {"id": f"{source}:{index}", "source": source, "task": task, "instruction": instruction,
            "input": input, "output": output, "license": "CC0-1.0"}


def run(records: list[dict], params: dict | None = None, text_fields=TEXT_FIELDS, eval_dir=None):
    frame = pl.DataFrame(records, schema={name: pl.String for name in records[0]})
    return filter_records(frame, params or {}, text_fields, eval_dir)


def reasons(records: list[dict], **kwargs) -> dict[str, str | None]:
    """id -> reject reason (None when kept)."""
    result = run(records, **kwargs)
    found = {row["id"]: row["reason"] for row in result.rejected.iter_rows(named=True)}
    assert result.kept.height + result.rejected.height == len(records)
    return {record["id"]: found.get(record["id"]) for record in records}


def reason_of(record: dict, **kwargs) -> str | None:
    return reasons([record], **kwargs)[record["id"]]


# ------------------------------------------------------------------ language

def test_chinese_sentence_is_not_japanese_but_kanji_only_japanese_answers_are():
    chinese = rec(1, output="她周一去了学校但是却发现没有其他的同学，所以她意识到这个周一实际上是国家假日。")
    chinese_traditional = rec(2, output="我們今天下午在圖書館裡面討論了很久關於這個計畫的預算問題。")
    kanji_term = rec(3, output="不法入国者等退去強制手続令")       # a JSQuAD answer that lid.176 calls zh
    short_label = rec(4, task="classification", output="肯定")     # lid.176: zh 0.95
    short_simplified = rec(5, output="这是书")
    got = reasons([chinese, chinese_traditional, kanji_term, short_label, short_simplified])
    assert got == {"fixture:1": "language_mismatch", "fixture:2": "language_mismatch", "fixture:3": None,
                   "fixture:4": None, "fixture:5": "language_mismatch"}


def test_translation_records_expect_english_on_the_english_side():
    en_ja = rec(1, task="translation_en_ja", instruction="次の英文を日本語に翻訳してください。",
                input="i met a certain mr smith .", output="私はスミスさんという人に会った。")
    ja_en = rec(2, task="translation_ja_en", instruction="次の日本語を英語に翻訳してください。",
                input="私はスミスさんという人に会った。", output="i met a certain mr smith .")
    wrong_side = rec(3, task="translation_ja_en", instruction="次の日本語を英語に翻訳してください。",
                     input="今日はいい天気ですね。", output="今日はとてもいい天気ですね。")
    english_answer_elsewhere = rec(4, output="Mount Fuji is the highest mountain in Japan and stands at 3776 metres.")
    assert reasons([en_ja, ja_en, wrong_side, english_answer_elsewhere]) == {
        "fixture:1": None, "fixture:2": None, "fixture:3": "language_mismatch", "fixture:4": "language_mismatch"}


def test_names_titles_numbers_and_code_are_not_language_errors():
    keep = [
        rec(1, output="Chevrolet、Ford、Dodge"),
        rec(2, output='"We Light the Way"'),
        rec(3, output="1973, 1974, 1979, 1983"),
        rec(4, task="general", output="def add(a, b):\n    return a + b\n\nprint(add(1, 2))"),
        rec(5, instruction="The Science Laureates of the United States Act of 2013とは？"),
        rec(6, task="classification", output="はい"),
        # Extractive answers inherit the passage's language.
        rec(7, task="reading_comprehension", instruction="文章を読んで質問に答えてください。",
            input="ラーマ5世の治世はタイ暦でจ.ศ.1234จัตวาศกに始まった。\n質問: 治世が始まった年は？",
            output="จ.ศ.1234จัตวาศก"),
        rec(8, output="Danish Siddiqui（殺害）、Adnan Abidi、Sanna Irshad Matto & Amit Dave。"),
    ]
    assert set(reasons(keep).values()) == {None}


def test_language_stats_hold_label_counts_and_a_score_histogram():
    result = run([rec(1, output="Mount Fuji is the highest mountain in Japan and stands at 3776 metres."),
                  rec(2, task="translation_ja_en", input="今日は晴れです。", output="it is sunny today .")])
    stats = result.extra_stats["language_id"]
    assert stats["output:ja"]["labels"] == {"en": 1}
    assert stats["output:en"]["labels"] == {"en": 1}
    assert sum(stats["output:en"]["top_score_histogram"].values()) == 1


def test_a_text_field_file_without_task_gets_japanese_prose_defaults():
    frame = pl.DataFrame({"id": ["f:1", "f:2"], "source": ["f", "f"],
                          "text": ["明日は雨が降るそうなので、傘を持って出かけましょう。",
                                   "她周一去了学校但是却发现没有其他的同学，所以她意识到这个周一实际上是国家假日。"]})
    result = filter_records(frame, {}, ["text"], None)
    assert result.kept["id"].to_list() == ["f:1"]
    assert result.rejected["reason"].to_list() == ["language_mismatch"]
    assert result.rejected["detail"][0].startswith("text: chinese, lid zh")


# ------------------------------------------------------------------ length and copies

def test_empty_and_whitespace_only_outputs_are_rejected_short_valid_answers_kept():
    got = reasons([rec(1, output=""), rec(2, output=" \n\u3000 "), rec(3, task="classification", output="はい"),
                   rec(4, task="multiple_choice_qa", output="B")])
    assert got == {"fixture:1": "empty_output", "fixture:2": "empty_output", "fixture:3": None, "fixture:4": None}


def test_length_bounds_are_per_task_and_field():
    story = rec(1, task="creative_writing", instruction="短い物語を書いてください。", output="おわり")
    same_length_elsewhere = rec(2, task="open_qa", output="おわり")
    too_long = rec(3, output="あ" * 3000 + "い" * 3001)
    tight = {"length": {"bounds": {"open_qa": {"output": [1, 2]}}}}
    assert reasons([story, same_length_elsewhere, too_long]) == {
        "fixture:1": "too_short", "fixture:2": None, "fixture:3": "too_long"}
    assert reason_of(same_length_elsewhere, params=tight) == "too_long"


def test_outputs_that_copy_or_echo_the_prompt_are_rejected_but_extractive_answers_kept():
    passage = "織田信長は尾張国の戦国大名で、桶狭間の戦いで今川義元を破った。"
    copies_input = rec(1, task="summarization", instruction="次の文章を要約してください。", input=passage,
                       output=passage)
    copies_instruction = rec(2, instruction="猫についての短い詩を書いてください。",
                             output="猫についての 短い詩を書いてください")
    echoes = rec(3, instruction="日本で一番長い川の名前と、その長さを教えてください。",
                 output="日本で一番長い川の名前と、その長さを教えて")
    restates_then_answers = rec(6, instruction="ドイツの首都は？", output="ドイツの首都はベルリン")
    extractive = rec(4, task="reading_comprehension", instruction="文章を読んで質問に答えてください。",
                     input=passage + "\n質問: 今川義元を破った戦いは？", output="桶狭間の戦い")
    label_in_instruction = rec(5, task="classification", instruction="次の文は肯定的か否定的か答えてください。",
                               input="最高の一日だった。", output="肯定的")
    assert reasons([copies_input, copies_instruction, echoes, extractive, label_in_instruction,
                    restates_then_answers]) == {
        "fixture:1": "output_copies_prompt", "fixture:2": "output_copies_prompt",
        "fixture:3": "output_echoes_question", "fixture:4": None, "fixture:5": None, "fixture:6": None}


# ------------------------------------------------------------------ noise

def test_broken_encodings_are_rejected():
    latin1 = "日本語のテキストです。".encode().decode("latin-1")
    cp1252_sjis = "こんにちは".encode("shift_jis").decode("cp1252", errors="replace").replace("\ufffd", "")
    assert reasons([rec(1, output="富士山は\ufffd\ufffdです。"), rec(2, output=latin1),
                    rec(3, output=cp1252_sjis + "、" + cp1252_sjis)]) == {
        "fixture:1": "mojibake", "fixture:2": "mojibake", "fixture:3": "mojibake"}


def test_markup_url_only_and_symbol_heavy_text_but_not_html_code():
    markup = rec(1, output="<div class='x'>富士山は<br>日本一高い山です。</div>&nbsp;")
    html_answer = rec(2, task="general", instruction="見出しのHTMLを書いてください。",
                      output="```html\n<div>\n  <h1>見出し</h1>\n</div>\n```")
    url_only = rec(3, output="https://example.com/fuji  https://example.org/")
    symbols = rec(4, output="★☆★☆★☆★☆★☆！！？？＃＃")
    assert reasons([markup, html_answer, url_only, symbols]) == {
        "fixture:1": "markup", "fixture:2": None, "fixture:3": "url_only", "fixture:4": "symbol_heavy"}


def test_ellipsis_endings_count_both_forms_and_spare_short_lines_and_instructions():
    cut_lines = rec(1, task="brainstorming", output="まず材料を用意する...\n次に鍋で煮る…\n最後に盛り付ける")
    long_cut = rec(2, output="富士山は静岡県と山梨県にまたがる活火山で、その美しい姿は古くから"
                             "多くの芸術作品に描かれてきたが、特に江戸時代には…")
    short_trail = rec(3, task="translation_en_ja", instruction="次の英文を日本語に翻訳してください。",
                      input="finally they said ...", output="ついに彼らは言った…")
    instruction_trail = rec(4, instruction="次の文の続きを書いてください：昔々あるところに…",
                            output="おじいさんとおばあさんが住んでいました。")
    after_full_stops = rec(5, task="brainstorming",
                           output="手順1：場所を確保する。...\n手順2：石を並べる。...\n手順3：火をつける。...")
    elided_middle = rec(6, output="ランリー・ゲイリー・コリンズはカナダのアイスホッケー選手で、"
                                  "キャリアの大半をマイナーリーグで過ごした...\n\n"
                                  "コリンズは2022年6月に86歳で亡くなりました。")
    assert reasons([cut_lines, long_cut, short_trail, instruction_trail, after_full_stops, elided_middle]) == {
        "fixture:1": "ellipsis_ending", "fixture:2": "ellipsis_ending", "fixture:3": None, "fixture:4": None,
        "fixture:5": None, "fixture:6": None}


# ------------------------------------------------------------------ NG words

def test_ng_words_builtin_categories_and_user_lists(tmp_path: Path):
    boilerplate = rec(1, output="AI言語モデルとして、私は個人的な意見を持つことはできません。")
    user_term = rec(2, output="この商品はフジヤマ印の特売品です。")
    clean = rec(3)
    user_list = tmp_path / "brands.txt"
    user_list.write_text("# our own list\nフジヤマ印\n", encoding="utf-8")
    params = {"ng_words": {"extra_files": [str(user_list)]}}
    result = run([boilerplate, user_term, clean], params=params)
    details = dict(zip(result.rejected["id"], result.rejected["detail"]))
    assert details == {"fixture:1": "output: ai_boilerplate term AI言語モデルとして",
                       "fixture:2": "output: brands term フジヤマ印"}
    assert reason_of(user_term) is None


def test_unknown_ng_category_is_a_clear_error():
    from jinstruct.records import InputError
    with pytest.raises(InputError, match="unknown category 'nonsense'"):
        run([rec()], params={"ng_words": {"categories": ["nonsense"]}})


# ------------------------------------------------------------------ script ratios

def test_long_prose_without_hiragana_is_rejected_but_name_lists_are_not():
    words = ("格安 激安 通販 送料無料 最安値 比較 ランキング 口コミ 評判 人気 東京 大阪 名古屋 福岡 札幌 仙台 広島 "
             "京都 神戸 横浜 新宿 渋谷 池袋 上野 品川 秋葉原 銀座 六本木 原宿 表参道 中古車 新車 軽自動車 "
             "保険 見積 無料 査定 買取 売却 即日 現金 高価 専門店 業者 一覧 最新 情報 速報 特集 限定 割引 "
             "会員 登録 特典 応募 懸賞 当選 発表 抽選 賞品 家電 家具 雑貨 衣料 食品 飲料 酒類 医薬品 化粧品 "
             "旅行 航空券 宿泊 温泉 旅館 民宿 予約 空室 検索 地図 天気 交通 路線 時刻表 運賃 定期券 回数券 "
             "中古 新品 未使用 美品 訳あり 在庫 処分 決算 大特価 本日 限り 先着 名様 早い者勝ち")
    salad = words  # keyword salad: no sentence, no hiragana
    assert len(salad.replace(" ", "")) >= 200
    names = "\n".join(f"{name}（{n}回戦）" for n, name in enumerate(
        ["ピート・サンプラス", "マイケル・チャン", "トーマス・ムスター", "マルセロ・リオス", "カルロス・モヤ"] * 8, 1))
    assert reasons([rec(1, output=salad), rec(2, task="information_extraction", output=names)]) == {
        "fixture:1": "low_hiragana", "fixture:2": None}


# ------------------------------------------------------------------ repetition

def test_repetition_runs_lines_sentences_and_ngrams():
    run_ = rec(1, output="すごいですねええええええええええええ")
    lines = rec(2, task="brainstorming", output="\n".join(["- りんご", "- りんご", "- りんご", "- りんご", "- みかん"]))
    sentences = rec(3, output="これはペンです。これはペンです。これはペンです。あれは本です。")
    loop = rec(4, output="雨が降っています。" + "今日は雨が降っていて寒いので家にいます" * 6 + "。")
    table = rec(5, task="information_extraction", output="国 | 人口\n------- | -------\n日本 | 1億2千万人")
    assert reasons([run_, lines, sentences, loop, table]) == {
        "fixture:1": "char_run", "fixture:2": "repeated_lines", "fixture:3": "repeated_sentences",
        "fixture:4": "repeated_ngrams", "fixture:5": None}


def test_list_suffixes_and_passages_restated_by_the_question_are_not_repetition():
    comets = rec(1, task="brainstorming", output="\n".join(
        f"- {name}彗星" for name in ["ハレー", "エンケ", "ビエラ", "テンペル", "スイフト", "ホームズ"]))
    passage = "音楽に関する時間に対する構造または組織化を示す時にリズムと言う語が用いられる傾向がある。"
    restated = rec(2, task="reading_comprehension", instruction="文章を読んで質問に答えてください。",
                   input=passage + "\n質問: " + passage.replace("リズム", "何"), output="リズム")
    assert reasons([comets, restated]) == {"fixture:1": None, "fixture:2": None}


# ------------------------------------------------------------------ Sudachi word signals

def test_repeated_word_ngrams_and_token_histogram():
    # A generation loop: the same long clause over and over (word 10-grams repeat).
    clause = "駅前の小さな喫茶店でコーヒーを飲みながら新聞を読みます。"
    looping = "私は毎朝早く起きて、" + clause * 4 + "それが習慣です。"
    # Templated lines (one per item of a classification) repeat short phrases only: kept.
    templated = "\n".join(f"{name}は、チーズの一種です。" for name in
                           ["ゴーダ", "ブリー", "チェダー", "マンチェゴ", "カマンベール", "エメンタール",
                            "モッツァレラ"])
    varied = ("富士山は静岡県と山梨県の境にある日本一高い山です。標高は三千七百七十六メートルで、"
              "夏の登山シーズンには多くの人が山頂を目指します。冬は雪に覆われ、遠くからでもその姿がよく見えます。"
              "二〇一三年には世界文化遺産に登録され、信仰の対象と芸術の源泉として評価されました。")
    result = run([rec(1, output=looping), rec(2, output=varied), rec(3, task="classification", output=templated)],
                 params={"repetition": {"enabled": False}})
    assert dict(zip(result.rejected["id"], result.rejected["reason"])) == {"fixture:1": "repeated_words"}
    # Only texts with repeated character runs needed Sudachi: the varied one was cleared by the prefilter.
    assert sum(result.extra_stats["sudachi_token_histogram"]["output"].values()) == 2
    capped = run([rec(2, output=varied)], params={"words": {"max_tokens": 30}})
    assert capped.rejected["reason"].to_list() == ["too_many_tokens"]
    token_count = int(capped.rejected["detail"][0].split(": ")[1].split(" ")[0])
    assert 30 < token_count < len(varied)


def test_normalized_form_folds_spelling_variants():
    from jinstruct.filters.words import normalized_form
    assert normalized_form("打込む") == "打ち込む"
    assert normalized_form("ｽﾏﾎ") == "スマホ"


# ------------------------------------------------------------------ compose

def test_first_failing_filter_wins_and_accounting_holds():
    # Empty instruction (length) and Chinese output (language): length runs first.
    both = rec(1, instruction="",
               output="她周一去了学校但是却发现没有其他的同学，所以她意识到这个周一实际上是国家假日。")
    result = run([both, rec(2)])
    assert result.rejected.select("id", "stage", "reason").rows() == [("fixture:1", "filter", "empty_instruction")]
    assert result.kept["id"].to_list() == ["fixture:2"]
    assert set(SCHEMA_FIELDS) <= set(result.kept.columns) and "reason" not in result.kept.columns
    assert not any(column.startswith("__") for column in result.kept.columns + result.rejected.columns)
    assert result.extra_stats["filter_order"][0] == "length"  # no eval dir: no decontamination


def test_disabled_filter_does_not_run():
    chinese = rec(1, output="她周一去了学校但是却发现没有其他的同学，所以她意识到这个周一实际上是国家假日。")
    assert reason_of(chinese, params={"language": {"enabled": False}, "script": {"enabled": False}}) is None


def test_same_input_gives_identical_output():
    records = [rec(i, output=text) for i, text in enumerate(
        [JA_ANSWER, "", "Mount Fuji is the highest mountain in Japan and stands at 3776 metres.", "はい"])]
    first, second = run(records), run(records)
    assert first.kept.equals(second.kept) and first.rejected.equals(second.rejected)
    assert first.extra_stats == second.extra_stats
