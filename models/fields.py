"""Field types shared by every contract: money and identifiers.

Money is a ``Decimal`` with at most two places, given on the wire as a JSON
string or number.  NaN, infinities and negatives never get past the contract;
an upper bound that is still sane for any currency is enforced here, and each
tenant's rules can set a lower one (``limits.max_amount``).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from pydantic import Field

#: Hard ceiling of the contract; tenant rules usually set a much lower one.
CONTRACT_MAX_AMOUNT = Decimal("1000000000")

Money = Annotated[
    Decimal,
    Field(ge=0, le=CONTRACT_MAX_AMOUNT, decimal_places=2, allow_inf_nan=False),
]

#: Identifiers coming from upstream systems: non-empty, bounded.
Ident = Annotated[str, Field(min_length=1, max_length=128)]

ZERO = Decimal("0")
CENT = Decimal("0.01")

#: Business-line ids appear in URLs and output ids: a conservative alphabet.
LineId = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")]
