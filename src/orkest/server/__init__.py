"""The orkest API server (layer 7): `create_app()` builds the FastAPI app that
`orkest server start` runs under uvicorn. Importing this package imports FastAPI."""

from orkest.server.app import create_app

__all__ = ["create_app"]
