"""TOML -> frozen, validated spec dataclasses (no simpy; no pandas at import).

``scenario`` loads files and shipped names and applies overrides; ``schema`` validates every
section into the types of ``types``, ``limits`` and ``money``; ``readers`` checks single keys;
``distributions``, ``profiles`` and ``units`` read the value types the format is made of.
"""
