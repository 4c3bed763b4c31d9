"""Automations: when runs end badly or run too long, send a notification block."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["automations"])
