"""EDF and CBF detector frames through fabio, and the header metadata beamline files carry.

The reader classes are named, never guessed: ``fabio.open`` picks a reader from the file's
content, and a file named ``.edf`` holding HDF5 would then be opened by fabio's HDF5 readers,
around the link checks of ``hdf5.py``. EDF and CBF point at no other file.
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from backend.errors import Unreadable

FABIO_SUFFIXES = {".edf", ".cbf"}

# Normalised keys an item's metadata may hold; everything is optional.
METADATA_KEYS = ("run", "sample", "exposure", "time", "temperature")
NUMERIC_KEYS = {"exposure", "temperature"}

# Header keys beamlines use for each (compared case-insensitively): ESRF/BLISS and SPEC EDF
# headers, Pilatus and Dectris CBF headers.
_HEADER_KEYS: dict[str, tuple[str, ...]] = {
    "exposure": ("exposuretime", "exposure_time", "count_time", "acq_expo_time", "exposure", "exptime"),
    "sample": ("samplename", "sample_name", "sample"),
    "run": ("run", "run_number", "runnumber", "scan_no", "scannumber", "scan_number", "scan", "scanno"),
    "time": ("date", "timestamp", "time", "start_time", "acquisition_time"),
    "temperature": ("temperature", "sample_temperature", "temp"),
}
_CBF_DATE = re.compile(r"^\s*#?\s*(\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:\.\d+)?)\s*$")
_CBF_LINE = re.compile(r"^\s*#\s*([A-Za-z_][\w-]*)[\s:=]+(.*?)\s*$")
_CBF_TYPES = {
    "signed 32-bit integer": "int32",
    "unsigned 32-bit integer": "uint32",
    "signed 16-bit integer": "int16",
    "unsigned 16-bit integer": "uint16",
    "signed 8-bit integer": "int8",
    "unsigned 8-bit integer": "uint8",
    "signed 64-bit real ieee": "float64",
    "signed 32-bit real ieee": "float32",
}
_TIME_FORMATS = ("%a %b %d %H:%M:%S %Y", "%Y/%m/%d %H:%M:%S", "%Y:%m:%d %H:%M:%S", "%d/%m/%Y %H:%M:%S")


def iso_time(value: str) -> str:
    """An ISO 8601 timestamp where the text is one of the usual forms (sorting then follows
    time); else the text as it was written."""
    text = value.strip()
    try:
        return datetime.fromisoformat(text).isoformat()
    except ValueError:
        pass
    for form in _TIME_FORMATS:
        try:
            return datetime.strptime(text, form).isoformat()
        except ValueError:
            continue
    return text


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value) if np.isfinite(value) else None
    match = re.match(r"^\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)", str(value))
    return float(match.group(1)) if match else None


def normalise(raw: dict[str, Any]) -> dict[str, Any]:
    """Keep the known keys with usable values: numbers for exposure (s) and temperature, ISO
    text for time, short text for run and sample."""
    out: dict[str, Any] = {}
    for key, value in raw.items():
        if key not in METADATA_KEYS or value is None:
            continue
        if key in NUMERIC_KEYS:
            number = _number(value)
            if number is not None:
                out[key] = number
        elif key == "time":
            out[key] = iso_time(str(value))[:64]
        else:
            text = str(value).strip()
            if isinstance(value, float) and value.is_integer():
                text = str(int(value))
            if text:
                out[key] = text[:200]
    return out


def from_header(header: dict[str, Any]) -> dict[str, Any]:
    """Metadata from an EDF or CBF header (a Pilatus CBF keeps its own in ``# Key value`` lines)."""
    lowered: dict[str, Any] = {str(k).lower(): v for k, v in header.items()}
    contents = header.get("_array_data.header_contents")
    if isinstance(contents, str):
        for line in contents.splitlines():
            date = _CBF_DATE.match(line)
            if date:
                lowered.setdefault("date", date.group(1))
                continue
            pair = _CBF_LINE.match(line)
            if pair:
                lowered.setdefault(pair.group(1).lower(), pair.group(2))
    raw: dict[str, Any] = {}
    for key, names in _HEADER_KEYS.items():
        for name in names:
            if name in lowered and str(lowered[name]).strip():
                raw[key] = lowered[name]
                break
    return normalise(raw)


def _reader(path: Path) -> Any:
    from fabio.cbfimage import CbfImage
    from fabio.edfimage import EdfImage

    return CbfImage() if path.suffix.lower() == ".cbf" else EdfImage()


def _kind(path: Path) -> str:
    return path.suffix.lower().lstrip(".").upper()


def probe(path: Path) -> list[tuple[tuple[int, int, str], dict[str, Any]]]:
    """(height, width, dtype) and metadata of each frame, from the header alone; a header that
    does not parse is ``Unreadable`` with the reason."""
    reader = _reader(path)
    try:
        reader.readheader(str(path))
        frames = list(reader.frames()) if reader.nframes > 1 else [reader]
        out = []
        for frame in frames:
            shape = frame.shape
            if shape is None or len(shape) != 2 or min(shape) < 1:
                raise Unreadable(f"{path.name}: the {_kind(path)} header gives no 2-D frame size")
            header = dict(frame.header)
            out.append(((int(shape[0]), int(shape[1]), _dtype(frame, header)), from_header(header)))
        return out
    except (Unreadable, FileNotFoundError):
        raise
    except Exception as exc:  # fabio raises what its parsers meet: NameError, AttributeError, ...
        why = f"{type(exc).__name__}: {exc}"
        raise Unreadable(f"{path.name} has a corrupt {_kind(path)} header ({why})") from exc


def _dtype(frame: Any, header: dict[str, Any]) -> str:
    kind = str(header.get("X-Binary-Element-Type", "")).strip().strip('"').lower()
    if kind in _CBF_TYPES:
        return _CBF_TYPES[kind]
    try:
        return str(frame.dtype)
    except Exception:  # a header-only CBF has no data to take the type from
        return ""


def read(path: Path, frame: int) -> np.ndarray:
    """The frame's pixels as fabio decodes them (the caller checked the header's size)."""
    reader = _reader(path)
    try:
        image = reader.read(str(path), frame=frame if frame else None)  # a frame is a new object
        if frame and getattr(image, "currentframe", frame) != frame:
            raise Unreadable(f"{path.name} has no frame {frame}")
        data = image.data
    except FileNotFoundError:
        raise
    except Exception as exc:
        raise Unreadable(f"cannot decode {path.name} ({_kind(path)}): {type(exc).__name__}: {exc}") from exc
    if data is None or data.ndim != 2:
        raise Unreadable(f"cannot decode {path.name}: no 2-D frame {frame}")
    return data
