#!/usr/bin/env python3
"""Writes the four-item matching test set: registered.tsv and queries.tsv beside this file.

Run once by hand (python3 make_pairs.py); the test (tests/pairs.rs) reads only the TSV files,
which are committed. The names, readings and addresses are invented: common Japanese surnames
and given names with their readings, spread over a dozen municipalities, with the look-alikes a
real town has (namesakes, twins, parent and child at one address), and queries written the ways
an agency clerk writes the same identity. Deterministic (a fixed seed).

registered.tsv: code, name, reading, former_surname, former_reading, birth, sex,
municipality, address (the part after the municipality), as a register holds them.
queries.tsv: kind, name, reading, birth, sex, address, expected (a code, or - when the person
is not registered or the query cannot tell who).
"""

import random

R = random.Random(20061101)

# (surname as registered, reading, other written forms of the same surname)
SURNAMES = [
    ("佐藤", "サトウ", []), ("鈴木", "スズキ", []), ("高橋", "タカハシ", ["髙橋"]),
    ("田中", "タナカ", []), ("伊藤", "イトウ", []), ("渡辺", "ワタナベ", ["渡邊", "渡邉"]),
    ("山本", "ヤマモト", []), ("中村", "ナカムラ", []), ("小林", "コバヤシ", []),
    ("加藤", "カトウ", []), ("吉田", "ヨシダ", ["𠮷田"]), ("山田", "ヤマダ", []),
    ("佐々木", "ササキ", []), ("山口", "ヤマグチ", []), ("松本", "マツモト", []),
    ("井上", "イノウエ", []), ("木村", "キムラ", []), ("斎藤", "サイトウ", ["齋藤"]),
    ("斉藤", "サイトウ", ["齊藤"]), ("清水", "シミズ", ["淸水"]), ("山崎", "ヤマザキ", ["山﨑", "山嵜"]),
    ("森", "モリ", []), ("池田", "イケダ", []), ("橋本", "ハシモト", []), ("阿部", "アベ", []),
    ("石川", "イシカワ", []), ("前田", "マエダ", []), ("藤田", "フジタ", []), ("後藤", "ゴトウ", []),
    ("長谷川", "ハセガワ", []), ("近藤", "コンドウ", []), ("坂本", "サカモト", []),
    ("遠藤", "エンドウ", []), ("青木", "アオキ", ["靑木"]), ("西村", "ニシムラ", []),
    ("福田", "フクダ", []), ("太田", "オオタ", []), ("三浦", "ミウラ", []),
    ("藤原", "フジワラ", []), ("岡本", "オカモト", []), ("中川", "ナカガワ", []),
    ("原田", "ハラダ", []), ("小川", "オガワ", []), ("竹内", "タケウチ", []),
    ("金子", "カネコ", []), ("和田", "ワダ", []), ("中山", "ナカヤマ", []), ("上田", "ウエダ", []),
    ("柴田", "シバタ", []), ("工藤", "クドウ", []), ("宮崎", "ミヤザキ", ["宮﨑"]),
    ("内田", "ウチダ", []), ("安藤", "アンドウ", []), ("谷口", "タニグチ", []),
    ("大野", "オオノ", []), ("小野", "オノ", []), ("今井", "イマイ", []), ("河野", "コウノ", []),
    ("杉山", "スギヤマ", []), ("増田", "マスダ", []), ("千葉", "チバ", []), ("久保", "クボ", []),
    ("岩崎", "イワサキ", ["岩﨑"]), ("野口", "ノグチ", []), ("菊地", "キクチ", []),
    ("菊池", "キクチ", []), ("桜井", "サクライ", ["櫻井"]), ("浜田", "ハマダ", ["濱田"]),
    ("広瀬", "ヒロセ", ["廣瀬"]), ("沢田", "サワダ", ["澤田"]), ("島田", "シマダ", ["嶋田", "嶌田"]),
    ("富田", "トミタ", ["冨田"]), ("神田", "カンダ", ["\uFA19田"]), ("黒田", "クロダ", ["黑田"]),
    ("岩淵", "イワブチ", ["岩渕"]), ("館野", "タテノ", ["舘野"]), ("峰岸", "ミネギシ", ["峯岸"]),
    ("曽根", "ソネ", ["曾根"]), ("辺見", "ヘンミ", ["邊見"]), ("関", "セキ", ["關"]),
    ("服部", "ハットリ", []), ("熊谷", "クマガイ", []), ("大久保", "オオクボ", []),
    ("五十嵐", "イガラシ", []), ("小池", "コイケ", []), ("荒木", "アラキ", []),
    ("土屋", "ツチヤ", []), ("野村", "ノムラ", []), ("菅原", "スガワラ", []),
    ("市川", "イチカワ", []), ("水野", "ミズノ", []), ("千田", "チダ", []),
    ("中島", "ナカジマ", ["中嶋", "中嶌"]), ("長島", "ナガシマ", ["長嶋"]),
]

# (given name as registered, reading, sex, other written forms)
GIVEN = [
    ("太郎", "タロウ", "1", []), ("一郎", "イチロウ", "1", []), ("健太", "ケンタ", "1", []),
    ("翔太", "ショウタ", "1", []), ("大輔", "ダイスケ", "1", []), ("拓也", "タクヤ", "1", []),
    ("直樹", "ナオキ", "1", []), ("誠", "マコト", "1", []), ("浩二", "コウジ", "1", []),
    ("健一", "ケンイチ", "1", []), ("隆", "タカシ", "1", []), ("博", "ヒロシ", "1", []),
    ("勇気", "ユウキ", "1", []), ("大翔", "ヒロト", "1", []), ("蓮", "レン", "1", []),
    ("悠真", "ユウマ", "1", []), ("陽太", "ヨウタ", "1", []), ("竜之介", "リュウノスケ", "1", ["龍之介"]),
    ("翔", "ショウ", "1", []), ("亮", "リョウ", "1", []), ("修", "オサム", "1", []),
    ("茂", "シゲル", "1", []), ("清", "キヨシ", "1", ["淸"]), ("実", "ミノル", "1", ["實"]),
    ("国男", "クニオ", "1", ["國男"]), ("広志", "ヒロシ", "1", ["廣志"]), ("真一", "シンイチ", "1", ["眞一"]),
    ("徳雄", "トクオ", "1", ["德雄"]), ("栄一", "エイイチ", "1", ["榮一"]), ("寿男", "トシオ", "1", ["壽男"]),
    ("恭平", "キョウヘイ", "1", []), ("俊介", "シュンスケ", "1", []), ("雄一", "ユウイチ", "1", []),
    ("和也", "カズヤ", "1", []), ("正", "タダシ", "1", []), ("進", "ススム", "1", []),
    ("花子", "ハナコ", "2", []), ("恵子", "ケイコ", "2", ["惠子"]), ("京子", "キョウコ", "2", []),
    ("洋子", "ヨウコ", "2", []), ("裕子", "ユウコ", "2", []), ("優子", "ユウコ", "2", []),
    ("陽子", "ヨウコ", "2", []), ("美咲", "ミサキ", "2", []), ("さくら", "サクラ", "2", []),
    ("結衣", "ユイ", "2", []), ("葵", "アオイ", "2", []), ("陽菜", "ヒナ", "2", []),
    ("真由美", "マユミ", "2", ["眞由美"]), ("由美子", "ユミコ", "2", []), ("智子", "トモコ", "2", []),
    ("直美", "ナオミ", "2", []), ("久美子", "クミコ", "2", []), ("幸子", "サチコ", "2", []),
    ("節子", "セツコ", "2", []), ("和子", "カズコ", "2", []), ("千代", "チヨ", "2", []),
    ("静香", "シズカ", "2", ["靜香"]), ("彩", "アヤ", "2", []), ("愛", "アイ", "2", []),
    ("舞", "マイ", "2", []), ("瑞樹", "ミズキ", "2", []), ("千鶴", "チヅル", "2", []),
    ("寿子", "ヒサコ", "2", ["壽子"]), ("桜子", "サクラコ", "2", ["櫻子"]), ("恵", "メグミ", "2", ["惠"]),
    ("綾乃", "アヤノ", "2", []), ("ちよ", "チヨ", "2", []), ("杏奈", "アンナ", "2", []),
    ("翔子", "ショウコ", "2", []), ("凛", "リン", "2", []), ("美穂", "ミホ", "2", []),
]

# (code, prefecture, county or "", municipality as people write it, address makers)
def achi_a(r):
    town = r.choice(["智里", "駒場", "春日", "伍和"])
    n = r.randint(1, 3999)
    if r.random() < 0.4:
        return f"大字{town}{n}番地{r.randint(1, 20)}"
    return f"大字{town}{n}番地"


def shimojo(r):
    return f"大字睦沢{r.randint(1, 9999)}番地"


def nagano(r):
    if r.random() < 0.5:
        return f"大字鶴賀{r.randint(1, 2000)}番地{r.randint(1, 30)}"
    return f"箱清水{r.randint(1, 4)}丁目{r.randint(1, 20)}番{r.randint(1, 30)}号"


def chome(town, max_chome):
    def make(r):
        addr = f"{town}{r.randint(1, max_chome)}丁目{r.randint(1, 30)}番{r.randint(1, 40)}号"
        if r.random() < 0.25:
            building = r.choice(["コーポ", "メゾン", "ハイツ", "グランドパレス"]) + r.choice(["桜", "緑", "青葉", "若葉", "ひかり"])
            addr += f" {building}{r.randint(1, 9)}0{r.randint(1, 9)}号室"
        return addr
    return make


def fuchu(r):
    return f"宮町{r.randint(1, 3)}丁目{r.randint(1, 40)}番地{r.randint(1, 20)}"


def yokkaichi(r):
    return f"諏訪町{r.randint(1, 20)}番{r.randint(1, 30)}号"


def sapporo(r):
    return f"北{r.randint(1, 5)}条西{r.randint(1, 20)}丁目{r.randint(1, 30)}番地{r.randint(1, 9)}"


def naha(r):
    return f"字安里{r.randint(1, 400)}番地"


PLACES = [
    ("204072", "長野県", "下伊那郡", "阿智村", achi_a, 5),
    ("204111", "長野県", "下伊那郡", "下條村", shimojo, 2),
    ("202011", "長野県", "", "長野市", nagano, 3),
    ("202029", "長野県", "", "松本市", chome("中央", 4), 2),
    ("131121", "東京都", "", "世田谷区", chome("三軒茶屋", 2), 3),
    ("132063", "東京都", "", "府中市", fuchu, 2),
    ("242021", "三重県", "", "四日市市", yokkaichi, 2),
    ("011011", "北海道", "", "札幌市中央区", sapporo, 2),
    ("271276", "大阪府", "", "大阪市北区", chome("梅田", 3), 3),
    ("401323", "福岡県", "", "福岡市博多区", chome("博多駅前", 4), 2),
    ("472018", "沖縄県", "", "那覇市", naha, 1),
    ("172014", "石川県", "", "金沢市", chome("広坂", 2), 1),
    ("372013", "香川県", "", "高松市", chome("番町", 5), 1),
]
PLACE = {p[0]: p for p in PLACES}


def check_digit(ten):
    w = [5, 4, 3, 2, 7, 6, 5, 4, 3, 2]
    r = sum(int(d) * x for d, x in zip(ten, w)) % 11
    return 0 if r <= 1 else 11 - r


used_codes = set()


def new_code():
    while True:
        ten = f"{R.randint(0, 9_999_999_999):010d}"
        if ten not in used_codes:
            used_codes.add(ten)
            return ten + str(check_digit(ten))


def birth(r, lo=1925, hi=2024):
    y = r.randint(lo, hi)
    m = r.randint(1, 12)
    d = r.randint(1, 28 if m == 2 else 30)
    return f"{y:04d}-{m:02d}-{d:02d}"


people = []  # dicts


def person(surname, given, b, place_code, address, former=None):
    s, sr, _ = surname
    g, gr, sex, _ = given
    p = {
        "code": new_code(), "name": f"{s}　{g}", "reading": f"{sr}　{gr}",
        "surname": surname, "given": given, "former": former,
        "birth": b, "sex": sex, "municipality": place_code, "address": address,
    }
    people.append(p)
    return p


def pick_place(r):
    return r.choices(PLACES, weights=[p[5] for p in PLACES])[0]


# The population: 560 people, drawn at random, then the look-alikes on purpose.
for _ in range(560):
    pl = pick_place(R)
    person(R.choice(SURNAMES), R.choice(GIVEN), birth(R), pl[0], pl[4](R))
# Some registered in their old forms, as the family register writes them.
for p in R.sample(people, 60):
    forms = p["surname"][2]
    if forms:
        s = R.choice(forms)
        p["name"] = f"{s}　{p['given'][0]}"
        p["registered_old"] = True
    elif p["given"][3]:
        p["name"] = f"{p['surname'][0]}　{R.choice(p['given'][3])}"
        p["registered_old"] = True
# Married women with a former surname (旧氏) recorded.
women = [p for p in people if p["sex"] == "2" and p["birth"] < "2000"]
for p in R.sample(women, 40):
    old = R.choice([s for s in SURNAMES if s[0] != p["surname"][0]])
    p["former"] = old
# Namesakes in one town: same name and address area, another birth date.
namesakes = []
for _ in range(25):
    base = R.choice(people)
    pl = PLACE[base["municipality"]]
    other = person(base["surname"], base["given"], birth(R), base["municipality"], pl[4](R))
    other["name"], other["reading"] = base["name"], base["reading"]
    namesakes.append((base, other))
# Twins: same birth date and address, same surname, another given name of the same sex.
twins = []
for _ in range(25):
    base = R.choice(people)
    g = R.choice([x for x in GIVEN if x[2] == base["sex"] and x[0] != base["given"][0]])
    twin = person(base["surname"], g, base["birth"], base["municipality"], base["address"])
    twin["name"] = base["name"].split("　")[0] + "　" + g[0]  # the surname as the family writes it
    twins.append((base, twin))
# Parent and child at one address with the same given name (a household of two 太郎).
for _ in range(10):
    base = R.choice([p for p in people if p["birth"] < "1980"])
    child = person(base["surname"], base["given"], birth(R, 1990, 2015), base["municipality"], base["address"])
    child["name"], child["reading"] = base["name"], base["reading"]

# ---------------------------------------------------------------- query writing
FULL = {chr(c): chr(c + 0xFEE0) for c in range(0x21, 0x7F)}
HALF_KANA = dict(zip(
    "アイウエオカキクケコサシスセソタチツテトナニヌネノハヒフヘホマミムメモヤユヨラリルレロワヲンァィゥェォッャュョー",
    "ｱｲｳｴｵｶｷｸｹｺｻｼｽｾｿﾀﾁﾂﾃﾄﾅﾆﾇﾈﾉﾊﾋﾌﾍﾎﾏﾐﾑﾒﾓﾔﾕﾖﾗﾘﾙﾚﾛﾜｦﾝｧｨｩｪｫｯｬｭｮｰ",
))
VOICED = dict(zip("ガギグゲゴザジズゼゾダヂヅデドバビブベボ", "カキクケコサシスセソタチツテトハヒフヘホ"))
SEMI = dict(zip("パピプペポ", "ハヒフヘホ"))


def full_width(s):
    return "".join(FULL.get(c, c) for c in s).replace(" ", "\u3000")


def half_kana(s):
    out = []
    for c in s:
        if c in VOICED:
            out.append(HALF_KANA[VOICED[c]] + "ﾞ")
        elif c in SEMI:
            out.append(HALF_KANA[SEMI[c]] + "ﾟ")
        elif c == "\u3000":
            out.append(" ")
        else:
            out.append(HALF_KANA.get(c, c))
    return "".join(out)


def hira(s):
    return "".join(chr(ord(c) - 0x60) if "ァ" <= c <= "ヶ" else c for c in s)


def enlarge(s):
    return s.translate(str.maketrans("ァィゥェォッャュョ", "アイウエオツヤユヨ"))


def long_vowel(s):
    for a, b in [("オウ", "オー"), ("ユウ", "ユー"), ("ヨウ", "ヨー"), ("ロウ", "ロー"), ("コウ", "コー"),
                 ("トウ", "トー"), ("ショウ", "ショー"), ("キョウ", "キョー"), ("オオ", "オー"), ("ケイ", "ケー"),
                 ("ドウ", "ドー"), ("ゴウ", "ゴー"), ("リュウ", "リュー"), ("イチ", "イチ")]:
        if a in s:
            return s.replace(a, b, 1)
    return None


KANJI_NUM = "〇一二三四五六七八九"


def kanji_number(n):
    n = int(n)
    if n < 10:
        return KANJI_NUM[n]
    if n < 100:
        t, o = divmod(n, 10)
        return ("" if t == 1 else KANJI_NUM[t]) + "十" + ("" if o == 0 else KANJI_NUM[o])
    return "".join(KANJI_NUM[int(d)] for d in str(n))


def hyphenated(address, dash="-"):
    """三軒茶屋1丁目2番3号 → 三軒茶屋1-2-3; 大字智里123番地4 → 大字智里123-4."""
    import re
    a = re.sub(r"(\d+)丁目(\d+)番地?(\d+)号?", lambda m: dash.join(m.groups()), address)
    a = re.sub(r"(\d+)番地(\d+)", lambda m: dash.join(m.groups()), a)
    a = re.sub(r"(\d+)番(\d+)号", lambda m: dash.join(m.groups()), a)
    a = re.sub(r"(\d+)番地$", r"\1", a)
    a = re.sub(r"(\d+)番地(\s)", r"\1\2", a)
    return a


def kanji_chome(address):
    import re
    return re.sub(r"(\d+)丁目", lambda m: kanji_number(m.group(1)) + "丁目", address)


def all_kanji_numbers(address):
    import re
    return re.sub(r"\d+", lambda m: kanji_number(m.group(0)), address)


ERAS = [("令和", "R", "2019-05-01"), ("平成", "H", "1989-01-08"), ("昭和", "S", "1926-12-25"),
        ("大正", "T", "1912-07-30")]


def wareki(b, initial=False, gannen=True):
    for name, ini, start in ERAS:
        if b >= start:
            y = int(b[:4]) - int(start[:4]) + 1
            m, d = int(b[5:7]), int(b[8:10])
            if initial:
                return f"{ini}{y}.{m}.{d}"
            ys = "元" if (y == 1 and gannen) else str(y)
            return f"{name}{ys}年{m}月{d}日"
    return b


def full_address(p, pref=True, county=True):
    pl = PLACE[p["municipality"]]
    parts = []
    if pref:
        parts.append(pl[1])
    if county and pl[2]:
        parts.append(pl[2])
    parts.append(pl[3])
    return "".join(parts) + p["address"]


def name_parts(p):
    s, g = p["name"].split("　")
    rs, rg = p["reading"].split("　")
    return s, g, rs, rg


queries = []


def q(kind, name, reading, b, sex, address, expected):
    queries.append((kind, name, reading or "", b, sex, address, expected))


def no_building(address):
    return address.split(" ")[0]


registered_people = list(people)
singles = [p for p in people]
R.shuffle(singles)
it = iter(singles * 3)


def nxt(pred=lambda p: True):
    while True:
        p = next(it)
        if pred(p):
            return p


SEX_WORDS = {"1": ["男", "1", "M", "male", "Ｍ"], "2": ["女", "2", "F", "female", "ｆ"]}

# Positive queries, by variant kind.
for _ in range(14):
    p = nxt()
    q("exact", p["name"], p["reading"], p["birth"], p["sex"], full_address(p), p["code"])
for _ in range(14):
    p = nxt()
    q("width", full_width(p["name"]), half_kana(p["reading"]), full_width(p["birth"].replace("-", "/")),
      p["sex"], full_width(full_address(p)), p["code"])
for _ in range(14):
    p = nxt()
    q("hiragana", p["name"], hira(p["reading"]), p["birth"], p["sex"], full_address(p), p["code"])
for _ in range(8):
    p = nxt()
    q("kana-name", p["reading"], "", p["birth"], p["sex"], full_address(p), p["code"])
for _ in range(12):
    p = nxt(lambda p: any(c in p["reading"] for c in "ャュョッ"))
    q("small-kana", p["name"], enlarge(p["reading"]), p["birth"], p["sex"], full_address(p), p["code"])
for _ in range(12):
    p = nxt(lambda p: long_vowel(p["reading"]) is not None and "イチ" not in p["reading"])
    q("long-vowel", p["name"], long_vowel(p["reading"]), p["birth"], p["sex"], full_address(p), p["code"])
for _ in range(4):
    p = nxt(lambda p: "チヅル" in p["reading"] or "ミズキ" in p["reading"] or "ミズノ" in p["reading"])
    r = p["reading"].replace("チヅル", "チズル").replace("ミズ", "ミヅ")
    q("ji-zu", p["name"], r, p["birth"], p["sex"], full_address(p), p["code"])
# Old and new kanji: a person registered in the new form asked in the old, and the reverse.
old_variant = lambda p: (p["surname"][2] or p["given"][3]) and not p.get("registered_old")
for _ in range(24):
    p = nxt(old_variant)
    s, g, _, _ = name_parts(p)
    if p["surname"][2]:
        s = R.choice(p["surname"][2])
    else:
        g = R.choice(p["given"][3])
    q("old-kanji", f"{s}　{g}", p["reading"], p["birth"], p["sex"], full_address(p), p["code"])
for p in [p for p in people if p.get("registered_old")][:30]:
    q("registered-old-kanji", f"{p['surname'][0]} {p['given'][0]}", p["reading"], p["birth"], p["sex"],
      full_address(p), p["code"])
# Spaces and separators.
for i in range(16):
    p = nxt()
    s, g, rs, rg = name_parts(p)
    sep = ["", " ", "  ", "・", "\u3000\u3000"][i % 5]
    q("spaces", s + sep + g, rs + ["", " ", "・", "　"][i % 4] + rg, p["birth"], p["sex"], full_address(p), p["code"])
# Address notations.
for i in range(24):
    p = nxt(lambda p: any(ch.isdigit() for ch in p["address"]))
    a = p["address"]
    style = i % 6
    if style == 0:
        a = hyphenated(a)
    elif style == 1:
        a = hyphenated(a, "ー")
    elif style == 2:
        a = full_width(hyphenated(a, "－"))
    elif style == 3:
        a = hyphenated(a, "‐")
    elif style == 4:
        a = kanji_chome(a) if "丁目" in a else hyphenated(a, "−")
    else:
        a = all_kanji_numbers(no_building(a))
        if "メゾン" in p["address"] or "コーポ" in p["address"]:
            a = all_kanji_numbers(p["address"])
    pl = PLACE[p["municipality"]]
    q("address-notation", p["name"], p["reading"], p["birth"], p["sex"], pl[1] + pl[2] + pl[3] + a, p["code"])
for _ in range(14):
    p = nxt()
    q("no-prefecture", p["name"], p["reading"], p["birth"], p["sex"], full_address(p, pref=False), p["code"])
for _ in range(8):
    p = nxt(lambda p: PLACE[p["municipality"]][2] != "")
    q("no-county", p["name"], p["reading"], p["birth"], p["sex"], full_address(p, county=False), p["code"])
for _ in range(12):
    p = nxt(lambda p: p["address"].startswith("大字") or p["address"].startswith("字"))
    a = full_address(p).replace("大字", "").replace("字", "")
    q("oaza", p["name"], p["reading"], p["birth"], p["sex"], a, p["code"])
for _ in range(10):
    p = nxt(lambda p: " " in p["address"])
    q("building", p["name"], p["reading"], p["birth"], p["sex"], no_building(full_address(p)), p["code"])
# Dates.
for i in range(24):
    p = nxt(lambda p: p["birth"] >= "1913")
    b = [wareki(p["birth"]), wareki(p["birth"], initial=True), wareki(p["birth"], gannen=False)][i % 3]
    if i % 4 == 3:
        b = b.lower()
    q("wareki", p["name"], p["reading"], b, p["sex"], full_address(p), p["code"])
# Era boundaries: 平成元年, H1, 令和元年, R1, 昭和64年.
for era_birth in ["1989-01-08", "1989-03-15", "2019-05-01", "2019-09-09", "1989-01-07", "1926-12-28"]:
    p = nxt()
    p2 = person(p["surname"], p["given"], era_birth, p["municipality"], PLACE[p["municipality"]][4](R))
    p2["name"], p2["reading"] = p["name"], p["reading"]
    for b in (wareki(era_birth), wareki(era_birth, initial=True)):
        q("wareki-boundary", p2["name"], p2["reading"], b, p2["sex"], full_address(p2), p2["code"])
for i in range(16):
    p = nxt()
    b = p["birth"]
    y, m, d = b[:4], str(int(b[5:7])), str(int(b[8:10]))
    b = [f"{y}/{m}/{d}", b.replace("-", ""), f"{y}年{m}月{d}日", f"{y}.{m}.{d}"][i % 4]
    q("date-format", p["name"], p["reading"], b, p["sex"], full_address(p), p["code"])
for _ in range(14):
    p = nxt()
    q("no-reading", p["name"], "", p["birth"], p["sex"], full_address(p), p["code"])
for i in range(10):
    p = nxt()
    q("sex-notation", p["name"], p["reading"], p["birth"], SEX_WORDS[p["sex"]][i % 5], full_address(p), p["code"])
for i in range(8):
    p = nxt()
    q("missing-sex", p["name"], p["reading"], p["birth"], "", full_address(p), p["code"])
for p in [p for p in people if p["former"]][:30]:
    _, g, _, rg = name_parts(p)
    q("former-surname", f"{p['former'][0]}　{g}", f"{p['former'][1]}　{rg}", p["birth"], p["sex"],
      full_address(p), p["code"])
# Everything at once: old kanji, hiragana, 和暦, no prefecture, another notation.
for _ in range(16):
    p = nxt(lambda p: p["birth"] >= "1927" and (p["surname"][2] or p["given"][3]) and not p.get("registered_old"))
    s, g, rs, rg = name_parts(p)
    if p["surname"][2]:
        s = p["surname"][2][0]
    q("combined", s + " " + g, hira(rs + " " + rg), wareki(p["birth"], initial=True), SEX_WORDS[p["sex"]][2],
      hyphenated(full_address(p, pref=False, county=False)), p["code"])
# Compatibility ideographs: registered 神 U+FA19, asked with 神 U+795E, and the reverse.
for i in range(6):
    p = nxt()
    surname = ("神田", "カンダ", [])
    p3 = person(surname, p["given"], birth(R), p["municipality"], PLACE[p["municipality"]][4](R))
    if i % 2 == 0:
        p3["name"] = "\uFA19田　" + p["given"][0]
        asked = "神田 " + p["given"][0]
    else:
        asked = "\uFA19田　" + p["given"][0]
    q("compatibility-ideograph", asked, p3["reading"], p3["birth"], p3["sex"], full_address(p3), p3["code"])
# Twins and namesakes, asked for the right one with every item: must be found.
for base, twin in twins:
    q("twin", twin["name"], twin["reading"], twin["birth"], twin["sex"], full_address(twin), twin["code"])
for base, other in namesakes:
    q("namesake", other["name"], other["reading"], wareki(other["birth"]) if other["birth"] >= "1913" else other["birth"],
      other["sex"], full_address(other), other["code"])

# Negative queries: nobody, or nobody can tell who.
all_births = {p["birth"] for p in people}
keys = {(p["name"].replace("　", ""), p["birth"]) for p in people}
for _ in range(30):
    p = nxt()
    while True:
        b = birth(R)
        if (p["name"].replace("　", ""), b) not in keys:
            break
    q("look-alike-other-birth", p["name"], p["reading"], b, p["sex"], full_address(p), "-")
for base, twin in twins[:20]:
    g = R.choice([x for x in GIVEN if x[2] == base["sex"] and x[0] not in (base["given"][0], twin["given"][0])])
    s = base["name"].split("　")[0]
    q("look-alike-twin", f"{s}　{g[0]}", f"{base['surname'][1]}　{g[1]}", base["birth"], base["sex"],
      full_address(base), "-")
for base, twin in twins[:10]:
    s = base["name"].split("　")[0]
    q("look-alike-twin-surname-only", s, base["surname"][1], base["birth"], base["sex"], full_address(base), "-")
for base, other in namesakes:
    # Name and address only, no birth date: two people fit.
    if base["municipality"] == other["municipality"]:
        q("look-alike-namesake-no-birth", base["name"], base["reading"], "", base["sex"],
          PLACE[base["municipality"]][3], "-")
for _ in range(40):
    s = R.choice(SURNAMES)
    g = R.choice(GIVEN)
    pl = pick_place(R)
    b = birth(R)
    if (f"{s[0]}{g[0]}", b) in keys:
        continue
    q("absent", f"{s[0]}　{g[0]}", f"{s[1]}　{g[1]}", b, g[2], pl[1] + pl[3] + pl[4](R), "-")
# The right name and address with the wrong sex: inconsistent, never named.
for _ in range(10):
    p = nxt()
    q("look-alike-other-sex", p["name"], p["reading"], p["birth"], "1" if p["sex"] == "2" else "2", full_address(p), "-")

here = __file__.rsplit("/", 1)[0]
with open(f"{here}/registered.tsv", "w", encoding="utf-8") as f:
    f.write("code\tname\treading\tformer_surname\tformer_reading\tbirth\tsex\tmunicipality\taddress\n")
    for p in people:
        fs, fr = (p["former"][0], p["former"][1]) if p["former"] else ("", "")
        f.write("\t".join([p["code"], p["name"], p["reading"], fs, fr, p["birth"], p["sex"], p["municipality"], p["address"]]) + "\n")
with open(f"{here}/queries.tsv", "w", encoding="utf-8") as f:
    f.write("kind\tname\treading\tbirth\tsex\taddress\texpected\n")
    for row in queries:
        f.write("\t".join(row) + "\n")
print(len(people), "registered;", len(queries), "queries;", sum(1 for r in queries if r[6] != "-"), "positive")
