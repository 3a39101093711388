"""Use cases of embed-oauth and the ports they need; no framework imports."""
