"""What the label page shows: page, page size, filter, sort and display transform, kept in the URL.

Every link and form of the page carries this state, so paging, filtering and reloading never lose
the transform settings; the selection lives in the browser (sessionStorage) for the same reason.
What the URL does not say about the display comes from the dataset's preset
(``backend.datasets.display``); ``log=1`` is still understood as ``scale=log``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from typing import Any
from urllib.parse import urlencode

from backend.datasets.items import MetaFilter
from backend.errors import Invalid
from backend.images.transforms import DisplayTransform
from backend.pages.form_values import flag, number, whole_number

PAGE_SIZES = (24, 48, 96, 200)
THUMB_SIZES = (64, 96, 128, 192, 256)
FILTERS = ("all", "unlabeled", "labeled", "unreadable")
SORTS = ("position", "label", "run", "sample", "exposure", "time")


@dataclass(frozen=True)
class ViewState:
    page: int = 1
    per_page: int = 48
    filter: str = "all"  # one of FILTERS, or "class-<id>"
    sort: str = "position"
    hide_labeled: bool = False
    scale: str = "linear"
    p_low: float = 1.0
    p_high: float = 99.0
    size: int = 128
    run: str = ""  # header metadata: items of one run / scan id
    sample: str = ""  # of one sample name
    exposure: str = ""  # of one exposure time (s)
    time_from: str = ""  # acquired in [time_from, time_to] (ISO 8601 text)
    time_to: str = ""
    cmap: str = "gray"

    @classmethod
    def parse(cls, values: Mapping[str, Any], preset: DisplayTransform | None = None) -> ViewState:
        """From query or form values, the display defaulting to ``preset``; anything malformed is
        refused with a message naming it."""
        preset = preset or DisplayTransform()
        scale = str(values.get("scale") or "")
        if not scale and values.get("log") not in (None, ""):
            scale = "log" if flag(values.get("log")) else "linear"
        state = cls(
            page=max(1, whole_number(values.get("page"), "page", 1)),
            per_page=whole_number(values.get("per_page"), "per_page", 48),
            filter=str(values.get("filter") or "all"),
            sort=str(values.get("sort") or "position"),
            hide_labeled=flag(values.get("hide_labeled")),
            scale=scale or preset.scale,
            p_low=number(values.get("p_low"), "p_low", preset.p_low),
            p_high=number(values.get("p_high"), "p_high", preset.p_high),
            size=whole_number(values.get("size"), "size", 128),
            run=str(values.get("run") or "")[:200],
            sample=str(values.get("sample") or "")[:200],
            exposure=str(values.get("exposure") or "")[:40],
            time_from=str(values.get("time_from") or "")[:40],
            time_to=str(values.get("time_to") or "")[:40],
            cmap=str(values.get("cmap") or preset.colormap),
        )
        if state.exposure:
            number(state.exposure, "exposure", 0.0)
        if state.per_page not in PAGE_SIZES:
            raise Invalid(f"per_page must be one of {', '.join(map(str, PAGE_SIZES))}")
        if state.size not in THUMB_SIZES:
            raise Invalid(f"size must be one of {', '.join(map(str, THUMB_SIZES))}")
        if state.sort not in SORTS:
            raise Invalid(f"sort must be one of {', '.join(SORTS)}")
        if state.filter not in FILTERS and state.class_filter is None:
            raise Invalid(f"filter must be one of {', '.join(FILTERS)} or class-<id>")
        state.transform  # noqa: B018 - validates the scale, colour map and percentile bounds
        return state

    @property
    def log(self) -> bool:
        return self.scale == "log"

    @property
    def class_filter(self) -> int | None:
        if self.filter.startswith("class-") and self.filter[6:].isdigit():
            return int(self.filter[6:])
        return None

    @property
    def query_filter(self) -> str:
        """The label-state filter the item query gets (hiding labeled items means unlabeled ones)."""
        if self.hide_labeled:
            return "unlabeled"
        return "all" if self.class_filter is not None else self.filter

    @property
    def drops_on_label(self) -> bool:
        """Labeling may take items off this view: the gallery is reloaded instead of patched."""
        return self.query_filter != "all" or self.class_filter is not None

    @property
    def meta_filter(self) -> MetaFilter | None:
        """What the gallery is narrowed to by the files' headers (None: no such filter)."""
        meta = MetaFilter(
            run=self.run or None,
            sample=self.sample or None,
            exposure=float(self.exposure) if self.exposure else None,
            time_from=self.time_from or None,
            time_to=self.time_to or None,
        )
        return None if meta.is_empty() else meta

    @property
    def transform(self) -> DisplayTransform:
        return DisplayTransform(scale=self.scale, colormap=self.cmap, p_low=self.p_low, p_high=self.p_high)

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.per_page

    def display_params(self) -> dict[str, Any]:
        """The display part of the URL: all of it, so a thumbnail URL decides its pixels alone."""
        return {
            "log": int(self.log),
            "p_low": f"{self.p_low:g}",
            "p_high": f"{self.p_high:g}",
            "scale": self.scale,
            "cmap": self.cmap,
        }

    def params(self, **changes: Any) -> dict[str, Any]:
        state = replace(self, **changes)
        values = asdict(state)
        values["hide_labeled"] = int(values["hide_labeled"])
        values.update(state.display_params())
        return values

    def query(self, **changes: Any) -> str:
        return urlencode(self.params(**changes))

    def thumb_query(self) -> str:
        return urlencode({**self.display_params(), "size": self.size})

    def transform_query(self) -> str:
        return urlencode(self.display_params())


DISPLAY_KEYS = ("log", "scale", "cmap", "p_low", "p_high")
