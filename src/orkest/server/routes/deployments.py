"""Deployments: register, list, inspect, pause, run (POST /api/deployments/{id}/runs)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["deployments"])
