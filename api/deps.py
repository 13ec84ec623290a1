"""Request dependencies: the database session, settings, the caller's language."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from gis.settings import Settings


def get_session(request: Request) -> Iterator[Session]:
    """A session per request.  Routes that write call ``session.commit()``; services only flush."""
    session = request.app.state.sessionmaker()
    try:
        yield session
    finally:
        session.close()


def get_app_settings(request: Request) -> Settings:
    return request.app.state.settings


def request_lang(request: Request) -> str:
    """``en`` when the caller prefers English (Accept-Language), else ``zh``."""
    header = request.headers.get("accept-language", "")
    first = header.split(",")[0].strip().lower()
    return "en" if first.startswith("en") else "zh"


SessionDep = Annotated[Session, Depends(get_session)]
SettingsDep = Annotated[Settings, Depends(get_app_settings)]
LangDep = Annotated[str, Depends(request_lang)]
