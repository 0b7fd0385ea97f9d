"""The operations catalog: every operation of the service model, with its parameters and an
example."""

from __future__ import annotations

from fastapi import APIRouter

from ...catalog import catalog
from ..models import OperationDetail, OperationOut

router = APIRouter()


@router.get("/api/operations", response_model=list[OperationOut])
def operations() -> list[dict]:
    return [op.to_dict() for op in catalog()]


@router.get("/api/operations/{name}", response_model=OperationDetail)
def operation(name: str) -> dict:
    return catalog().get(name).to_dict(detail=True)
