"""The service's version: the installed package's metadata, declared once in pyproject.toml."""

from importlib.metadata import version

VERSION = version("embed-oauth")
