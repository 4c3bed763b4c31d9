"""Flows the scheduler tests deploy (module level, so they have an entrypoint)."""

import orkest


@orkest.flow
def report(day: str = "today", copies: int = 1) -> str:
    return f"{day}:{copies}"


@orkest.flow(retries=2)
def needs_region(region: str) -> str:
    return region
