"""The `orkest` command line: one module per verb group, wired together in `main.py`.

Nothing in the package imports this one. Verb modules import only click at module level,
so `orkest --help` stays fast; rich, the store and the engine load inside the commands.
"""
