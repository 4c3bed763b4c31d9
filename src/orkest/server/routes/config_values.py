"""Variables and secrets (values never listed: only a running flow reveals one)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["config values"])
