"""Work pools, workers (heartbeats, claims) and concurrency limits."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["work pools"])
