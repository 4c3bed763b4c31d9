"""Encryption at rest of secrets and of blocks' secret fields: AES-256-GCM.

The key is 32 random bytes, written urlsafe-base64. It comes from ORKEST_SECRET_KEY, or
from the file ORKEST_HOME/secret.key, created with mode 0600 on first use. Every value is
stored as nonce (12 bytes) + ciphertext + tag, with the secret's name as associated data:
a ciphertext copied under another name does not decrypt. A value also records the key's id
(the first 16 hex digits of its SHA-256), so a wrong key is named as such before any
decryption is tried, and nothing is ever overwritten with a value that cannot be read back.

Rotation (`orkest secret rotate-key`) re-encrypts everything in one transaction; the new
key is first written beside the old one (secret.key.new) and renamed over it only after
the commit, so an interruption leaves one of the two keys able to read every value.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import secrets as _random
from dataclasses import dataclass
from pathlib import Path

from orkest import settings
from orkest.errors import ConfigurationError, SecretKeyError

KEY_ENV = "ORKEST_SECRET_KEY"
KEY_FILE = "secret.key"
NEW_KEY_FILE = "secret.key.new"
_NONCE_BYTES = 12


@dataclass(frozen=True)
class SecretKey:
    raw: bytes
    source: str  # where it came from, for messages: "ORKEST_SECRET_KEY" or the file path

    @property
    def id(self) -> str:
        return key_id(self.raw)

    def encrypt(self, plaintext: str, name: str) -> bytes:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        nonce = os.urandom(_NONCE_BYTES)
        return nonce + AESGCM(self.raw).encrypt(nonce, plaintext.encode(), name.encode())

    def decrypt(self, blob: bytes, name: str, stored_key_id: str) -> str:
        """The plaintext; SecretKeyError naming both keys when `blob` was written with
        another key, or when it does not authenticate (tampered, or swapped names)."""
        if stored_key_id != self.id:
            raise SecretKeyError(
                f"Secret value {name!r} was encrypted with key {stored_key_id}, but the key "
                f"in use ({self.source}) is {self.id}: set {KEY_ENV} to the key it was "
                "written with. Nothing was decrypted or changed.")
        from cryptography.exceptions import InvalidTag
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        try:
            plain = AESGCM(self.raw).decrypt(blob[:_NONCE_BYTES], blob[_NONCE_BYTES:],
                                             name.encode())
        except (InvalidTag, ValueError):
            raise SecretKeyError(
                f"Secret value {name!r} does not authenticate with key {self.id}: it was "
                "changed outside orkest or belongs to another name. Nothing was "
                "decrypted.") from None
        return plain.decode()


def key_id(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()[:16]


def new_key() -> bytes:
    return _random.token_bytes(32)


def encode_key(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode("ascii")


def decode_key(text: str, source: str) -> bytes:
    try:
        raw = base64.urlsafe_b64decode(text.strip().encode("ascii"))
    except (binascii.Error, ValueError, UnicodeEncodeError):
        raw = b""
    if len(raw) != 32:
        raise SecretKeyError(f"The secret key in {source} is not valid: it must be 32 bytes, "
                             "urlsafe-base64 encoded (44 characters), as `orkest secret "
                             "rotate-key` writes it.")
    return raw


def current_key(*, create: bool = True, home: Path | None = None) -> SecretKey:
    """The key in force: ORKEST_SECRET_KEY, else ORKEST_HOME/secret.key (made if missing and
    `create`, mode 0600)."""
    text = os.environ.get(KEY_ENV)
    if text:
        return SecretKey(decode_key(text, KEY_ENV), KEY_ENV)
    path = key_path(home)
    if not path.exists():
        if not create:
            raise SecretKeyError(f"No secret key: set {KEY_ENV} or create {path} (it is made "
                                 "on the first `orkest secret set`).")
        write_key_file(path, new_key())
    mode = path.stat().st_mode & 0o777
    if mode & 0o077:
        raise SecretKeyError(f"{path} is readable by others (mode {mode:o}): run "
                             f"`chmod 600 {path}`; the key must be private to its owner.")
    return SecretKey(decode_key(path.read_text(), str(path)), str(path))


def key_path(home: Path | None = None) -> Path:
    return (home or settings.current().home) / KEY_FILE


def write_key_file(path: Path, raw: bytes) -> None:
    """Create `path` with mode 0600 holding the key (never world-readable, not even briefly)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, (encode_key(raw) + "\n").encode("ascii"))
    finally:
        os.close(fd)


def stage_new_key(home: Path | None = None) -> tuple[SecretKey, Path]:
    """A new key written to secret.key.new (replacing an unfinished earlier attempt)."""
    if os.environ.get(KEY_ENV):
        raise ConfigurationError(
            f"The key comes from {KEY_ENV}: rotate it by re-encrypting with `orkest secret "
            f"rotate-key --new-key NEW` and then setting {KEY_ENV}=NEW where orkest runs.")
    path = key_path(home).with_name(NEW_KEY_FILE)
    if path.exists():
        path.unlink()
    raw = new_key()
    write_key_file(path, raw)
    return SecretKey(raw, str(path)), path


def promote_new_key(staged: Path) -> None:
    """After the re-encryption committed: the staged key becomes the key file (another
    process that saw the commit may have promoted it already)."""
    try:
        staged.replace(staged.with_name(KEY_FILE))
    except FileNotFoundError:
        pass
