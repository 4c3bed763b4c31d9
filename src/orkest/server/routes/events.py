"""Events: POST /api/events, the webhook trigger, and the events list."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["events"])
