"""The app under benchmark, plus a bare endpoint: no login, one INSERT, commit.

Served by ``bench/intake.py`` in its own process (``uvicorn --app-dir bench _intake_app:app``).
The bench endpoints are matched before the app's own routes (``_common.bench_routes_first``).
"""

from _common import bench_routes_first, load_map_package
from fastapi import Request
from sqlalchemy import text

load_map_package()

from api.app import create_app  # noqa: E402 - after the maps package is loaded

app = create_app()


@app.post("/bench/bare-insert")
def bare_insert(request: Request) -> dict:
    with request.app.state.sessionmaker() as session:
        session.execute(text("INSERT INTO bench_insert DEFAULT VALUES"))
        session.commit()
    return {}


@app.get("/bench/empty")
def empty() -> dict:
    return {}


@app.get("/bench/empty-async")
async def empty_async() -> dict:
    return {}


bench_routes_first(app)
