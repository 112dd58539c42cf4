"""Common English given-name nicknames, mapped to one canonical given name.

``canonical_given_name("bill") == "william"``. The table is data: hosts that
need more pass their own mapping to :class:`~crmcore.matching.key.KeyOptions`.

May import: nothing from crmcore; the standard library only.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

__all__ = ["AMBIGUOUS", "NICKNAMES", "canonical_given_name"]

# canonical name: the nicknames and short forms people use for it.
_GROUPS: Final = {
    "abigail": "abby abbie gail",
    "albert": "al bert bertie",
    "alexander": "alex alec sandy xander alexandr",
    "alexandra": "alexa sandra lexi",
    "alfred": "alfie fred freddie",
    "andrew": "andy drew",
    "anthony": "tony ant",
    "arthur": "art artie",
    "barbara": "barb babs barbie",
    "benjamin": "ben benny benji",
    "bernard": "bernie",
    "beverly": "bev",
    "bradley": "brad",
    "catherine": "cathy cate kate katie kathy kathryn katherine kat kitty",
    "charles": "charlie chuck chas chaz",
    "charlotte": "lottie charlie",
    "christina": "chris chrissy tina christine kristina kristine",
    "christopher": "chris kit topher",
    "clifford": "cliff",
    "cynthia": "cindy",
    "daniel": "dan danny",
    "david": "dave davy davie",
    "deborah": "debbie deb debra",
    "donald": "don donnie",
    "dorothy": "dot dotty dottie",
    "douglas": "doug",
    "edward": "ed eddie ted teddy ned",
    "elizabeth": "liz lizzie beth betty betsy eliza liza libby lisa bess",
    "eleanor": "ellie nora elle",
    "emily": "em emmy millie",
    "eugene": "gene",
    "frances": "fran frankie",
    "francis": "frank",
    "frederick": "fred freddy",
    "gabriel": "gabe",
    "gerald": "gerry jerry",
    "gregory": "greg",
    "harold": "hal harry",
    "henry": "hank harry hal",
    "isabella": "bella izzy isabel",
    "jacob": "jake",
    "james": "jim jimmy jamie",
    "jennifer": "jen jenny jenn",
    "jessica": "jess jessie",
    "john": "johnny jack jon",
    "jonathan": "jon jonny",
    "joseph": "joe joey",
    "joshua": "josh",
    "judith": "judy",
    "kenneth": "ken kenny",
    "kimberly": "kim",
    "lawrence": "larry laurie",
    "leonard": "len lenny leo",
    "margaret": "maggie meg peggy marge margie greta",
    "matthew": "matt matty",
    "michael": "mike mick mickey mikey",
    "nicholas": "nick nicky",
    "nathaniel": "nate nat",
    "nathan": "nate",
    "oliver": "ollie",
    "patricia": "pat patty trish tricia",
    "patrick": "pat paddy",
    "pamela": "pam",
    "peter": "pete",
    "philip": "phil",
    "rebecca": "becky becca",
    "richard": "rick ricky dick rich richie",
    "robert": "bob bobby rob robbie bert",
    "ronald": "ron ronnie",
    "samantha": "sam sammy",
    "samuel": "sam sammy",
    "stephen": "steve stevie steven",
    "susan": "sue susie suzy",
    "theodore": "theo ted teddy",
    "thomas": "tom tommy",
    "timothy": "tim timmy",
    "victoria": "vicky vicki tori",
    "vincent": "vince vinny",
    "walter": "walt wally",
    "william": "bill billy will willy liam",
    "zachary": "zach zack",
}


def _claims() -> dict[str, set[str]]:
    claims: dict[str, set[str]] = {}
    for canonical, nicknames in _GROUPS.items():
        for nickname in nicknames.split():
            claims.setdefault(nickname, set()).add(canonical)
    return claims


AMBIGUOUS: Final[Mapping[str, tuple[str, ...]]] = MappingProxyType(
    {
        nickname: tuple(sorted(names))
        for nickname, names in sorted(_claims().items())
        if len(names) > 1
    }
)
"""Nicknames of several names → those names (``chris``: Christina, Christopher): not folded.

Folding ``chris`` to either name would make it another name than the other:
Chris Young would be as far from Christopher Young as Christina is. Kept as
written in the keys, the name comparison reads it as each of its names in turn
(Chris Young is the same name as Christina Young and as Christopher Young,
which stay two names).
"""


def _table() -> Mapping[str, str]:
    table = {
        nickname: next(iter(names))
        for nickname, names in _claims().items()
        if nickname not in AMBIGUOUS and nickname not in _GROUPS
    }
    return MappingProxyType(table)


NICKNAMES: Final[Mapping[str, str]] = _table()
"""Nickname (lower case, ASCII) → canonical given name."""


def canonical_given_name(token: str, table: Mapping[str, str] = NICKNAMES) -> str:
    """Return the canonical given name for a lower-case ``token``.

    Args:
        token: One lower-case name token.
        table: The nickname table to use.

    Returns:
        The canonical name, or ``token`` itself when it is no known nickname.

    >>> canonical_given_name("bill"), canonical_given_name("liz"), canonical_given_name("wei")
    ('william', 'elizabeth', 'wei')
    >>> canonical_given_name("chris")  # Christina or Christopher: neither is chosen
    'chris'
    >>> canonical_given_name("chris")  # Christina or Christopher: neither is chosen
    'chris'
    """
    return table.get(token, token)
