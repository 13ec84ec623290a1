"""Planner edits (网格调整) over HTTP: edit sets, operations, validation, preview, commit."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Request, Response
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from api.deps import Planner, SessionDep, audit_caller
from api.routers.geojson import GEOJSON, GEOJSON_RESPONSES
from api.schemas import NoControl
from gis import edits
from gis.auth import Principal
from gis.permissions import Role

router = APIRouter(prefix="/api", tags=["edits 网格调整"])

GridCode = Annotated[str, Field(pattern=r"^[0-9]{15}$", description="grid code 网格编码")]
EditId = Annotated[int, Path(ge=1, le=2**31 - 1, description="edit set id 调整方案编号")]
Count = Annotated[int, Field(ge=0, le=10_000_000)]


class EditIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: Annotated[str, StringConstraints(max_length=200), NoControl] = Field(
        "", description="what the edit is for 调整说明"
    )


class OperationIn(BaseModel):
    """One operation.  Which fields apply depends on ``op``:

    * ``split``: ``grid`` and a ``line`` (GeoJSON LineString drawn across it) or the new
      ``parts`` (Polygons carved out of it); optional ``codes``/``names`` for the new parts,
      ``households`` per part (the grid's own first);
    * ``merge``: ``grids`` (two or more adjacent grids of one village), optional ``code`` (the one
      kept; default the first) and ``name``;
    * ``redraw``: ``grid`` and its new ``geometry`` (clipped to the village unless ``clip`` is
      false); land taken from neighbours leaves them, land given up goes to the neighbour
      sharing the longest edge (or ``release_to: "uncovered"``);
    * ``create``: ``geometry`` (clipped to uncovered land of the village unless ``clip`` is
      false), optional ``code``, ``name``, ``households``, ``population``, ``workers``,
      ``village`` (and ``roles``, as for ``assign``);
    * ``retire``: ``grid`` and ``to``: ``"neighbours"`` (split among them, nearest edge wins),
      one neighbour's code, or ``"uncovered"``;
    * ``recode``: ``grid`` and a new ``code``, ``name``, ``households`` or ``population``;
    * ``assign``: ``grid`` and its ``workers`` (worker codes; replaces the list), optionally
      their ``roles`` (``{code: chief | manager | informant | supervisor}``, one chief: a
      worker not named keeps their part, as on the grid's record).
    """

    model_config = ConfigDict(extra="forbid")
    op: Literal["split", "merge", "redraw", "create", "retire", "recode", "assign"]
    grid: GridCode | None = None
    grids: list[GridCode] | None = Field(None, max_length=50)
    line: dict[str, Any] | None = None
    parts: list[dict[str, Any]] | None = Field(None, max_length=20)
    geometry: dict[str, Any] | None = None
    codes: list[GridCode] | None = Field(None, max_length=20)
    names: list[Annotated[str, Field(min_length=1, max_length=60), NoControl]] | None = Field(
        None, max_length=20
    )
    code: GridCode | None = None
    name: Annotated[str, Field(min_length=1, max_length=60), NoControl] | None = None
    households: Count | list[Count] | None = None
    population: Count | None = None
    release_to: Literal["neighbours", "uncovered"] | None = None
    to: Annotated[str, Field(pattern=r"^(neighbours|uncovered|[0-9]{15})$")] | None = None
    clip: bool = True
    village: Annotated[str, Field(pattern=r"^[0-9]{12}$")] | None = None
    workers: list[Annotated[str, Field(min_length=1, max_length=20)]] | None = Field(
        None, max_length=20
    )
    roles: (
        dict[Annotated[str, Field(min_length=1, max_length=20)],
             Annotated[str, Field(max_length=16)]] | None
    ) = Field(None, max_length=20)  # fmt: skip


class EditOut(BaseModel):
    id: int
    status: str
    title: str = ""


class OperationOut(BaseModel):
    seq: int
    op: str
    op_name: str
    op_name_en: str
    grids: list[str]
    message: str
    message_en: str


def actor_of(caller: Principal) -> edits.Actor:
    return edits.Actor(caller.username, caller.scope, caller.role is Role.admin)


@router.post("/edits", response_model=EditOut, status_code=201)
def open_edit(body: EditIn, session: SessionDep, caller: Planner, request: Request) -> Any:
    """Open an edit set (调整方案) in your jurisdiction; add operations, preview, then commit."""
    edit = edits.create_edit(session, actor_of(caller), body.title)
    audit_caller(session, request, caller, "grid.edit.open", f"edit:{edit['id']}")
    session.commit()
    return edit


@router.get("/edits")
def list_edits(
    session: SessionDep,
    caller: Planner,
    status: Literal["open", "committed", "discarded"] | None = "open",
) -> list[dict[str, Any]]:
    """Edit sets in your jurisdiction (default: the open ones), newest first."""
    return edits.list_edits(session, actor_of(caller), status)


@router.get("/edits/{edit_id}")
def get_edit(edit_id: EditId, session: SessionDep, caller: Planner) -> dict[str, Any]:
    """An edit set with its operations (and, once committed, what the commit did)."""
    return edits.get_edit(session, actor_of(caller), edit_id)


@router.post("/edits/{edit_id}/operations", response_model=OperationOut, status_code=201)
def add_operation(edit_id: EditId, body: OperationIn, session: SessionDep, caller: Planner) -> Any:
    """Add one operation to the draft (nothing changes for anyone else until the commit)."""
    payload = body.model_dump(exclude_none=True, exclude={"op"})
    result = edits.add_operation(session, actor_of(caller), edit_id, body.op, payload)
    session.commit()
    return result


@router.get("/edits/{edit_id}/validation")
def validation(edit_id: EditId, session: SessionDep, caller: Planner) -> dict[str, Any]:
    """The findings on every village the edit set touches: outside the village, overlaps, gaps,
    codes.  ``blocking`` ones stop the commit; each has its area, a point and its geometry."""
    return edits.validate(session, actor_of(caller), edit_id)


@router.get("/edits/{edit_id}/preview")
def preview(edit_id: EditId, session: SessionDep, caller: Planner) -> dict[str, Any]:
    """What committing now would do: the findings; grids added, retired and changed (areas,
    households); open cases whose grid or responsible center would change; workers whose grids
    change."""
    result = edits.preview(session, actor_of(caller), edit_id)
    session.rollback()
    return result


@router.get("/edits/{edit_id}/draft", response_class=Response, responses=GEOJSON_RESPONSES)
def draft(edit_id: EditId, session: SessionDep, caller: Planner) -> Response:
    """The working layout of the villages the edit set touches, as GeoJSON (``state`` of each
    grid: added, changed, retired, unchanged, untouched)."""
    return Response(
        edits.draft_geojson(session, actor_of(caller), edit_id),
        media_type=GEOJSON,
    )


@router.post("/edits/{edit_id}/commit")
def commit(
    edit_id: EditId, session: SessionDep, caller: Planner, request: Request
) -> dict[str, Any]:
    """Apply the edit set in one transaction: new grid versions from now on, open cases of the
    changed area re-assigned (each with a case event).  409 if a grid it was drawn on changed
    since (``conflicts`` names them); 422 with ``findings`` if validation blocks."""
    result = edits.commit(session, actor_of(caller), edit_id)
    audit_caller(
        session, request, caller, "grid.edit.commit", f"edit:{edit_id}",
        {"grids": result["grids"], "cases_reassigned": result["cases_reassigned"]},
    )  # fmt: skip
    session.commit()
    return result


@router.post("/edits/{edit_id}/discard", response_model=EditOut)
def discard(edit_id: EditId, session: SessionDep, caller: Planner, request: Request) -> Any:
    """Give the edit set up: nothing of it is applied."""
    result = edits.discard(session, actor_of(caller), edit_id)
    audit_caller(session, request, caller, "grid.edit.discard", f"edit:{edit_id}")
    session.commit()
    return result
