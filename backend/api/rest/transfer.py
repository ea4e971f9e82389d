"""Label export (streamed download) and CSV import. Thin over ``backend.labels.transfer``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Literal

import msgspec
from litestar import Controller, Request, get, post
from litestar.datastructures import UploadFile
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import (
    OpenAPIFormat,
    OpenAPIMediaType,
    OpenAPIType,
    Operation,
    Reference,
    RequestBody,
    Schema,
)
from litestar.params import FromPath, QueryParameter
from litestar.response import Stream

from backend.api.access import shows_internals
from backend.api.identity import tagger_for
from backend.api.rest.common import (
    API_PREFIX,
    AppSettings,
    Session,
    error_responses,
    query_time,
    time_parameter,
)
from backend.datasets.service import get_dataset
from backend.errors import Invalid
from backend.labels import transfer
from backend.settings import Settings
from backend.storage.database import Database

ExportFormat = Literal["csv", "parquet", "json", "zip"]


class RefusedImportLine(msgspec.Struct, kw_only=True):
    line: int
    reason: str


class LabelImportReport(msgspec.Struct, kw_only=True):
    """What an import did: one event for the accepted rows; refused rows by line with the reason."""

    event_id: int | None
    rows: int
    accepted: int
    refused: list[RefusedImportLine]
    created_classes: list[str]
    unknown_classes: list[str]
    unknown_items: int
    unlabeled: int

    @classmethod
    def of(cls, report: transfer.ImportReport) -> LabelImportReport:
        return cls(
            event_id=report.event_id,
            rows=report.rows,
            accepted=report.accepted,
            refused=[RefusedImportLine(line=r.line, reason=r.reason) for r in report.refused],
            created_classes=report.created_classes,
            unknown_classes=report.unknown_classes,
            unknown_items=report.unknown_items,
            unlabeled=report.unlabeled,
        )


@dataclass
class _CsvUpload(Operation):
    """The import reads its raw body itself (Litestar would parse it as JSON): describe it here."""

    def __post_init__(self) -> None:
        binary = Schema(type=OpenAPIType.STRING, format=OpenAPIFormat.BINARY)
        form = Schema(
            type=OpenAPIType.OBJECT,
            properties={"file": binary},
            required=["file"],
            description="the CSV file in the part named 'file'",
        )
        self.request_body = RequestBody(
            content={  # the order is kept in openapi.json: generators take the first they support
                "multipart/form-data": OpenAPIMediaType(schema=form),
                "text/csv": OpenAPIMediaType(schema=binary),
            },
            description="the CSV file: the body itself (text/csv), or a form upload's 'file' part",
            required=True,
        )


@dataclass
class _ExportFile(Operation):
    """One media type per export format for the 200 answer (a ResponseSpec holds only one)."""

    def __post_init__(self) -> None:
        ok = (self.responses or {}).get("200")
        if ok is not None and not isinstance(ok, Reference):
            binary = Schema(type=OpenAPIType.STRING, format=OpenAPIFormat.BINARY)
            ok.content = {
                media: OpenAPIMediaType(
                    schema=Schema(type=OpenAPIType.OBJECT) if media == "application/json" else binary
                )
                for media in transfer.FORMATS.values()
            }


async def _export_chunks(
    database: Database,
    settings: Settings,
    dataset_id: int,
    fmt: str,
    as_of: datetime | None,
    tagger: str | None,
    unlabeled: bool,
    viewer: bool = False,
) -> AsyncIterator[bytes]:
    # The response is sent after the handler returns: the stream reads through a session of its own.
    async with database.session() as session:
        stream = await transfer.export_labels(
            session,
            settings,
            dataset_id,
            fmt,
            as_of=as_of,
            tagger=tagger,
            unlabeled=unlabeled,
            viewer_of=settings if viewer else None,
        )
        async for chunk in stream.chunks:
            yield chunk


async def _csv_of(request: Request, filename: str | None) -> tuple[bytes, str | None]:
    """The CSV's bytes (and a file name) from a text/csv body or a multipart upload's ``file`` part.
    The app's request size limit applies to both: over it is a 413."""
    if request.content_type[0] != "multipart/form-data":
        return await request.body(), filename
    upload = (await request.form()).get("file")
    if not isinstance(upload, UploadFile):
        raise Invalid("a multipart import carries the CSV file in a part named 'file'")
    return await upload.read(), filename or upload.filename or None


class TransferController(Controller):
    path = f"{API_PREFIX}/datasets"
    tags = ["transfer"]

    @get(
        "/{dataset_id:int}/export",
        summary="Download the labels as CSV, Parquet, JSON, or a ZIP with one folder of images per label",
        description=(
            "Streamed. CSV and Parquet hold one row per (item, label) with columns item_id, source, uri, "
            "frame, label, tagger, labeled_at (an unlabeled item: one row with an empty label). JSON "
            "holds one object per item with its list of labels. The ZIP holds labeled, readable items "
            "in `<label>/<item id>_<file name>` (ImageFolder layout) and `labels.csv` at its root; "
            "entry names hold no backslash, drive colon, `..` or Windows device name. In every CSV a "
            "text cell starting with = + - @ tab or CR gets a leading `'` so spreadsheets show it "
            "as text (OWASP CSV injection); the CSV import takes it off again."
        ),
        responses={
            200: ResponseSpec(
                data_container=bytes,
                media_type="application/octet-stream",
                description="The export file (text/csv, Parquet, JSON or ZIP by format)",
                generate_examples=False,
            ),
            **error_responses(400, 404),
        },
        operation_class=_ExportFile,
    )
    async def export(
        self,
        request: Request,
        session: Session,
        settings: AppSettings,
        dataset_id: FromPath[int],
        fmt: Annotated[ExportFormat, QueryParameter(name="format", description="file format")] = "csv",
        as_of: Annotated[str | None, time_parameter("labels as they stood then")] = None,
        tagger: Annotated[
            str | None, QueryParameter(description="labels one tagger's events alone add up to")
        ] = None,
        unlabeled: Annotated[
            bool, QueryParameter(description="keep unlabeled items as rows with an empty label")
        ] = True,
    ) -> Stream:
        when = query_time(as_of, "as_of")
        transfer.check_export_options(fmt, when, tagger)
        dataset = await get_dataset(session, dataset_id)  # a bad id is a 404 before any byte is sent
        name = transfer.export_filename(dataset.name, fmt, when, tagger)
        return Stream(
            _export_chunks(
                request.app.state.database,
                settings,
                dataset_id,
                fmt,
                when,
                tagger,
                unlabeled,
                viewer=not shows_internals(request),  # a viewer reads sources relative to their root
            ),
            media_type=transfer.FORMATS[fmt],
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )

    @post(
        "/{dataset_id:int}/import",
        summary="Import labels from a CSV as one 'import' event",
        description=(
            "The body is the CSV itself (Content-Type text/csv) or a multipart/form-data upload with "
            "the CSV in its `file` part, at most the server's request size limit. Columns: `item_id` "
            "or `uri` (with `frame` and `source` where needed) and `label`; "
            "an empty label unlabels the item. Rows naming unknown items or classes are refused and "
            "reported by line; a malformed file is refused whole and stores nothing."
        ),
        status_code=200,
        responses=error_responses(400, 404, 413),
        operation_class=_CsvUpload,
        opt={"upload_media_types": ("text/csv", "multipart/form-data")},  # not JSON: request_rules
    )
    async def import_csv(
        self,
        request: Request,
        session: Session,
        settings: AppSettings,
        dataset_id: FromPath[int],
        create_classes: Annotated[
            bool, QueryParameter(description="create the classes the file names but the dataset lacks")
        ] = False,
        filename: Annotated[str | None, QueryParameter(description="recorded with the event")] = None,
    ) -> LabelImportReport:
        data, filename = await _csv_of(request, filename)
        report = await transfer.import_labels_csv(
            session,
            dataset_id,
            data,
            tagger_for(request, settings),
            create_classes=create_classes,
            filename=filename,
            max_bytes=settings.max_request_bytes,
            max_classes=settings.max_classes_per_dataset,
        )
        return LabelImportReport.of(report)


route_handlers = [TransferController]
