"""Cryptography adapters: keys, secrets at rest, sealed states."""
