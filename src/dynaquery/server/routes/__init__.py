"""The API's routes, one module per resource, each an APIRouter; create_app includes them all
behind the sign-in (ROUTERS; what each role may do is said on each route, deps.py), and the
download links without it (PUBLIC_ROUTERS)."""

from __future__ import annotations

from ..models import ErrorOut
from . import (
    catalog,
    code,
    datasources,
    history,
    items,
    page,
    queries,
    runs,
    session,
    settings,
    tables,
    users,
)

ERRORS = {status: {"model": ErrorOut} for status in (400, 401, 403, 404, 409, 428, 429, 502)}
ROUTERS = (
    session.router,
    catalog.router,
    settings.router,
    datasources.router,
    queries.router,
    runs.router,
    tables.router,
    history.router,
    code.router,
    items.router,
    users.router,
)
PUBLIC_ROUTERS = (tables.downloads, page.router)
