"""The bundled demo flow that `orkest demo` runs (see etl.py)."""
