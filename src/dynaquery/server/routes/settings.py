"""The settings table (settings.SETTINGS), from which the page makes its data source form."""

from __future__ import annotations

from fastapi import APIRouter

from ...settings import SETTINGS
from ..deps import MANAGE
from ..models import SettingOut

router = APIRouter()


@router.get("/api/settings", response_model=list[SettingOut], dependencies=MANAGE)
def settings() -> list[dict]:
    """Each connection setting: its type, label, help, default, bounds, choices, whether it is
    a secret, and the auth methods whose form shows it."""
    return [setting.to_dict() for setting in SETTINGS]
