"""What routes share, given to them as FastAPI dependencies from the application's state
(create_app puts it there): the workspace, the endpoint policy, who asks and what they may do
(the gate puts the principal in the request's state; users.py says what each role may), and
the confirmation of destructive operations."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Query, Request

from ..errors import NotFound, ReadOnlyError
from ..users import Principal
from ..workspace import DataSource, SavedQuery, Workspace
from .answers import ConfirmationRequired
from .endpoints import Endpoints

# The dependencies that do no I/O are coroutines: FastAPI runs a plain function's dependency in
# a worker thread, a hop that cost more than the work (bench: tests/load.py).


async def _workspace(request: Request) -> Workspace:
    return request.app.state.workspace


async def _endpoints(request: Request) -> Endpoints:
    return request.app.state.endpoints


WorkspaceDep = Annotated[Workspace, Depends(_workspace)]
EndpointsDep = Annotated[Endpoints, Depends(_endpoints)]
DataSourceParam = Annotated[str, Query(description="data source id or name")]


class Guard:
    """Checks a stored data source's endpoints before the server connects with it."""

    def __init__(self, workspace: WorkspaceDep, endpoints: EndpointsDep):
        self.workspace = workspace
        self.endpoints = endpoints

    def __call__(self, datasource: str) -> None:
        self.endpoints.check(self.workspace.datasource(datasource).config)


async def _guard(workspace: WorkspaceDep, endpoints: EndpointsDep) -> Guard:
    return Guard(workspace, endpoints)


GuardDep = Annotated[Guard, Depends(_guard)]


async def _principal(request: Request) -> Principal:
    return request.state.principal


PrincipalDep = Annotated[Principal, Depends(_principal)]


def needs(permission: str, what: str) -> list:
    """A route's dependency: the signed-in role allows `permission` (users.PERMISSIONS), else
    403 saying which role `what` needs."""

    async def check(principal: PrincipalDep) -> None:
        principal.require(permission, what)

    return [Depends(check)]


MANAGE = needs("manage", "managing users and data sources")
EDIT = needs("edit", "writing and running requests of one's own")


class Access:
    """The data sources and saved queries a request may use: an admin any; another user those
    granted to them, as if no other existed (a 404 names no other), reads only on a read-only
    grant. Their endpoints are checked before connecting (Guard)."""

    def __init__(self, principal: PrincipalDep, workspace: WorkspaceDep, guard: GuardDep):
        self.principal = principal
        self.workspace = workspace
        self.guard = guard

    def datasource(self, name_or_id: str) -> DataSource:
        if self.principal.grants is None:
            return self.workspace.datasource(name_or_id)
        granted = [ds for ds in self.workspace.datasources() if self.principal.may_use(ds.id)]
        for ds in sorted(granted, key=lambda ds: ds.name != name_or_id):
            if name_or_id in (ds.name, ds.id):
                return ds
        # the name given is not repeated: the answer says nothing of what is not theirs
        raise NotFound("No data source of that name or id is granted to you.")

    def connectable(self, name_or_id: str) -> DataSource:
        ds = self.datasource(name_or_id)
        self.guard.endpoints.check(ds.config)
        return ds

    def writable(self, name_or_id: str, operation: str) -> DataSource:
        """A data source to write to: refused (403) on a read-only grant."""
        ds = self.connectable(name_or_id)
        if self.principal.read_only_on(ds.id):
            raise ReadOnlyError(operation, f"your grant of the data source {ds.name!r}")
        return ds

    def overrides(self, ds: DataSource) -> dict:
        """What a run on `ds` is given: reads only on a read-only grant."""
        return {"read_only": True} if self.principal.read_only_on(ds.id) else {}

    def query(self, name_or_id: str) -> SavedQuery:
        saved = None
        if self.principal.grants is None:
            return self.workspace.query(name_or_id)
        for query in self.workspace.queries():
            if name_or_id in (query.name, query.id) and self.principal.may_use(query.datasource_id):
                saved = query if saved is None or query.name == name_or_id else saved
        if saved is None:
            raise NotFound("No saved query of that name or id is on a data source granted to you.")
        return saved

    def visible(self, items: list, datasource_id=lambda item: item.datasource_id) -> list:
        return [i for i in items if self.principal.may_use(datasource_id(i))]


async def _access(request: Request) -> Access:
    # built from the request at once: each dependency FastAPI resolves costs (tests/load.py)
    state = request.app.state
    guard = Guard(state.workspace, state.endpoints)
    return Access(request.state.principal, state.workspace, guard)


AccessDep = Annotated[Access, Depends(_access)]


def confirm_destructive(request: Any) -> None:
    """The workspace asks before a destructive call (catalog.Operation.is_destructive): the
    answer is 428 unless the request said `"confirm": true`."""
    raise ConfirmationRequired(
        request.operation.name, request.operation.confirmation(request.params)
    )


def confirmation(confirmed: bool):
    """What the workspace's `confirm` gets: nothing to ask when the request confirmed."""
    return None if confirmed else confirm_destructive
