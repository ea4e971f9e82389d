"""EDF and CBF detector frames through fabio, and the header metadata beamline files carry.

The reader classes are named, never guessed: ``fabio.open`` picks a reader from the file's
content, and a file named ``.edf`` holding HDF5 would then be opened by fabio's HDF5 readers,
around the link checks of ``hdf5.py``. An EDF header may name another file that holds a frame's
data (``EDF_BinaryFileName``); fabio would read it (by its base name beside the EDF file, through
any symlink there), so such a file is refused (``refuse_external_data``). A CBF's data is its own
binary section: fabio's CbfImage follows no reference to another file.

Beamlines often keep them gzip- or bzip2-compressed whole (``scan_0001.edf.gz``,
``frame.cbf.bz2``, ``FRAME.CBF.GZ``): the format is the suffix before the compression's. Suffixes
are compared in any case (``suffix_of``); fabio picks a decompression by the last suffix as written
(``.GZ`` is read as plain bytes), so a compressed file reaches its readers as a stream opened here.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from backend.errors import Unreadable

FABIO_SUFFIXES = {".edf", ".cbf"}
# Whole-file compressions fabio reads itself (by the file name's last suffix).
COMPRESSIONS = {".gz": "gzip", ".bz2": "bzip2"}
_CHUNK = 1 << 20
# Bytes a frame's data may take beyond its pixels (EDF padding; CBF header text and markers) and
# per pixel in a CBF's byte-offset stream (1, 2, 4 then 8 bytes for one value).
_SLACK = 1 << 20
_CBF_BYTES_PER_PIXEL = 15
# A CBF's binary section, and the bytes its data follows (fabio's CbfImage markers); read in pieces.
_CBF_SECTION = b"--CIF-BINARY-FORMAT-SECTION--"
_CBF_STARTER = b"\x0c\x1a\x04\xd5"
_CBF_READ = 8192
# The EDF header key (compared in any case) that makes fabio read a frame's data from another file,
# at EDF_BinaryFilePosition for EDF_BinaryFileSize bytes (both meaningless without it).
_EDF_EXTERNAL_KEY = "edf_binaryfilename"

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


def suffix_of(name: str) -> str:
    """A file name's last suffix in lower case: what decides how a file is read (``A.TIF``,
    ``scan.edf.GZ``), as beamline and Windows tools write names in either case."""
    return Path(name).suffix.lower()


def compression_of(name: str) -> str | None:
    """``gzip`` or ``bzip2`` for a name whose last suffix is ``.gz`` or ``.bz2`` (any case), else None."""
    return COMPRESSIONS.get(suffix_of(name))


def fabio_format(name: str) -> str | None:
    """``.edf`` or ``.cbf`` for a file name fabio reads, compressed or not (``a.EDF.GZ``), else None."""
    if compression_of(name):
        name = Path(name).stem
    suffix = suffix_of(name)
    return suffix if suffix in FABIO_SUFFIXES else None


def _compression(path: Path) -> str | None:
    return compression_of(path.name)


@contextmanager
def _fabio_input(path: Path) -> Iterator[Any]:
    """What a fabio reader is given: the file name, or for a compressed file the decompressing
    stream fabio itself would open for a lower-case ``.gz``/``.bz2`` (its own classes, which its
    EDF reader checks for a gzip file cut short), named by the path as fabio names it."""
    compression = _compression(path)
    if compression is None:
        yield str(path)
        return
    from fabio import fabioutils

    opener = fabioutils.GzipFile if compression == "gzip" else fabioutils.BZ2File
    with opener(str(path), "rb") as stream:
        if "name" not in dir(stream):
            stream.name = str(path)
        yield stream


def _reader(path: Path) -> Any:
    from fabio.cbfimage import CbfImage
    from fabio.edfimage import EdfImage

    return CbfImage() if fabio_format(path.name) == ".cbf" else EdfImage()


def _kind(path: Path) -> str:
    kind = (fabio_format(path.name) or suffix_of(path.name)).lstrip(".").upper()
    compression = _compression(path)
    return f"{compression}-compressed {kind}" if compression and fabio_format(path.name) else kind


def refuse_external_data(path: Path, reader: Any) -> None:
    """``Unreadable`` when any frame of a parsed EDF (or its general block, which every frame
    inherits) keeps its data in another file: fabio reads that file beside the EDF, following a
    symlink there out of the data roots (decision 0004). Refused, inside the roots too; the reason
    names the key, never the file. Called on the very reader whose frames are then read."""
    frames = list(getattr(reader, "_frames", None) or [])
    general = getattr(reader, "generalframe", None)
    for index, frame in enumerate([*frames, *([general] if general is not None else [])]):
        keys = {str(key).strip().lower() for key in (getattr(frame, "header", None) or {})}
        if getattr(frame, "bfname", None) is not None or _EDF_EXTERNAL_KEY in keys:
            where = f"frame {index}" if index < len(frames) else "its general block"
            raise Unreadable(
                f"{path.name}: the EDF header of {where} keeps the data in another file "
                "(EDF_BinaryFileName); data outside the file itself is not read"
            )


def _truncated(path: Path, frame: int) -> str:
    return f"{path.name} ends inside the data of frame {frame}: the file is truncated"


def _open_stream(path: Path) -> Any:
    """The file's bytes as fabio reads them: decompressed for ``.gz`` and ``.bz2``."""
    import bz2
    import gzip

    compression = _compression(path)
    if compression is None:
        return path.open("rb")
    return gzip.open(path, "rb") if compression == "gzip" else bz2.open(path, "rb")


def _cbf_data_start(path: Path) -> int:
    """Where a CBF's binary data begins (past the starter bytes after its binary section's MIME
    header), in its decompressed bytes; looked for in the first ``_SLACK`` bytes. fabio reads
    on for the starter until it finds one, forever at the end of a file cut before it (a scan
    that never ends): such a file is ``Unreadable`` first, as truncated, and one with no binary
    section as a corrupt header."""
    seen = b""
    with _open_stream(path) as stream:
        while len(seen) < _SLACK:
            chunk = stream.read(_CBF_READ)
            seen += chunk
            section = seen.find(_CBF_SECTION)
            if section >= 0:
                starter = seen.find(_CBF_STARTER, section)
                if starter >= 0:
                    return starter + len(_CBF_STARTER)
            if not chunk:
                break
    if seen.find(_CBF_SECTION) < 0:
        raise Unreadable(f"{path.name} has a corrupt {_kind(path)} header (no binary section)")
    if len(seen) < _SLACK:
        raise Unreadable(
            f"{path.name} ends inside the header of its binary section: the {_kind(path)} file is truncated"
        )
    raise Unreadable(f"{path.name} has a corrupt {_kind(path)} header (no data start in its binary section)")


def check_stream(path: Path, limit: int | None = None) -> int | None:
    """Decompress a compressed file to its end, in pieces, keeping nothing, and give its
    decompressed size (None for a file not compressed): a truncated or damaged file, or one
    that decompresses to more than ``limit`` bytes, is ``Unreadable`` with the reason. fabio
    stops reading a CBF at the end of its binary section, so a CBF cut short passes its header
    and would fail only when displayed."""
    import bz2
    import gzip
    import zlib

    compression = _compression(path)
    if compression is None:
        return None
    opener = gzip.open if compression == "gzip" else bz2.open
    total = 0
    try:
        with opener(path, "rb") as stream:
            while chunk := stream.read(_CHUNK):
                total += len(chunk)
                if limit is not None and total > limit:
                    raise Unreadable(
                        f"{path.name} decompresses to more than the {limit} bytes its header accounts for"
                    )
    except EOFError as exc:
        raise Unreadable(f"{path.name} is a truncated {compression} file ({exc})") from exc
    except (OSError, zlib.error, ValueError) as exc:
        raise Unreadable(f"{path.name} is not a readable {compression} file ({exc})") from exc
    return total


def _data_bytes(path: Path, reader: Any, index: int, shape: tuple[int, int], dtype: str) -> int:
    """The bytes of data the header declares for a frame, refused (``Unreadable``) above what its
    pixels can take: fabio reads that many at once, which a small compressed file can supply."""
    pixels = shape[0] * shape[1]
    if fabio_format(path.name) == ".cbf":
        declared = int(str(reader.header.get("X-Binary-Size", "0")).strip() or 0)
        most = pixels * _CBF_BYTES_PER_PIXEL + _SLACK
    else:
        frames = getattr(reader, "_frames", None) or []  # EdfFrame objects: their blobsize is read
        declared = int(getattr(frames[index], "blobsize", 0) or 0) if index < len(frames) else 0
        most = pixels * (np.dtype(dtype).itemsize if dtype else 8) + _SLACK
    if declared > most:
        raise Unreadable(
            f"{path.name}: the {_kind(path)} header declares {declared} bytes of data for a "
            f"{shape[1]}x{shape[0]} frame"
        )
    return declared


def probe(path: Path, *, whole: bool = True) -> list[tuple[tuple[int, int, str], dict[str, Any], str | None]]:
    """(height, width, dtype), metadata and error (None: readable) of each frame, from the header;
    a header that does not parse is ``Unreadable`` with the reason. An EDF file cut short in a
    frame's data has that frame (and only it) unreadable: fabio would fill it with zeros; so has
    a CBF file shorter than the data its header declares. With ``whole`` a compressed CBF file
    is decompressed to its end (``check_stream``) for that; a plain one's size is the measure."""
    reader = _reader(path)
    cbf = fabio_format(path.name) == ".cbf"
    try:
        start = _cbf_data_start(path) if cbf else 0
        with _fabio_input(path) as source:
            reader.readheader(source)
        if not cbf:
            refuse_external_data(path, reader)
        frames = list(reader.frames()) if reader.nframes > 1 else [reader]
        out = []
        declared = 0
        for index, frame in enumerate(frames):
            shape = frame.shape
            if shape is None or len(shape) != 2 or min(shape) < 1:
                raise Unreadable(f"{path.name}: the {_kind(path)} header gives no 2-D frame size")
            header = dict(frame.header)
            dtype = _dtype(frame, header)
            declared += _data_bytes(path, reader, index, (int(shape[0]), int(shape[1])), dtype)
            error = _truncated(path, index) if getattr(frame, "incomplete_data", False) else None
            out.append(((int(shape[0]), int(shape[1]), dtype), from_header(header), error))
        if cbf:  # one frame: the header walk stops before its data, which must all be there
            size = check_stream(path, start + declared + _SLACK) if whole else None
            if size is None and _compression(path) is None:
                size = path.stat().st_size
            if size is not None and size < start + declared:
                out[0] = (out[0][0], out[0][1], _truncated(path, 0))
        return out
    except (Unreadable, FileNotFoundError):
        raise
    except EOFError as exc:  # a compressed file cut short inside its header
        raise Unreadable(f"{path.name} is a truncated {_kind(path)} file ({exc})") from exc
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
    """The frame's pixels as fabio decodes them (the caller checked the header's size); a frame
    the file ends inside is ``Unreadable`` (fabio fills what is missing with zeros)."""
    reader = _reader(path)
    try:
        with _fabio_input(path) as source:  # the data is read from it before it closes
            image = reader.read(source, frame=frame if frame else None)  # a frame is a new object
            if fabio_format(path.name) == ".edf":  # the frames just parsed, before any data is read
                refuse_external_data(path, reader)
            if frame and getattr(image, "currentframe", frame) != frame:
                raise Unreadable(f"{path.name} has no frame {frame}")
            if getattr(image, "incomplete_data", False):
                raise Unreadable(_truncated(path, frame))
            data = image.data
    except (Unreadable, FileNotFoundError):
        raise
    except EOFError as exc:
        raise Unreadable(f"cannot decode {path.name}: the {_kind(path)} file is truncated ({exc})") from exc
    except AssertionError as exc:  # fabio's CBF byte-offset decoder: fewer values than the frame's pixels
        raise Unreadable(
            f"cannot decode {path.name}: its {_kind(path)} data does not fill the frame "
            "(the file is truncated or damaged)"
        ) from exc
    except Exception as exc:
        raise Unreadable(f"cannot decode {path.name} ({_kind(path)}): {type(exc).__name__}: {exc}") from exc
    if data is None or data.ndim != 2:
        raise Unreadable(f"cannot decode {path.name}: no 2-D frame {frame}")
    return data
