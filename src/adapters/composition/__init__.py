"""The composition root's parts, one concern a module; ``adapters.bootstrap`` assembles them."""
