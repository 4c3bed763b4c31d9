"""Migration scripts, one per revision; HEAD_REVISION in ../../migrate.py names the last."""
