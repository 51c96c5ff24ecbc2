"""Column ids of EC-Lab's binary ``VMP data`` module: id -> (EC-Lab column name, dtype).

Each record of the data module is the packed concatenation of its columns, in the order of the
module's id list, little-endian, with no padding. The names are the ones EC-Lab writes in the
matching ``.mpt`` export, so both importers share one column vocabulary.

Provenance. Every id marked "verified" was decoded from the ``.mpr`` files in
``../shared/formats/`` and compared value by value with the ``.mpt`` EC-Lab exported from the
same run (tests/io/test_biologic_mpr.py repeats the comparison); a wrong width would also break
the record size, which the reader checks. The few ids marked "documented" come from public
descriptions of the format and are not covered by a shared file.
"""

from __future__ import annotations

from typing import Final

F4: Final = "<f4"
F8: Final = "<f8"
U2: Final = "<u2"

COLUMNS: Final[dict[int, tuple[str, str]]] = {
    # -- verified against the shared .mpt/.mpr pairs ------------------------------------------
    4: ("time/s", F8),
    13: ("(Q-Qo)/mA.h", F8),
    16: ("Analog IN 1/V", F4),
    17: ("Analog IN 2/V", F4),
    24: ("cycle number", F8),
    32: ("freq/Hz", F4),
    33: ("|Ewe|/V", F4),
    34: ("|I|/A", F4),
    35: ("Phase(Z)/deg", F4),
    36: ("|Z|/Ohm", F4),
    37: ("Re(Z)/Ohm", F4),
    38: ("-Im(Z)/Ohm", F4),
    39: ("I Range", U2),
    70: ("Pwe/W", F4),
    76: ("<I>/mA", F4),
    77: ("<Ewe>/V", F4),
    96: ("|Ece|/V", F4),
    98: ("Phase(Zce)/deg", F4),
    99: ("|Zce|/Ohm", F4),
    100: ("Re(Zce)/Ohm", F4),
    101: ("-Im(Zce)/Ohm", F4),
    131: ("Ns", U2),
    169: ("Cs/µF", F4),
    172: ("Cp/µF", F4),
    430: ("Phase(Zwe-ce)/deg", F4),
    431: ("|Zwe-ce|/Ohm", F4),
    432: ("Re(Zwe-ce)/Ohm", F4),
    433: ("-Im(Zwe-ce)/Ohm", F4),
    471: ("<Ece>/V", F4),
    473: ("THD Ewe/%", F4),
    474: ("THD I/%", F4),
    476: ("NSD Ewe/%", F4),
    477: ("NSD I/%", F4),
    479: ("NSR Ewe/%", F4),
    480: ("NSR I/%", F4),
    **{486 + k: (f"|Ewe h{k + 2}|/V", F4) for k in range(6)},
    **{492 + k: (f"|I h{k + 2}|/A", F4) for k in range(6)},
    # -- documented, no shared sample --------------------------------------------------------
    6: ("Ewe/V", F4),
    8: ("I/mA", F4),
    9: ("Ece/V", F4),
    29: ("T/°C", F4),
}

#: Ids whose presence alone says the run is (or is not) an impedance measurement.
FREQUENCY_ID: Final = 32
