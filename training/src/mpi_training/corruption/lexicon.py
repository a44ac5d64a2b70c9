"""Word lists the corruptions draw on: nicknames, street-type abbreviations, keyboard layout."""

from __future__ import annotations

# Formal given name -> nicknames clerks commonly record instead (ClinFuse had 48 entries).
NICKNAMES: dict[str, tuple[str, ...]] = {
    "Abigail": ("Abby", "Gail"),
    "Alexander": ("Alex", "Sandy"),
    "Alexandra": ("Alex", "Sandra", "Lexi"),
    "Alfred": ("Al", "Fred"),
    "Andrew": ("Andy", "Drew"),
    "Anthony": ("Tony",),
    "Barbara": ("Barb", "Babs"),
    "Benjamin": ("Ben", "Benny"),
    "Catherine": ("Cathy", "Kate"),
    "Charles": ("Charlie", "Chuck"),
    "Christina": ("Tina", "Chris"),
    "Christine": ("Chris", "Tina"),
    "Christopher": ("Chris", "Kit"),
    "Cynthia": ("Cindy",),
    "Daniel": ("Dan", "Danny"),
    "David": ("Dave", "Davey"),
    "Deborah": ("Deb", "Debbie"),
    "Donald": ("Don", "Donnie"),
    "Dorothy": ("Dot", "Dottie"),
    "Douglas": ("Doug",),
    "Edward": ("Ed", "Eddie", "Ted"),
    "Elizabeth": ("Liz", "Beth", "Betty"),
    "Eugene": ("Gene",),
    "Frances": ("Fran", "Frannie"),
    "Francis": ("Frank",),
    "Frederick": ("Fred", "Freddie"),
    "Gerald": ("Jerry",),
    "Gregory": ("Greg",),
    "Harold": ("Hal", "Harry"),
    "Henry": ("Hank", "Harry"),
    "Jacob": ("Jake",),
    "James": ("Jim", "Jimmy"),
    "Jennifer": ("Jen", "Jenny"),
    "Jessica": ("Jess", "Jessie"),
    "John": ("Jack", "Johnny"),
    "Jonathan": ("Jon",),
    "Joseph": ("Joe", "Joey"),
    "Joshua": ("Josh",),
    "Judith": ("Judy",),
    "Katherine": ("Kathy", "Kate", "Katie"),
    "Kathleen": ("Kathy", "Kate"),
    "Kenneth": ("Ken", "Kenny"),
    "Lawrence": ("Larry",),
    "Leonard": ("Len", "Leo"),
    "Margaret": ("Peggy", "Maggie", "Meg"),
    "Matthew": ("Matt",),
    "Michael": ("Mike", "Mikey"),
    "Nancy": ("Nan",),
    "Nicholas": ("Nick",),
    "Pamela": ("Pam",),
    "Patricia": ("Pat", "Patty", "Trish"),
    "Patrick": ("Pat",),
    "Peter": ("Pete",),
    "Philip": ("Phil",),
    "Phillip": ("Phil",),
    "Raymond": ("Ray",),
    "Rebecca": ("Becky", "Becca"),
    "Richard": ("Rick", "Dick", "Rich"),
    "Robert": ("Bob", "Rob", "Bobby"),
    "Ronald": ("Ron", "Ronnie"),
    "Samantha": ("Sam",),
    "Samuel": ("Sam", "Sammy"),
    "Stephen": ("Steve",),
    "Steven": ("Steve",),
    "Susan": ("Sue", "Susie"),
    "Theodore": ("Ted", "Teddy"),
    "Thomas": ("Tom", "Tommy"),
    "Timothy": ("Tim",),
    "Victoria": ("Vicky", "Tori"),
    "Walter": ("Walt",),
    "William": ("Bill", "Will", "Billy"),
    "Zachary": ("Zach",),
}

# USPS street suffix abbreviations (Publication 28, appendix C1) for the street types Synthea
# writes in full; types with no standard abbreviation (Bay, Gate, Mews, Row, ...) are absent.
STREET_ABBREVIATIONS: dict[str, tuple[str, ...]] = {
    "Alley": ("Aly",),
    "Annex": ("Anx",),
    "Arcade": ("Arc",),
    "Avenue": ("Ave", "Av"),
    "Boulevard": ("Blvd",),
    "Branch": ("Br",),
    "Bridge": ("Brg",),
    "Brook": ("Brk",),
    "Burg": ("Bg",),
    "Bypass": ("Byp",),
    "Camp": ("Cp",),
    "Center": ("Ctr",),
    "Circle": ("Cir",),
    "Club": ("Clb",),
    "Common": ("Cmn",),
    "Corner": ("Cor",),
    "Course": ("Crse",),
    "Court": ("Ct",),
    "Crossing": ("Xing",),
    "Crossroad": ("Xrd",),
    "Dale": ("Dl",),
    "Divide": ("Dv",),
    "Drive": ("Dr",),
    "Esplanade": ("Esp",),
    "Estate": ("Est",),
    "Extension": ("Ext",),
    "Ferry": ("Fry",),
    "Flat": ("Flt",),
    "Forge": ("Frg",),
    "Fork": ("Frk",),
    "Fort": ("Ft",),
    "Gardens": ("Gdns",),
    "Gateway": ("Gtwy",),
    "Glen": ("Gln",),
    "Green": ("Grn",),
    "Grove": ("Grv",),
    "Harbor": ("Hbr",),
    "Haven": ("Hvn",),
    "Heights": ("Hts",),
    "Highway": ("Hwy",),
    "Hollow": ("Holw",),
    "Junction": ("Jct",),
    "Key": ("Ky",),
    "Knoll": ("Knl",),
    "Landing": ("Lndg",),
    "Lane": ("Ln",),
    "Light": ("Lgt",),
    "Loaf": ("Lf",),
    "Lock": ("Lck",),
    "Lodge": ("Ldg",),
    "Manor": ("Mnr",),
    "Meadow": ("Mdw",),
    "Mill": ("Ml",),
    "Mission": ("Msn",),
    "Neck": ("Nck",),
    "Orchard": ("Orch",),
    "Parade": ("Pde",),
    "Parkway": ("Pkwy",),
    "Passage": ("Psge",),
    "Place": ("Pl",),
    "Plaza": ("Plz",),
    "Port": ("Prt",),
    "Promenade": ("Prom",),
    "Ranch": ("Rnch",),
    "Rapid": ("Rpd",),
    "Rest": ("Rst",),
    "Road": ("Rd",),
    "Route": ("Rte",),
    "Skyway": ("Skwy",),
    "Square": ("Sq",),
    "Station": ("Sta",),
    "Stravenue": ("Stra",),
    "Street": ("St", "Str"),
    "Terrace": ("Ter",),
    "Throughway": ("Trwy",),
    "Trace": ("Trce",),
    "Track": ("Trak",),
    "Trafficway": ("Trfy",),
    "Trail": ("Trl",),
    "Trailer": ("Trlr",),
    "Tunnel": ("Tunl",),
    "Underpass": ("Upas",),
    "Union": ("Un",),
    "Viaduct": ("Via",),
    "View": ("Vw",),
    "Village": ("Vlg",),
    "Ville": ("Vl",),
    "Vista": ("Vis",),
    "Way": ("Wy",),
    "Well": ("Wl",),
}

STREET_NAMES: tuple[str, ...] = (
    "Main", "Oak", "Maple", "Cedar", "Pine", "Elm", "Washington", "Lake", "Hill", "Park",
    "Walnut", "Chestnut", "Spruce", "Highland", "Union", "Church", "Pleasant", "Center",
    "School", "Water",
)  # fmt: skip

STREET_TYPES: tuple[str, ...] = (
    "Street", "Avenue", "Road", "Drive", "Lane", "Court", "Place", "Way", "Circle", "Terrace",
)  # fmt: skip

# Surnames for hyphenated and compound family names when no maiden name is on file.
SURNAMES: tuple[str, ...] = (
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez",
    "Martinez", "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor",
    "Moore", "Jackson", "Martin", "Lee", "Perez", "Thompson", "White", "Harris", "Sanchez",
    "Clark", "Ramirez", "Lewis", "Robinson", "Walker", "Young", "Allen", "King", "Wright",
)  # fmt: skip


def _formal_names() -> dict[str, tuple[str, ...]]:
    formal: dict[str, tuple[str, ...]] = {}
    for name, nicknames in NICKNAMES.items():
        for nickname in nicknames:
            formal[nickname] = (*formal.get(nickname, ()), name)
    return formal


# Nickname -> formal names, for records whose clerk wrote out the name Synthea shortened.
FORMAL_NAMES: dict[str, tuple[str, ...]] = _formal_names()

_ROWS = ("qwertyuiop", "asdfghjkl", "zxcvbnm")


def _adjacent_keys() -> dict[str, str]:
    where = {ch: (r, c) for r, row in enumerate(_ROWS) for c, ch in enumerate(row)}
    adjacent: dict[str, str] = {}
    for ch, (r, c) in where.items():
        near = [
            other
            for other, (r2, c2) in where.items()
            if other != ch and abs(r - r2) <= 1 and abs(c - c2) <= 1
        ]
        adjacent[ch] = "".join(sorted(near))
    return adjacent


ADJACENT_KEYS: dict[str, str] = _adjacent_keys()
