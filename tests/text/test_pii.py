"""PII masking: what must be masked, and the look-alikes that must not be."""

from __future__ import annotations

import polars as pl
import pytest

from jinstruct.text import normalize_texts
from jinstruct.text.pii import luhn_valid, mask_series, mask_text


@pytest.mark.parametrize("given, expected", [
    # e-mail
    ("mail: hanako+news@mail.example.jp", "mail: <EMAIL>"),
    ("宛先はinfo@example.comです", "宛先は<EMAIL>です"),
    # mobile and IP phones
    ("090-1234-5678", "<PHONE>"),
    ("09012345678に電話", "<PHONE>に電話"),
    ("070‐1234‐5678", "<PHONE>"),
    ("050-1234-5678", "<PHONE>"),
    # landlines: 2- to 5-digit area codes, 10 digits in all
    ("03-1234-5678", "<PHONE>"),
    ("011-123-4567", "<PHONE>"),
    ("0123-45-6789", "<PHONE>"),
    ("01267-2-3456", "<PHONE>"),
    ("0312345678", "<PHONE>"),
    ("第0123456789号", "第<PHONE>号"),          # any 10-digit run starting 0[1-9] has a landline's shape
    ("(03)1234-5678", "<PHONE>"),
    ("TEL:06-6123-4567（代表）", "TEL:<PHONE>（代表）"),
    # toll-free and navi-dial
    ("0120-12-3456", "<PHONE>"),
    ("0120123456", "<PHONE>"),
    ("0800-123-4567", "<PHONE>"),
    # +81
    ("+81-90-1234-5678", "<PHONE>"),
    ("+81 3 1234 5678", "<PHONE>"),
    ("+81(0)3-1234-5678", "<PHONE>"),
    ("+819012345678", "<PHONE>"),
    # postal codes
    ("〒060-0001", "<POSTAL>"),
    ("〒 1000001", "<POSTAL>"),
    ("〒100ー0001", "<POSTAL>"),
    ("530-0001 大阪府大阪市", "<POSTAL> 大阪府大阪市"),
    ("231-0023 神奈川県横浜市", "<POSTAL> 神奈川県横浜市"),
    ("郵便番号 100-0001", "郵便番号 <POSTAL>"),
    # cards (Luhn-valid test numbers of the major brands)
    ("4111111111111111", "<CARD>"),
    ("カード番号は5555 5555 5555 4444です", "カード番号は<CARD>です"),
    ("3782-822463-10005", "<CARD>"),          # Amex 4-6-5
    ("3530111333300000", "<CARD>"),            # JCB
    ("30569309025904", "<CARD>"),              # Diners, 14 digits
])
def test_masked(given, expected):
    assert mask_text(given) == expected


@pytest.mark.parametrize("text", [
    "2024-01-15", "2024/1/15", "2024年1月15日", "令和6年1月15日", "20240115",
    "1,234,567円", "¥12,800（税込）", "$1,000,000",
    "1998年", "西暦2000年から2024年まで",
    "ISBN978-4-06-123456-7", "ISBN 978-4-10-109205-8", "9784101092058", "ISBN4-06-123456-7",
    "4901234567894",                       # JAN code, 13 digits
    "4111 1111 1111 1112",                 # Luhn fails
    "9111111111111111",                    # passes Luhn but no issuer starts with 9
    "1234-5678-9012-3456",                 # Luhn fails
    "10:30-12:00", "12:34:56", "v1.2.3", "Python 3.11.4", "192.168.0.1",
    "123-4567",                            # bare 7 digits, no address
    "部品番号 123-4567-8",
    "001-2345-6789-0123",                   # too many digits for a phone, not a card
    "03-1234-567",                          # 9 digits: not a Japanese number
    "090-1234-56789",                       # 12 digits
    "user@localhost",                      # no dotted domain
    "@example.com",                        # a handle, not an address
    "13:00〜15:00 (1時間)",
    "電話番号の例: 0X-XXXX-XXXX",
])
def test_look_alikes_are_not_masked(text):
    assert mask_text(text) == text


def test_full_width_input_is_masked_after_normalisation():
    assert normalize_texts(["ＴＥＬ：０３－１２３４－５６７８、〒１５０－０００２"]) == ["TEL:<PHONE>、<POSTAL>"]
    assert normalize_texts(["４１１１　１１１１　１１１１　１１１１"]) == ["<CARD>"]


def test_kinds_can_be_switched_off():
    text = "a@b.co 090-1234-5678 〒100-0001 4111111111111111"
    assert mask_text(text, kinds=("phone",)) == "a@b.co <PHONE> 〒100-0001 4111111111111111"
    assert normalize_texts([text], {"pii": {"email": False, "card": False, "phone": False, "postal": False}}) == [text]


def test_luhn():
    assert luhn_valid("79927398713")           # the textbook example
    assert not luhn_valid("79927398710")
    assert luhn_valid("4111111111111111")


def test_mask_series_keeps_nulls_and_untouched_rows():
    series = pl.Series(["090-1234-5678", None, "ふつうの文", ""], dtype=pl.String)
    masked = mask_series(series, "phone")
    assert masked.to_list() == ["<PHONE>", None, "ふつうの文", ""]
    assert series.to_list()[0] == "090-1234-5678"  # the input series is not modified in place
