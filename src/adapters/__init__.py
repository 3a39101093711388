"""Adapters: HTTP, storage, crypto, the CLI, and the composition root that wires them."""
