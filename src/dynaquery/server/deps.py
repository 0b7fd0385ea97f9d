"""What routes share, given to them as FastAPI dependencies from the application's state
(create_app puts it there): the workspace, the endpoint policy, and the confirmation of
destructive operations."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Query, Request

from ..workspace import Workspace
from .answers import ConfirmationRequired
from .endpoints import Endpoints


def _workspace(request: Request) -> Workspace:
    return request.app.state.workspace


def _endpoints(request: Request) -> Endpoints:
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


GuardDep = Annotated[Guard, Depends()]


def confirm_destructive(request: Any) -> None:
    """The workspace asks before a destructive call (catalog.Operation.is_destructive): the
    answer is 428 unless the request said `"confirm": true`."""
    raise ConfirmationRequired(
        request.operation.name, request.operation.confirmation(request.params)
    )


def confirmation(confirmed: bool):
    """What the workspace's `confirm` gets: nothing to ask when the request confirmed."""
    return None if confirmed else confirm_destructive
