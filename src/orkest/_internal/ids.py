"""Run ids and friendly run names, made cheaply on the hot path."""

from __future__ import annotations

import os
import random

_ADJECTIVES = (
    "amber", "bold", "brisk", "calm", "clever", "crimson", "daring", "eager", "fancy",
    "gentle", "golden", "hasty", "humble", "jolly", "keen", "lively", "lucky", "merry",
    "nimble", "proud", "quick", "quiet", "rapid", "silver", "steady", "sunny", "swift",
    "tidy", "vivid", "witty",
)
_ANIMALS = (
    "badger", "beaver", "bison", "crane", "dolphin", "falcon", "ferret", "gecko", "heron",
    "ibis", "jackal", "koala", "lemur", "lynx", "marten", "newt", "ocelot", "otter", "owl",
    "panda", "puffin", "quail", "raven", "salmon", "tapir", "toucan", "walrus", "wombat",
    "yak", "zebra",
)


def new_id() -> str:
    """A random UUID4-formatted id (about three times cheaper than str(uuid.uuid4()))."""
    h = os.urandom(16).hex()
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) & 3]}{h[17:20]}-{h[20:]}"


def new_key() -> str:
    """An opaque storage key (results, cache)."""
    return os.urandom(16).hex()


def friendly_name() -> str:
    return f"{random.choice(_ADJECTIVES)}-{random.choice(_ANIMALS)}"
