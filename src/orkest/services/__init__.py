"""Services that act on stored runs: each is a `tick(now)`-style function plus a thin loop."""
