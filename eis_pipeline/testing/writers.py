"""Writers for two real vendor formats, used to build synthetic campaigns.

The layouts follow what the vendors' own software writes (studied from real exports in
``../shared/formats/``; no code or header text copied):

- BioLogic EC-Lab ASCII export (``.mpt``): ``EC-Lab ASCII FILE``, ``Nb header lines : N``
  where N is the 1-based line of the tab-separated column names (which end with a tab),
  ``Key : value`` settings, a fixed-width PEIS parameter block, then one row per frequency
  with ``-Im(Z)`` (positive for capacitive data), in latin-1 (``µ``, ``²`` in units).
- Gamry Framework ``.DTA``: ``EXPLAIN``/``TAG EISPOT``, ``KEY<TAB>TYPE<TAB>value<TAB>label``
  header lines, an ``OCVCURVE`` table, then ``ZCURVE<TAB>TABLE`` followed by a column-name
  line, a units line and tab-indented rows with the physical-sign ``Zimag``; a ``Temp``
  column in °C carries the sample temperature.

Both writers are deterministic: the same arrays and arguments give byte-identical files.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike, NDArray

from eis_pipeline.io.atomic import replacing

__all__ = ["write_gamry_dta", "write_mpt"]

_ECLAB_COLUMNS = (
    "freq/Hz", "Re(Z)/Ohm", "-Im(Z)/Ohm", "|Z|/Ohm", "Phase(Z)/deg", "time/s", "<Ewe>/V",
    "<I>/mA", "Cs/µF", "Cp/µF", "cycle number", "I Range", "|Ewe|/V", "|I|/A",
    "Re(Y)/Ohm-1", "Im(Y)/Ohm-1", "|Y|/Ohm-1", "Phase(Y)/deg",
)


def _atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (:func:`eis_pipeline.io.atomic.replacing`)."""
    with replacing(path) as tmp:
        tmp.write_bytes(data)


def _eclab_setting(key: str, value: str) -> str:
    """EC-Lab's fixed-width technique parameter line (two 20-character columns)."""
    return f"{key:<20}{value:<20}"


def _eclab_frequency(value_hz: float) -> tuple[str, str]:
    """Frequency as EC-Lab writes it in the settings block: value and unit."""
    for unit, scale in (("MHz", 1e6), ("kHz", 1e3), ("Hz", 1.0), ("mHz", 1e-3)):
        if value_hz >= scale:
            return f"{value_hz / scale:.3f}", unit
    return f"{value_hz / 1e-6:.3f}", "µHz"


def _sci(values: NDArray[np.float64], digits: int = 7) -> NDArray[np.str_]:
    """EC-Lab's scientific notation, e.g. ``1.0000000E+04``."""
    return np.char.mod(f"%.{digits}E", values)


def write_mpt(
    path: str | Path,
    frequency: ArrayLike,
    impedance: ArrayLike,
    *,
    time_s: ArrayLike | None = None,
    dc_potential_V: float = 0.0,
    ac_amplitude_mV: float = 10.0,
    points_per_decade: int = 10,
    area_cm2: float = 0.0,
    acquisition_start: str = "21/11/2026 09:00:00",
    device: str = "MTZ-35 (SN 0421)",
    comments: str = "",
) -> None:
    """Write one PEIS sweep as an EC-Lab ASCII export (``.mpt``, latin-1).

    Parameters
    ----------
    path : path
        Output file; written atomically.
    frequency : array_like
        Hz, in acquisition order (high to low, as EC-Lab sweeps).
    impedance : array_like of complex
        Ohm, physical sign; written as ``Re(Z)`` and ``-Im(Z)`` as EC-Lab does.
    time_s : array_like, optional
        Acquisition time of each point; default one second per point.
    dc_potential_V, ac_amplitude_mV : float
        DC bias and AC amplitude, for the header and the ``<Ewe>``/``|Ewe|`` columns.
    points_per_decade : int
        Written in the settings block.
    area_cm2 : float
        "Electrode surface area" header value.
    acquisition_start : str
        ``DD/MM/YYYY HH:MM:SS``; fixed by default so output is reproducible.
    device, comments : str
        Header values.
    """
    path = Path(path)
    f = np.asarray(frequency, dtype=np.float64)
    z = np.asarray(impedance, dtype=np.complex128)
    t = np.arange(1, f.size + 1, dtype=np.float64) if time_s is None else np.asarray(
        time_s, dtype=np.float64)
    omega = 2.0 * np.pi * f
    y = 1.0 / z
    modulus = np.abs(z)
    ewe_amp = np.full(f.shape, ac_amplitude_mV * 1e-3)
    i_amp = ewe_amp / modulus                                      # A
    # EC-Lab's own derived columns: series and parallel capacitance in µF.
    cs = -1.0 / (omega * z.imag) * 1e6
    cp = y.imag / omega * 1e6
    # A current-range code that follows |I| like the instrument's auto-ranging (10 µA...1 A).
    i_range = np.clip(np.ceil(-np.log10(np.maximum(i_amp, 1e-12))), 0, 9).astype(int) + 30
    columns = [
        _sci(f), _sci(z.real), _sci(-z.imag), _sci(modulus), _sci(np.degrees(np.angle(z))),
        np.char.mod("%.15E", t), _sci(np.full(f.shape, dc_potential_V)),
        _sci(np.zeros(f.shape)), _sci(cs), _sci(cp), np.char.mod("%.15E", np.ones(f.shape)),
        np.char.mod("%d", i_range), _sci(ewe_amp), _sci(i_amp), _sci(y.real), _sci(y.imag),
        _sci(np.abs(y)), _sci(np.degrees(np.angle(y))),
    ]
    rows = ["\t".join(fields) for fields in zip(*columns, strict=True)]

    fi_value, fi_unit = _eclab_frequency(float(f.max()))
    ff_value, ff_unit = _eclab_frequency(float(f.min()))
    header = [
        "EC-Lab ASCII FILE",
        None,  # "Nb header lines", filled in once the header length is known
        "",
        "Potentio Electrochemical Impedance Spectroscopy",
        "",
        "Run on channel : 1 (SN 0421)",
        "User : ",
        "Electrode connection : standard",
        "Ewe ctrl range : min = -10.00 V, max = 10.00 V",
        "Safety Limits :",
        "\tDo not start on E overload",
        f"Acquisition started on : {acquisition_start}",
        f"Technique started on : {acquisition_start}",
        "Saved on :",
        f"\tFile : {path.with_suffix('.mpr').name}",
        "\tDirectory : D:\\EC-Lab\\Data\\",
        "\tHost : 192.168.0.10",
        f"Device : {device}",
        "Address : USB",
        "EC-Lab for windows v11.50 (software)",
        "Internet server v11.50 (firmware)",
        "Command interpretor v11.50 (firmware)",
        "Electrode material : Au (blocking)",
        "Initial state : ",
        "Electrolyte : ",
        f"Comments : {comments}",
        "Cable : standard",
        f"Electrode surface area : {area_cm2:.3f} cm²",
        "Characteristic mass : 0.001 g",
        "Equivalent Weight : 0.000 g/eq.",
        "Density : 0.000 g/cm3",
        "Cycle Definition : Charge/Discharge alternance",
        _eclab_setting("Mode", "Single sine"),
        _eclab_setting("E (V)", f"{dc_potential_V:.4f}"),
        _eclab_setting("vs.", "Eoc"),
        _eclab_setting("tE (h:m:s)", "0:00:0.0000"),
        _eclab_setting("record", "0"),
        _eclab_setting("dI", "0.000"),
        _eclab_setting("unit dI", "mA"),
        _eclab_setting("dt (s)", "0.000"),
        _eclab_setting("fi", fi_value),
        _eclab_setting("unit fi", fi_unit),
        _eclab_setting("ff", ff_value),
        _eclab_setting("unit ff", ff_unit),
        _eclab_setting("Nd", str(points_per_decade)),
        _eclab_setting("Points", "per decade"),
        _eclab_setting("spacing", "Logarithmic"),
        _eclab_setting("Va (mV)", f"{ac_amplitude_mV:.1f}"),
        _eclab_setting("pw", "0.10"),
        _eclab_setting("Na", "3"),
        _eclab_setting("corr", "0"),
        _eclab_setting("E range min (V)", "-10.000"),
        _eclab_setting("E range max (V)", "10.000"),
        _eclab_setting("I Range", "Auto"),
        _eclab_setting("Bandwidth", "8"),
        _eclab_setting("nc cycles", "0"),
        _eclab_setting("goto Ns'", "0"),
        _eclab_setting("nr cycles", "0"),
        _eclab_setting("inc. cycle", "0"),
        "",
        "\t".join(_ECLAB_COLUMNS) + "\t",   # EC-Lab ends the column line with a tab
    ]
    # "Nb header lines" counts every line up to and including the column names.
    header[1] = f"Nb header lines : {len(header)}".ljust(46)
    text = "\n".join([*(h for h in header if h is not None), *rows]) + "\n"
    _atomic_write_bytes(path, text.encode("latin-1"))


def _gamry_number(values: NDArray[np.float64]) -> list[str]:
    """Numbers as Gamry's framework prints them: up to 7 significant digits, plain notation
    for moderate magnitudes, ``1.23456E-006`` (three-digit exponent) otherwise."""
    out = []
    for v in values.tolist():
        a = abs(v)
        if v == 0 or 1e-3 <= a < 1e7:
            out.append(f"{v:.7g}")
        else:
            out.append(_gamry_sci(v))
    return out


def _gamry_sci(value: float) -> str:
    """Header quantities as Gamry writes them: ``2.00000E+005`` (three-digit exponent)."""
    mantissa, exponent = f"{value:.5E}".split("E")
    return f"{mantissa}E{int(exponent):+04d}"


def _gamry_header_line(*fields: str) -> str:
    return "\t".join(fields)


def write_gamry_dta(
    path: str | Path,
    frequency: ArrayLike,
    impedance: ArrayLike,
    temperature_celsius: ArrayLike,
    *,
    time_s: ArrayLike | None = None,
    ac_amplitude_mV: float = 10.0,
    points_per_decade: int = 10,
    area_cm2: float = 1.0,
    date: str = "11/21/2026",
    time_of_day: str = "09:00:00",
    notes: Sequence[str] = (),
    potentiostat: str = "REF3000-21121",
) -> None:
    """Write one potentiostatic EIS sweep as a Gamry Framework ``.DTA`` file (latin-1).

    Parameters
    ----------
    path : path
        Output file; written atomically.
    frequency : array_like
        Hz, in acquisition order.
    impedance : array_like of complex
        Ohm, physical sign (Gamry's ``Zimag`` is the signed imaginary part).
    temperature_celsius : array_like or float
        Sample temperature per point, written to the ``Temp`` column (°C).
    time_s : array_like, optional
        Acquisition time of each point (default one second per point).
    ac_amplitude_mV, points_per_decade, area_cm2 : float
        Header values.
    date, time_of_day : str
        Header date (M/D/YYYY) and time; fixed by default so output is reproducible.
    notes : sequence of str
        Lines of the NOTES field.
    potentiostat : str
        PSTAT label.
    """
    f = np.asarray(frequency, dtype=np.float64)
    z = np.asarray(impedance, dtype=np.complex128)
    temp = np.broadcast_to(np.asarray(temperature_celsius, dtype=np.float64), f.shape)
    t = np.arange(1, f.size + 1, dtype=np.float64) if time_s is None else np.asarray(
        time_s, dtype=np.float64)
    note_lines = [f"\t{n}" for n in notes] or ["\t"]
    # A short open-circuit check before the sweep, as the EISPOT script records it.
    n_ocv = 5
    ocv_t = 0.25 * np.arange(1, n_ocv + 1)
    ocv_rows = [
        _gamry_header_line("", str(i), f"{ocv_t[i]:.6g}", "-1.00000E-004", "-1.00000E-004",
                           "0.00000E+000", "...........", f"{temp[0]:.2f}")
        for i in range(n_ocv)
    ]
    header = [
        "EXPLAIN",
        _gamry_header_line("TAG", "EISPOT"),
        _gamry_header_line("TITLE", "LABEL", "Potentiostatic EIS", "Test &Identifier"),
        _gamry_header_line("DATE", "LABEL", date, "Date"),
        _gamry_header_line("TIME", "LABEL", time_of_day, "Time"),
        _gamry_header_line("NOTES", "NOTES", str(len(note_lines)), "&Notes..."),
        *note_lines,
        _gamry_header_line("PSTAT", "PSTAT", potentiostat, "Potentiostat"),
        _gamry_header_line("VDC", "POTEN", "0.00000E+000", "T", "DC &Voltage (V)"),
        _gamry_header_line("FREQINIT", "QUANT", _gamry_sci(f.max()), "Initial Fre&q. (Hz)"),
        _gamry_header_line("FREQFINAL", "QUANT", _gamry_sci(f.min()), "Final Fre&q. (Hz)"),
        _gamry_header_line("PTSPERDEC", "QUANT", _gamry_sci(float(points_per_decade)),
                           "Points/&decade"),
        _gamry_header_line("VAC", "QUANT", _gamry_sci(ac_amplitude_mV), "AC &Voltage (mV rms)"),
        _gamry_header_line("AREA", "QUANT", _gamry_sci(area_cm2), "&Area (cm^2)"),
        _gamry_header_line("CONDIT", "TWOPARAM", "F", "1.50000E+001", "0.00000E+000",
                           "Conditionin&g", "Time(s)", "E(V)"),
        _gamry_header_line("DELAY", "TWOPARAM", "T", "6.00000E+002", "0.00000E+000",
                           "Init. De&lay", "Time(s)", "Stab.(mV/s)"),
        _gamry_header_line("SPEED", "SELECTOR", "1", "&Optimize for:"),
        _gamry_header_line("ZGUESS", "QUANT", "1.00000E+003", "E&stimated Z (ohms)"),
        _gamry_header_line("OCVCURVE", "TABLE", str(n_ocv)),
        _gamry_header_line("", "Pt", "T", "Vf", "Vm", "Ach", "Over", "Temp"),
        _gamry_header_line("", "#", "s", "V vs. Ref.", "V", "V", "bits", "deg C"),
        *ocv_rows,
        _gamry_header_line("EOC", "QUANT", "-0.0001", "Open Circuit (V)"),
        _gamry_header_line("PSTATMODEL", "IQUANT", "0", "Pstat Model"),
        _gamry_header_line("CTRLMODE", "IQUANT", "1", "Control Mode"),
        _gamry_header_line("THERMOSELECT", "IQUANT", "1", "Thermo Select"),
        _gamry_header_line("FRAMEWORKVERSION", "LABEL", "7.9.0", "Framework Version"),
        _gamry_header_line("INSTRUMENTVERSION", "LABEL", "4.60", "Instrument Version"),
        _gamry_header_line("ZCURVE", "TABLE"),
        _gamry_header_line("", "Pt", "Time", "Freq", "Zreal", "Zimag", "Zsig", "Zmod", "Zphz",
                           "Idc", "Vdc", "IERange", "Temp"),
        _gamry_header_line("", "#", "s", "Hz", "ohm", "ohm", "V", "ohm", "°", "A", "V", "#",
                           "°C"),
    ]
    modulus = np.abs(z)
    # I/E range code follows the AC current like the instrument's auto-ranging.
    ie_range = np.clip(np.ceil(np.log10(np.maximum(modulus, 1.0))), 1, 11).astype(int)
    columns = [
        [str(i) for i in range(f.size)],
        [f"{v:.6g}" for v in t.tolist()],
        _gamry_number(f), _gamry_number(z.real), _gamry_number(z.imag),
        ["1"] * f.size,
        _gamry_number(modulus), _gamry_number(np.degrees(np.angle(z))),
        _gamry_number(np.full(f.shape, 1e-9)), _gamry_number(np.full(f.shape, -1e-4)),
        [str(int(v)) for v in ie_range],
        [f"{v:.2f}" for v in temp.tolist()],
    ]
    rows = ["\t" + "\t".join(fields) for fields in zip(*columns, strict=True)]
    text = "\n".join([*header, *rows]) + "\n"
    _atomic_write_bytes(path, text.encode("latin-1"))
