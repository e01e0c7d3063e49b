"""Generators: turn the API description (bindings/api) into checked-in modules."""
