"""One router per resource; `orkest.server.app` mounts them under /api."""
