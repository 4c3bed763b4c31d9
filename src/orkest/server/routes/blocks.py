"""Blocks: typed configuration documents; secret fields are shown as ***."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["blocks"])
