"""Which licence a built dataset carries, derived from its sources' licences.

Each record keeps its own source licence in the ``license`` column; this module
decides the single licence the dataset card declares for the collection and
which sources need an explicit opt-in before publishing.

Rules (the "why" of each is in the comment beside it):

- A share-alike source makes the whole card share-alike. Within one family the
  highest version wins: CC BY-SA 3.0 §4(b) and CC BY-NC-SA 3.0 §4(b) let an
  adaptation be licensed under "a later version of this License with the same
  License Elements", so 3.0 material may be shared under 4.0.
- Attribution-only and permissive sources (CC BY, Apache-2.0, MIT, CC0) may be
  included in a share-alike collection as long as their notices are kept
  (CC BY 2.0 §4(b), CC BY 4.0 §3(a), Apache-2.0 §4), which the card does by
  listing every source with its licence and citation.
- Two share-alike families (or share-alike plus non-commercial) cannot be merged
  into one licence: the card then says ``other`` and defers to the per-record
  licence column.
- A licence this module does not know, or a non-commercial one, is refused
  unless the user passes the matching flag. No-derivatives licences are left
  out of the table on purpose: converting records into instructions adapts
  them, so such a source counts as unknown until someone checks its terms.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from jinstruct.records import InputError


@dataclass(frozen=True)
class Licence:
    spdx: str            # canonical id used in params and records, e.g. CC-BY-SA-4.0
    hub_id: str          # the Hugging Face Hub licence tag
    name: str
    url: str
    family: str          # licences of one family differ only by version
    version: tuple[int, ...]
    share_alike: bool = False
    non_commercial: bool = False


def _cc(elements: str, version: str, port: str = "") -> Licence:
    """A Creative Commons licence such as ("BY-SA", "4.0") or ("BY", "2.0", "FR")."""
    spdx = f"CC-{elements}-{version}" + (f"-{port}" if port else "")
    path = f"{elements.lower()}/{version}/" + (f"{port.lower()}/" if port else "")
    return Licence(
        spdx=spdx,
        # The Hub has no tags for national ports; the unported tag of the same version is the closest.
        hub_id=f"cc-{elements.lower()}-{version}",
        name=f"Creative Commons {elements.replace('-', ' ')} {version}" + (f" {port}" if port else ""),
        url=f"https://creativecommons.org/licenses/{path}",
        family=f"cc-{elements.lower()}",
        version=tuple(int(part) for part in version.split(".")),
        share_alike="SA" in elements.split("-"),
        non_commercial="NC" in elements.split("-"),
    )


_KNOWN = [
    _cc("BY", "2.0"), _cc("BY", "2.0", "FR"), _cc("BY", "2.5"), _cc("BY", "3.0"), _cc("BY", "4.0"),
    _cc("BY-SA", "2.0"), _cc("BY-SA", "2.5"), _cc("BY-SA", "3.0"), _cc("BY-SA", "4.0"),
    _cc("BY-NC", "2.0"), _cc("BY-NC", "3.0"), _cc("BY-NC", "4.0"),
    _cc("BY-NC-SA", "2.0"), _cc("BY-NC-SA", "3.0"), _cc("BY-NC-SA", "4.0"),
    Licence("CC0-1.0", "cc0-1.0", "Creative Commons Zero 1.0", "https://creativecommons.org/publicdomain/zero/1.0/",
            "cc0", (1, 0)),
    Licence("Apache-2.0", "apache-2.0", "Apache License 2.0", "https://www.apache.org/licenses/LICENSE-2.0",
            "apache", (2, 0)),
    Licence("MIT", "mit", "MIT License", "https://opensource.org/license/mit", "mit", (1,)),
    Licence("BSD-3-Clause", "bsd-3-clause", "BSD 3-Clause License", "https://opensource.org/license/bsd-3-clause",
            "bsd-3-clause", (1,)),
    Licence("ODC-By-1.0", "odc-by", "Open Data Commons Attribution 1.0",
            "https://opendatacommons.org/licenses/by/1-0/", "odc-by", (1, 0)),
    Licence("ODbL-1.0", "odbl", "Open Data Commons Open Database License 1.0",
            "https://opendatacommons.org/licenses/odbl/1-0/", "odbl", (1, 0), share_alike=True),
]
_BY_KEY = {licence.spdx.upper(): licence for licence in _KNOWN}
_ALIASES = {"APACHE-LICENSE-2.0": "APACHE-2.0", "APACHE2": "APACHE-2.0", "APACHE-2": "APACHE-2.0",
            "CC0": "CC0-1.0", "ODC-BY": "ODC-BY-1.0", "ODBL": "ODBL-1.0"}


def parse_licence(text: str | None) -> Licence | None:
    """A known licence from an SPDX-ish string ("CC BY-SA 4.0", "cc-by-sa-4.0", "Apache 2.0"), else None."""
    if not text:
        return None
    key = re.sub(r"[\s_]+", "-", text.strip()).upper()
    key = re.sub(r"^CREATIVE-COMMONS-", "CC-", key).removesuffix("-LICENSE")
    key = re.sub(r"^APACHE-(2\.0|2)$", "APACHE-2.0", key)
    key = _ALIASES.get(key, key)
    return _BY_KEY.get(key)


@dataclass
class LicenceDecision:
    """The card's licence and the reasons behind it."""

    hub_id: str                      # what goes into the card's `license:` field
    spdx: str | None                 # the same as an SPDX-ish id (None for "other")
    notes: list[str] = field(default_factory=list)
    unknown: dict[str, str] = field(default_factory=dict)          # source -> licence text
    non_commercial: dict[str, str] = field(default_factory=dict)   # source -> spdx

    def check_publishable(self, allow_unknown: bool, allow_noncommercial: bool) -> None:
        """Refuse, with the flag that would allow it, a licence the user has not opted into."""
        if self.unknown and not allow_unknown:
            listed = ", ".join(f"{name} ({text or 'no licence given'})" for name, text in sorted(self.unknown.items()))
            raise InputError(f"unknown licence for source(s) {listed}: set a known licence in params.yaml "
                             "or pass --allow-unknown-license after checking the terms yourself")
        if self.non_commercial and not allow_noncommercial:
            listed = ", ".join(f"{name} ({spdx})" for name, spdx in sorted(self.non_commercial.items()))
            raise InputError(f"non-commercial licence for source(s) {listed}: "
                             "pass --allow-noncommercial to publish a dataset others may not use commercially")


def derive_licence(source_licences: Mapping[str, str | None]) -> LicenceDecision:
    """The collection licence for sources {name: licence text} (see the module docstring)."""
    known: dict[str, Licence] = {}
    unknown: dict[str, str] = {}
    for name, text in sorted(source_licences.items()):
        licence = parse_licence(text)
        if licence is None:
            unknown[name] = text or ""
        else:
            known[name] = licence
    non_commercial = {name: licence.spdx for name, licence in known.items() if licence.non_commercial}
    decision = _combine(list(known.values()), bool(unknown))
    decision.unknown, decision.non_commercial = unknown, non_commercial
    return decision


def _combine(licences: list[Licence], has_unknown: bool) -> LicenceDecision:
    if not licences:
        return LicenceDecision("unknown", None, ["no source states a licence"])
    share_alike = [licence for licence in licences if licence.share_alike]
    if has_unknown:
        return LicenceDecision("other", None, ["some sources have no known licence: "
                                               "each record's `license` column governs its use"])
    if share_alike:
        families = sorted({licence.family for licence in share_alike})
        non_commercial_only = sorted({lic.spdx for lic in licences if lic.non_commercial and not lic.share_alike})
        if len(families) > 1 or non_commercial_only:
            clash = sorted({lic.spdx for lic in share_alike} | set(non_commercial_only))
            return LicenceDecision("other", None, [f"{', '.join(clash)} cannot be combined under one licence: "
                                                   "each record's `license` column governs its use"])
        chosen = max(share_alike, key=lambda licence: licence.version)
        notes = [f"share-alike terms of {', '.join(sorted({lic.spdx for lic in share_alike}))} "
                 f"apply to the collection, so it is released under {chosen.spdx}"]
        older = sorted({lic.spdx for lic in share_alike if lic.version < chosen.version})
        if older:
            notes.append(f"{', '.join(older)} material is shared under the later version {chosen.spdx}, "
                         "as its own terms allow")
        others = sorted({lic.spdx for lic in licences if not lic.share_alike})
        if others:
            notes.append(f"{', '.join(others)} material is included with its attribution notices kept")
        return LicenceDecision(chosen.hub_id, chosen.spdx, notes)
    distinct = sorted({licence.spdx for licence in licences})
    if len(distinct) == 1:
        return LicenceDecision(licences[0].hub_id, licences[0].spdx, [f"every source is {distinct[0]}"])
    non_commercial = sorted({lic.spdx for lic in licences if lic.non_commercial})
    if len(non_commercial) == 1:
        chosen = next(lic for lic in licences if lic.spdx == non_commercial[0])
        return LicenceDecision(chosen.hub_id, chosen.spdx, [f"the non-commercial terms of {chosen.spdx} apply to "
                                                            "the collection; other sources keep their notices"])
    return LicenceDecision("other", None, [f"sources carry {', '.join(distinct)}: "
                                           "each record's `license` column governs its use"])


def licence_url(text: str | None) -> str | None:
    licence = parse_licence(text)
    return licence.url if licence else None
